#include "ctrl/daemon/dataplane_stack.hpp"

#include <net/if.h>

#include <set>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "ctrl/dataplane/ipvs/choose_backend.hpp"
#include "ctrl/dataplane/ipvs/ipvs_backend.hpp"
#include "ctrl/dataplane/map_codec.hpp"
#include "ctrl/dataplane/neighbour_resolver.hpp"
#include "ctrl/dataplane/xdp_backend.hpp"

namespace xlb::daemon {

namespace dp = xlb::dataplane;

namespace {

dp::BackendRequest request_of(const PlannedService& p, const config::Config& config) {
  const auto chosen = p.source->lb_backend->value_or(*config.global_defs.lb_backend);
  switch (chosen) {
    case config::LbBackend::xdp: return dp::BackendRequest::xdp;
    case config::LbBackend::ipvs: return dp::BackendRequest::ipvs;
    case config::LbBackend::auto_select: break;
  }
  return dp::BackendRequest::automatic;
}

// XDP cannot serve it whatever happens: NAT or GRE/remcsum TUN forwarding, netfilter marks, lc/wlc.
bool needs_ipvs(const PlannedService& p) {
  return !config::xdp_supports_forwarding(p.source->lb_kind.value, p.source->tunnel.value) || p.spec.key.fwmark != 0 ||
         !config::xdp_supports_algo(*p.source->lb_algo);
}

}  // namespace

struct DataplaneStack::Impl {
  boost::asio::io_context& io;
  const config::Config* config;
  DataplaneOptions options;
  std::unique_ptr<dp::XdpBackend> xdp;
  std::string xdp_error;  // why XDP could not be had, when it could not
  std::unique_ptr<dp::IpvsBackend> ipvs;
  std::map<dp::ServiceKey, dp::Backend*> route;
  std::vector<std::string> interfaces;

  dp::XdpBackend* ensure_xdp() {
    if (xdp || !xdp_error.empty()) return xdp.get();
    try {
      dp::XdpBackendOptions o;
      o.program.pin_dir = options.pin_dir;
      o.program.tcp_timeout = *config->global_defs.tcp_flow_timeout;
      o.program.udp_timeout = *config->global_defs.udp_flow_timeout;
      const auto& g = config->global_defs;
      o.program.sizes.max_flows = *g.xdp_max_flows;
      o.program.sizes.max_vips = *g.xdp_max_services;
      o.program.sizes.max_reals = *g.xdp_max_reals;
      o.program.sizes.max_persist = *g.xdp_max_persist;
      o.program.sizes.ring_size = *g.xdp_ring_size;
      o.program.flow_lru = *g.xdp_flow_lru == config::FlowLru::per_cpu ? dp::FlowLru::per_cpu : dp::FlowLru::shared;
      interfaces = options.interfaces.empty() ? derive_interfaces(*config) : options.interfaces;
      if (interfaces.empty()) throw std::runtime_error("no interface to attach to (use --interface)");
      o.interfaces = interfaces;
      o.attach.detach_on_destroy = options.detach_on_exit;
      xdp = std::make_unique<dp::XdpBackend>(io, o);
    } catch (const std::exception& e) {
      xdp_error = e.what();
    }
    return xdp.get();
  }

  dp::IpvsBackend* ensure_ipvs() {
    if (!ipvs && dp::ipvs_available()) ipvs = std::make_unique<dp::IpvsBackend>();
    return ipvs.get();
  }

  dp::Backend* choose(const PlannedService& p) {
    const auto request = request_of(p, *config);
    const bool nat_or_tun = needs_ipvs(p);
    const bool xdp_ok = !nat_or_tun && request != dp::BackendRequest::ipvs && ensure_xdp() != nullptr;
    const bool ipvs_ok = (nat_or_tun || request != dp::BackendRequest::xdp) && ensure_ipvs() != nullptr;
    const auto choice = dp::choose_backend(request, nat_or_tun, xdp_ok, ipvs_ok);
    const std::string name = daemon::describe(p.spec.key);
    if (!choice.backend) {
      // The cause first: "interface eth7: No such device", then what it means for the service.
      throw std::runtime_error(xdp_error.empty() ? name + ": " + choice.reason
                                                 : xdp_error + "; so " + name + ": " + choice.reason);
    }
    if (*choice.backend == dp::BackendKind::xdp) return xdp.get();
    spdlog::info("{}: IPVS backend ({})", name, choice.reason);
    return ipvs.get();
  }

  dp::Backend& backend_for(const dp::ServiceKey& key) {
    const auto it = route.find(key);
    if (it == route.end()) throw std::logic_error("no backend planned for " + daemon::describe(key));
    return *it->second;
  }

