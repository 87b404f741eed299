#include "ctrl/config/model.hpp"

#include <algorithm>

namespace xlb::config {

bool xdp_supports_algo(const std::string& algo) {
  return algo == "rr" || algo == "wrr" || algo == "sh" || algo == "mh";
}

bool xdp_supports_forwarding(LbKind kind, const Tunnel& tunnel) {
  if (kind == LbKind::dr) return true;
  return kind == LbKind::tun && tunnel.type != TunnelType::gre && tunnel.checksum != TunnelChecksum::remcsum;
}

std::string to_string(const Tunnel& t) {
  switch (t.type) {
    case TunnelType::ipip: return "ipip";
    case TunnelType::gre: return std::string("gre") + (t.checksum == TunnelChecksum::csum ? " csum" : "");
    case TunnelType::gue: break;
  }
  const char* sum[] = {"", " csum", " remcsum"};
  return "gue port " + std::to_string(t.port) + sum[static_cast<int>(t.checksum)];
}

LbBackend effective_backend(const VirtualServer& vs, const GlobalDefs& g) {
  const LbBackend chosen = vs.lb_backend.value.value_or(g.lb_backend.value);
  if (chosen != LbBackend::auto_select) return chosen;
  // The XDP program forwards DR and TUN (IPIP, GUE) with its own schedulers and cannot see
  // netfilter marks.
  const bool xdp_can = xdp_supports_forwarding(vs.lb_kind.value, vs.tunnel.value) &&
                       xdp_supports_algo(vs.lb_algo.value) &&
                       vs.kind != VirtualServer::Kind::fwmark;
  return xdp_can ? LbBackend::xdp : LbBackend::ipvs;
}

std::string to_string(LbKind k) {
  switch (k) {
    case LbKind::nat: return "NAT";
    case LbKind::dr: return "DR";
    case LbKind::tun: return "TUN";
  }
  return "?";
}

std::string to_string(LbBackend b) {
  switch (b) {
    case LbBackend::auto_select: return "auto";
    case LbBackend::xdp: return "xdp";
    case LbBackend::ipvs: return "ipvs";
  }
  return "?";
}

XdpInterfaces xdp_interfaces(const Config& cfg) {
  XdpInterfaces out;
  for (const auto& vs : cfg.virtual_servers) {
    if (effective_backend(vs, cfg.global_defs) != LbBackend::xdp) continue;
    std::string name;
    if (vs.kind == VirtualServer::Kind::address) {
      for (const auto& in : cfg.vrrp_instances)
        for (const auto& vip : in.virtual_ipaddress)
          if (name.empty() && vip.address == vs.address) name = vip.dev.empty() ? in.interface.value : vip.dev;
    }
    if (name.empty()) out.unresolved.push_back(&vs);
    else out.names.push_back(name);
  }
  std::sort(out.names.begin(), out.names.end());
  out.names.erase(std::unique(out.names.begin(), out.names.end()), out.names.end());
  return out;
}

}  // namespace xlb::config
