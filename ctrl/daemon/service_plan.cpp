#include "ctrl/daemon/service_plan.hpp"

#include <stdexcept>

namespace xlb::daemon {

namespace asio_ip = boost::asio::ip;

dataplane::IpAddress to_asio(const config::IpAddr& address) {
  if (address.is_v4()) {
    asio_ip::address_v4::bytes_type bytes;
    std::copy_n(address.bytes.begin(), 4, bytes.begin());
    return asio_ip::address_v4(bytes);
  }
  asio_ip::address_v6::bytes_type bytes;
  std::copy_n(address.bytes.begin(), 16, bytes.begin());
  return asio_ip::address_v6(bytes);
}

config::IpAddr from_asio(const dataplane::IpAddress& address) {
  config::IpAddr out;
  if (address.is_v4()) {
    auto bytes = address.to_v4().to_bytes();
    std::copy(bytes.begin(), bytes.end(), out.bytes.begin());
  } else {
    out.family = config::IpAddr::Family::v6;
    auto bytes = address.to_v6().to_bytes();
    std::copy(bytes.begin(), bytes.end(), out.bytes.begin());
  }
  return out;
}

namespace {

dataplane::Scheduler scheduler_from(const std::string& algo) {
  using dataplane::Scheduler;
  if (algo == "rr") return Scheduler::rr;
  if (algo == "wrr") return Scheduler::wrr;
  if (algo == "sh") return Scheduler::sh;
  if (algo == "mh") return Scheduler::mh;
  if (algo == "lc") return Scheduler::lc;
  if (algo == "wlc") return Scheduler::wlc;
  throw std::invalid_argument("lb_algo " + algo + " has no dataplane scheduler");
}

dataplane::Forwarding forwarding_from(config::LbKind kind) {
  switch (kind) {
    case config::LbKind::nat: return dataplane::Forwarding::nat;
    case config::LbKind::tun: return dataplane::Forwarding::tun;
    case config::LbKind::dr: break;
  }
  return dataplane::Forwarding::dr;
}

// Addresses from first to last inclusive, counting up in the last bytes (group ranges).
std::vector<config::IpAddr> expand_range(const config::IpAddr& first, const config::IpAddr& last) {
  std::vector<config::IpAddr> out;
  config::IpAddr current = first;
  const std::size_t width = first.is_v4() ? 4 : 16;
  while (out.size() < 65536) {
    out.push_back(current);
    if (!(current < last)) break;
    for (std::size_t i = width; i-- > 0;) {
      if (++current.bytes[i] != 0) break;
    }
  }
  return out;
}

dataplane::ServiceSpec base_spec(const config::VirtualServer& vs) {
  dataplane::ServiceSpec spec;
  spec.key.protocol = *vs.protocol == config::Protocol::udp ? dataplane::Protocol::udp
                                                            : dataplane::Protocol::tcp;
  spec.scheduler = scheduler_from(*vs.lb_algo);
  spec.persistence_timeout = *vs.persistence_timeout;
  spec.persistence_prefix_len = *vs.persistence_granularity;
  const auto forwarding = forwarding_from(*vs.lb_kind);
  spec.tunnel.type = static_cast<dataplane::TunnelSpec::Type>(vs.tunnel->type);
  spec.tunnel.port = vs.tunnel->port;
  spec.tunnel.checksum = static_cast<dataplane::TunnelSpec::Checksum>(vs.tunnel->checksum);
  for (const auto& t : vs.tunnel_source) spec.tunnel.sources.push_back({to_asio(t->address), t->prefix});
  if (vs.sorry_server->has_value()) {
    const auto& sorry = **vs.sorry_server;
    spec.sorry_server = dataplane::RealServer{to_asio(sorry.address), sorry.port, 1, forwarding};
  }
  for (const auto& rs : vs.real_servers) {
    spec.reals.push_back(dataplane::RealServer{to_asio(rs.address), rs.port, *rs.weight, forwarding});
  }
  return spec;
}

}  // namespace

std::vector<PlannedService> plan_services(const config::Config& config) {
  std::vector<PlannedService> out;
  for (const auto& vs : config.virtual_servers) {
    const auto backend = config::effective_backend(vs, config.global_defs);
    const auto base = base_spec(vs);
    auto add = [&](const dataplane::ServiceKey& key) {
      PlannedService planned{base, &vs, backend};
      planned.spec.key.address = key.address;
      planned.spec.key.port = key.port;
      planned.spec.key.fwmark = key.fwmark;
      out.push_back(std::move(planned));
    };
    dataplane::ServiceKey key;
    switch (vs.kind) {
      case config::VirtualServer::Kind::address:
        key.address = to_asio(vs.address);
        key.port = vs.port;
        add(key);
        break;
      case config::VirtualServer::Kind::fwmark:
        key.fwmark = vs.fwmark;
        add(key);
        break;
      case config::VirtualServer::Kind::group:
        for (const auto& group : config.virtual_server_groups) {
          if (*group.name != vs.group) continue;
          for (const auto& entry : group.entries) {
            if (entry.kind == config::VsGroupEntry::Kind::fwmark) {
              key = {};
              key.fwmark = entry.fwmark;
              add(key);
              continue;
            }
            for (const auto& address : expand_range(entry.first, entry.last)) {
              key = {};
              key.address = to_asio(address);
              key.port = entry.port;
              add(key);
            }
          }
        }
        break;
    }
  }
  return out;
}

const config::VrrpInstance* owning_instance(const config::Config& config,
                                            const dataplane::IpAddress& vip) {
  const auto wanted = from_asio(vip);
  for (const auto& instance : config.vrrp_instances) {
    for (const auto& address : instance.virtual_ipaddress) {
      if (address.address == wanted) return &instance;
    }
  }
  return nullptr;
}

std::string describe(const dataplane::ServiceKey& key) {
  if (key.fwmark != 0) return "FWM " + std::to_string(key.fwmark);
  const std::string proto = key.protocol == dataplane::Protocol::udp ? "UDP" : "TCP";
  const std::string addr = key.address.is_v6() ? "[" + key.address.to_string() + "]"
                                               : key.address.to_string();
  return proto + " " + addr + ":" + std::to_string(key.port);
}

}  // namespace xlb::daemon