  std::vector<dp::Backend*> backends() const {
    std::vector<dp::Backend*> out;
    if (xdp) out.push_back(xdp.get());
    if (ipvs) out.push_back(ipvs.get());
    return out;
  }
};

DataplaneStack::DataplaneStack(boost::asio::io_context& io, const config::Config& config,
                               const std::vector<PlannedService>& plan, DataplaneOptions options)
    : impl_(std::make_unique<Impl>(Impl{io, &config, std::move(options), {}, {}, {}, {}, {}})) {
  try {
    this->plan(plan);
  } catch (...) {
    undo_start();
    throw;
  }
  if (impl_->xdp) {
    spdlog::info("XDP balancer attached to {} (maps pinned under {}{})", fmt::join(impl_->interfaces, ", "),
                 impl_->options.pin_dir, impl_->xdp->program().reused_pins() ? ", adopted from the previous run" : "");
  }
}

DataplaneStack::~DataplaneStack() = default;

void DataplaneStack::plan(const std::vector<PlannedService>& plan) {
  std::map<dp::ServiceKey, dp::Backend*> route;
  for (const auto& p : plan) {
    const auto existing = impl_->route.find(p.spec.key);
    route[p.spec.key] = existing != impl_->route.end() ? existing->second : impl_->choose(p);
  }
  // Services of the old plan that are gone keep their route until remove() is called.
  for (const auto& [key, backend] : impl_->route) route.emplace(key, backend);
  impl_->route = std::move(route);
}

std::string DataplaneStack::name() const {
  std::string out;
  for (auto* b : impl_->backends()) {
    if (!out.empty()) out += '+';
    out += b->name();
  }
  return out.empty() ? "none" : out;
}

void DataplaneStack::apply(const dp::ServiceSpec& spec) { impl_->backend_for(spec.key).apply(spec); }

void DataplaneStack::remove(const dp::ServiceKey& key) {
  impl_->backend_for(key).remove(key);
  impl_->route.erase(key);
}

void DataplaneStack::flush_flows_to(const dp::ServiceKey& key, const dp::IpAddress& real) {
  impl_->backend_for(key).flush_flows_to(key, real);
}

std::vector<dp::ServiceStats> DataplaneStack::stats() {
  std::vector<dp::ServiceStats> out;
  for (auto* b : impl_->backends()) {
    auto part = b->stats();
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

std::vector<dp::Flow> DataplaneStack::flows() {
  std::vector<dp::Flow> out;
  for (auto* b : impl_->backends()) {
    auto part = b->flows();
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

dp::FlowCounts DataplaneStack::count_flows(std::chrono::nanoseconds active_window) {
  dp::FlowCounts out;
  for (auto* b : impl_->backends()) {
    auto part = b->count_flows(active_window);
    out.flows += part.flows;
    for (const auto& [pair, n] : part.active) out.active[pair] += n;
    for (const auto& [pair, n] : part.established) out.established[pair] += n;
  }
  return out;
}

DataplaneStack::Traffic DataplaneStack::traffic() {
  Traffic out;
  if (impl_->xdp) {
    auto xdp = impl_->xdp->traffic();
    out.services = std::move(xdp.services);
    for (int i = 0; i < XLB_CTR_MAX; ++i) out.counters.emplace_back(dp::counter_name(i), xdp.counters[i]);
  }
  if (impl_->ipvs) {
    auto part = impl_->ipvs->stats();
    out.services.insert(out.services.end(), part.begin(), part.end());
  }
  return out;
}

nlohmann::json DataplaneStack::describe() const {
  nlohmann::json out{{"backends", name()}, {"pin_dir", impl_->options.pin_dir}, {"interfaces", impl_->interfaces}};
  if (!impl_->xdp_error.empty()) out["xdp_unavailable"] = impl_->xdp_error;
  if (impl_->xdp) {
    const auto s = impl_->xdp->program().read_settings();
    out["tables"] = {{"max_flows", s.max_flows}, {"max_vips", s.max_vips}, {"max_reals", s.max_reals},
                     {"ring_size", s.ring_size}, {"abi_version", s.abi_version}};
    nlohmann::json attached = nlohmann::json::array();
    for (const auto& a : impl_->xdp->attachments()) {
      char name[IF_NAMESIZE] = {};
      attached.push_back({{"ifindex", a->ifindex()},
                          {"interface", if_indextoname(a->ifindex(), name) ? name : "?"},
                          {"mode", a->mode() == dp::XdpMode::native ? "native" : "generic"}});
    }
    out["attached"] = attached;
  }
  return out;
}

void DataplaneStack::set_detach_on_exit(bool detach) {
  if (impl_->xdp) impl_->xdp->set_detach_on_exit(detach);
}

void DataplaneStack::undo_start() {
  if (impl_->xdp && !impl_->xdp->program().reused_pins()) impl_->xdp->set_detach_on_exit(true);
}

void DataplaneStack::retire_orphans() {
  if (impl_->xdp) impl_->xdp->retire_orphans();
}

dp::XdpBackend* DataplaneStack::xdp() { return impl_->xdp.get(); }

std::vector<std::string> derive_interfaces(const config::Config& config) {
  // The configuration names the VIPs' interfaces; what it leaves open is where the reals are.
  const auto named = config::xdp_interfaces(config);
  std::set<std::string> out(named.names.begin(), named.names.end());
  if (named.unresolved.empty()) return named.names;
  boost::asio::io_context io;  // route lookups are synchronous
  dp::NeighbourResolver routes(io);
  for (const auto* vs : named.unresolved) {
    for (const auto& real : vs->real_servers) {
      try {
        out.insert(routes.egress(to_asio(real.address)).ifname);
      } catch (const std::exception& e) {
        spdlog::warn("{}: real server {}: {}", to_string(vs->loc), real.address.to_string(), e.what());
      }
    }
  }
  return {out.begin(), out.end()};
}

}  // namespace xlb::daemon
