#include "ctrl/config/model.hpp"

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

}  // namespace xlb::config
