// Which dataplane serves a virtual server: the `lb_backend xdp|ipvs|auto` decision.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace xlb::dataplane {

enum class BackendKind { xdp, ipvs };
enum class BackendRequest { xdp, ipvs, automatic };

struct BackendChoice {
  std::optional<BackendKind> backend;  // nullopt: nothing can serve it; reason says why
  std::string reason;
};

// Pure decision. `auto` prefers XDP and falls back to IPVS when XDP cannot attach or the
// virtual server needs NAT or GRE/remcsum TUN forwarding (which the XDP program does not do).
BackendChoice choose_backend(BackendRequest requested, bool needs_ipvs, bool xdp_attach_ok,
                             bool ipvs_available);

// "xdp", "ipvs", "auto"; nullopt for anything else.
std::optional<BackendRequest> parse_backend_request(std::string_view word);
std::string_view to_string(BackendKind kind);

// True when the kernel's IPVS generic netlink family resolves in this network namespace.
bool ipvs_available();

}  // namespace xlb::dataplane
