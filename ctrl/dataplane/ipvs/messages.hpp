// Encoding and decoding of IPVS generic netlink messages (attributes from <linux/ip_vs.h>).
// Pure functions over nl_msg / nlmsghdr, so that they are testable without the kernel.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ctrl/dataplane/backend.hpp"
#include "ctrl/dataplane/ipvs/genl_socket.hpp"

namespace xlb::dataplane::ipvs {

// What IPVS stores about a service besides its identity.
struct ServiceAttrs {
  std::string scheduler;    // "wrr", "rr", ...
  std::uint32_t flags = 0;  // IP_VS_SVC_F_*
  std::uint32_t timeout = 0;
  std::uint32_t netmask = 0;  // IPv4: mask in network byte order; IPv6: prefix length
  bool operator==(const ServiceAttrs&) const = default;
};

struct KernelService {
  ServiceKey key;
  ServiceAttrs attrs;
  TrafficCounters counters;
};

// A destination as IPVS keys and stores it.
struct DestSpec {
  IpAddress address;
  std::uint16_t port = 0;
  std::uint32_t fwd = 0;  // IP_VS_CONN_F_DROUTE / MASQ / TUNNEL (LOCALNODE when read back)
  std::uint32_t weight = 0;
  // Tunnel destinations only; kernels before 5.3 ignore these and always send IPIP.
  std::uint8_t tun_type = 0;    // IP_VS_CONN_F_TUNNEL_TYPE_IPIP / GUE / GRE
  std::uint16_t tun_port = 0;   // GUE: the real's UDP port (host order)
  std::uint16_t tun_flags = 0;  // IP_VS_TUNNEL_ENCAP_FLAG_CSUM / REMCSUM
  bool operator==(const DestSpec&) const = default;
};

struct KernelDest {
  DestSpec dest;
  TrafficCounters counters;
  std::uint32_t active_conns = 0;
  std::uint32_t inactive_conns = 0;
};

std::string scheduler_name(Scheduler s);
std::uint32_t fwd_method(Forwarding f);
// Sets a tunnel destination's tun_type/tun_port/tun_flags from the service's lvs_method TUN.
void set_tunnel(DestSpec& dest, const TunnelSpec& tunnel);
ServiceAttrs service_attrs(const ServiceSpec& spec);

// Message for one command. The service nest carries the identity always and the stored
// attributes when `attrs` is given (NEW/SET_SERVICE need them, DEL and dest commands not).
NlMsgPtr service_msg(int family, std::uint8_t cmd, const ServiceKey& key,
                     const ServiceAttrs* attrs = nullptr, int nl_flags = 0);
NlMsgPtr dest_msg(int family, std::uint8_t cmd, const ServiceKey& key, const DestSpec& dest);
NlMsgPtr dump_services_msg(int family);
NlMsgPtr dump_dests_msg(int family, const ServiceKey& key);
NlMsgPtr flush_msg(int family);

// Decoders for replies to GET_SERVICE / GET_DEST (and for the messages built above, which
// have the same shape). nullopt when the message lacks the nest or a required attribute.
std::optional<KernelService> parse_service(nlmsghdr* hdr);
std::optional<KernelDest> parse_dest(nlmsghdr* hdr, const ServiceKey& service);

}  // namespace xlb::dataplane::ipvs
