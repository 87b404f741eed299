// Daemon::service_rows(): the services model `xlbctl list`, `xlbctl dump` and the status views
// show, one row per real as ipvsadm -Ln lists them. Each real is matched with its live weight,
// its counters and its health through an index per service rather than a search of the
// service's reals (which was quadratic in the reals of a service).
#include <functional>
#include <string_view>
#include <unordered_map>

#include "ctrl/check/health_monitor.hpp"
#include "ctrl/daemon/daemon.hpp"
#include "ctrl/daemon/dataplane_stack.hpp"
#include "ctrl/daemon/flow_census.hpp"
#include "ctrl/daemon/live_state.hpp"

namespace xlb::daemon {

namespace {

const char* forward_name(dataplane::Forwarding f) {
  switch (f) {
    case dataplane::Forwarding::nat: return "Masq";
    case dataplane::Forwarding::tun: return "Tunnel";
    case dataplane::Forwarding::local: return "Local";
    case dataplane::Forwarding::dr: break;
  }
  return "Route";
}

const char* scheduler_name(dataplane::Scheduler s) {
  switch (s) {
    case dataplane::Scheduler::rr: return "rr";
    case dataplane::Scheduler::wrr: return "wrr";
    case dataplane::Scheduler::sh: return "sh";
    case dataplane::Scheduler::mh: return "mh";
    case dataplane::Scheduler::lc: return "lc";
    case dataplane::Scheduler::wlc: return "wlc";
  }
  return "?";
}

api::TrafficFigures figures(const dataplane::TrafficCounters& c) { return {c.new_flows, c.packets, c.bytes}; }

struct RealRefHash {
  std::size_t operator()(const RealRef& r) const {
    std::size_t h;
    if (r.address.is_v4()) {
      h = std::hash<std::uint32_t>()(r.address.to_v4().to_uint());
    } else {
      const auto bytes = r.address.to_v6().to_bytes();
      h = std::hash<std::string_view>()(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    }
    return h ^ (std::size_t{r.port} * 0x9e3779b97f4a7c15ULL);
  }
};
template <class T>
using RealIndex = std::unordered_map<RealRef, T, RealRefHash>;

}  // namespace

nlohmann::json Daemon::services(bool fresh_census) const { return api::to_json(service_rows(fresh_census)); }

std::vector<api::ServiceRow> Daemon::service_rows(bool fresh_census) const {
  std::map<dataplane::ServiceKey, dataplane::ServiceStats> stats;
  for (auto& s : dataplane_->stats()) stats[s.key] = std::move(s);
  const auto& census = fresh_census ? census_->fresh(std::chrono::seconds(1)) : census_->latest();
  const auto& active = census.active;
  const auto& established = census.established;
  std::map<dataplane::ServiceKey, check::ServiceHealth> health;
  for (auto& h : health_->snapshot()) health[h.key] = std::move(h);

  std::vector<api::ServiceRow> out;
  out.reserve(plan_.size());
  for (const auto& planned : plan_) {
    const auto& key = planned.spec.key;
    const auto applied_it = live_->applied().find(key);
    const auto& spec = applied_it != live_->applied().end() ? applied_it->second : planned.spec;
    api::ServiceRow svc;
    svc.protocol = key.protocol == dataplane::Protocol::udp ? "UDP" : "TCP";
    svc.address = key.address.to_string();
    svc.port = key.port;
    svc.fwmark = key.fwmark;
    svc.scheduler = scheduler_name(spec.scheduler);
    svc.persistence = spec.persistence_timeout;
    svc.persistence_prefix = spec.persistence_prefix_len;
    svc.active = spec.active;
    svc.backend = config::to_string(planned.backend);
    const auto st = stats.find(key);
    if (st != stats.end()) svc.stats = figures(st->second.counters);

    // The live weights, the dataplane's counters and the checkers' verdicts of this service's
    // reals; the last entry for a real wins, as the searches it replaces found it.
    RealIndex<std::uint32_t> weights;
    for (const auto& live : spec.reals) weights.insert_or_assign(RealRef{live.address, live.port}, live.weight);
    RealIndex<const dataplane::RealStats*> counters;
    if (st != stats.end()) {
      for (const auto& rs : st->second.reals) counters.insert_or_assign(RealRef{rs.real.address, rs.real.port}, &rs);
    }
    RealIndex<bool> up;
    const auto h = health.find(key);
    if (h != health.end()) {
      for (const auto& rh : h->second.reals) up.insert_or_assign(RealRef{rh.address, rh.port}, rh.up);
    }

    // One row per real, as ipvsadm -Ln lists it: the configured reals, then those a reload
    // removed that still drain their flows.
    auto real_row = [&](const dataplane::RealServer& real, std::uint32_t configured_weight, std::string state) {
      const RealRef ref{real.address, real.port};
      api::RealRow row;
      row.address = real.address.to_string();
      row.port = real.port;
      const auto w = weights.find(ref);
      row.weight = w != weights.end() ? w->second : 0;
      dataplane::Forwarding forwarding = real.forwarding;  // the backend's word wins: it knows "Local"
      if (const auto c = counters.find(ref); c != counters.end()) {
        row.stats = figures(c->second->counters);
        forwarding = c->second->real.forwarding;
      }
      row.forward = forward_name(forwarding);
      row.configured_weight = configured_weight;
      row.health = std::move(state);
      // ipvsadm's columns: established connections, and the other entries (handshake, closed,
      // UDP), both among the flows with a packet in the census' window.
      const auto count = [&](const auto& map) {
        const auto it = map.find({key, real.address});
        return it != map.end() ? it->second : std::uint64_t{0};
      };
      const std::uint64_t recent = count(active), open = count(established);
      row.active_conns = open;
      row.inactive_conns = recent - open;
      return row;
    };
    svc.reals.reserve(planned.spec.reals.size() + (planned.spec.sorry_server ? 1 : 0));
    for (const auto& configured : planned.spec.reals) {
      const RealRef ref{configured.address, configured.port};
      const auto u = up.find(ref);
      std::string state = u == up.end() || u->second ? "up" : "down";
      const auto override_it = live_->overrides().find(ref);
      if (override_it != live_->overrides().end()) state += override_it->second == 0 ? ",drained" : ",weight-set";
      svc.reals.push_back(real_row(configured, configured.weight, std::move(state)));
    }
    if (const auto retired = live_->retired().find(key); retired != live_->retired().end()) {
      for (const auto& [ref, real] : retired->second) svc.reals.push_back(real_row(real, 0, "removed,draining"));
    }
    if (const auto& sorry = planned.spec.sorry_server) {
      // keepalived swaps the sorry server in as a destination when the quorum is lost, and
      // ipvsadm -Ln lists it then ("Local" for an address of the node); this row is always
      // there, with weight 1 while it serves (the live spec carries it only then).
      const bool serving = spec.sorry_server.has_value();
      if (serving) svc.sorry_server = RealRef{sorry->address, sorry->port}.text();
      auto row = real_row(*sorry, 1, serving ? "sorry,serving" : "sorry,standby");
      row.weight = serving ? 1 : 0;
      svc.reals.push_back(std::move(row));
    }
    out.push_back(std::move(svc));
  }
  return out;
}

}  // namespace xlb::daemon
