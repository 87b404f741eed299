#include "ctrl/config/model.hpp"

#include <algorithm>

namespace xlb::config {

bool xdp_supports_algo(const std::string& algo) {
  return algo == "rr" || algo == "wrr" || algo == "sh" || algo == "mh";
}

LbBackend effective_backend(const VirtualServer& vs, const GlobalDefs& g) {
  const LbBackend chosen = vs.lb_backend.value.value_or(g.lb_backend.value);
  if (chosen != LbBackend::auto_select) return chosen;
  // The XDP program forwards DR with its own schedulers and cannot see netfilter marks.
  const bool xdp_can = vs.lb_kind.value == LbKind::dr && xdp_supports_algo(vs.lb_algo.value) &&
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
