#include "ctrl/dataplane/ipvs/choose_backend.hpp"

#include <linux/ip_vs.h>

#include "ctrl/dataplane/ipvs/genl_socket.hpp"

namespace xlb::dataplane {

namespace {

constexpr std::string_view kNoIpvs =
    "IPVS is not available in this kernel (generic netlink family IPVS does not resolve; "
    "load ip_vs)";

BackendChoice none(std::string reason) { return {std::nullopt, std::move(reason)}; }

}  // namespace

BackendChoice choose_backend(BackendRequest requested, bool needs_ipvs, bool xdp_attach_ok,
                             bool ipvs_available) {
  switch (requested) {
    case BackendRequest::xdp:
      if (needs_ipvs)
        return none("lb_backend xdp: the XDP dataplane forwards DR and TUN (ipip, gue); lb_kind NAT and "
                    "TUN type gre or remcsum need lb_backend ipvs or auto");
      if (!xdp_attach_ok) return none("lb_backend xdp: the XDP program cannot attach");
      return {BackendKind::xdp, "lb_backend xdp"};
    case BackendRequest::ipvs:
      if (!ipvs_available) return none("lb_backend ipvs: " + std::string(kNoIpvs));
      return {BackendKind::ipvs, "lb_backend ipvs"};
    case BackendRequest::automatic:
      if (needs_ipvs) {
        if (ipvs_available)
          return {BackendKind::ipvs, "lb_backend auto: lb_kind NAT or TUN type gre or remcsum is not done by XDP, using IPVS"};
        return none("lb_backend auto: lb_kind NAT or TUN type gre or remcsum needs IPVS, and " + std::string(kNoIpvs));
      }
      if (xdp_attach_ok) return {BackendKind::xdp, "lb_backend auto: XDP attaches"};
      if (ipvs_available)
        return {BackendKind::ipvs, "lb_backend auto: XDP cannot attach, falling back to IPVS"};
      return none("lb_backend auto: XDP cannot attach and " + std::string(kNoIpvs));
  }
  return none("lb_backend: unknown request");
}

std::optional<BackendRequest> parse_backend_request(std::string_view word) {
  if (word == "xdp") return BackendRequest::xdp;
  if (word == "ipvs") return BackendRequest::ipvs;
  if (word == "auto") return BackendRequest::automatic;
  return std::nullopt;
}

std::string_view to_string(BackendKind kind) { return kind == BackendKind::xdp ? "xdp" : "ipvs"; }

bool ipvs_available() { return ipvs::genl_family_exists(IPVS_GENL_NAME); }

}  // namespace xlb::dataplane
