#include "ctrl/route/adjacency.hpp"

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace xlb::route {
namespace {

struct SockFree {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct CacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
struct RoutePut {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};

unsigned address_bits(int family) { return family == AF_INET ? 32 : 128; }

}  // namespace

std::optional<RouteRecord> to_record(rtnl_route* route) {
  RouteRecord r;
  r.cloned = (rtnl_route_get_flags(route) & RTM_F_CLONED) != 0;
  r.family = rtnl_route_get_family(route);
  if (r.family != AF_INET && r.family != AF_INET6) return std::nullopt;
  if (nl_addr* dst = rtnl_route_get_dst(route)) {
    // A default route has no RTA_DST: libnl gives an empty address of prefix length 0.
    const unsigned len = std::min<unsigned>(nl_addr_get_len(dst), r.dst.size());
    std::memcpy(r.dst.data(), nl_addr_get_binary_addr(dst), len);
    r.dst_len = nl_addr_get_prefixlen(dst);
  }
  if (nl_addr* src = rtnl_route_get_src(route)) r.src_len = nl_addr_get_prefixlen(src);
  r.table = rtnl_route_get_table(route);
  r.type = rtnl_route_get_type(route);
  r.tos = rtnl_route_get_tos(route);
  r.scope = rtnl_route_get_scope(route);
  r.priority = rtnl_route_get_priority(route);
  for (int i = 0; i < rtnl_route_get_nnexthops(route); ++i) {
    rtnl_nexthop* nh = rtnl_route_nexthop_n(route, i);
    // RTA_VIA is a gateway of the other family (an IPv4 route via an IPv6 router).
    r.nexthops.push_back({rtnl_route_nh_get_ifindex(nh),
                          rtnl_route_nh_get_gateway(nh) != nullptr || rtnl_route_nh_get_via(nh) != nullptr});
  }
  return r;
}

std::string Address::str() const {
  char buf[INET6_ADDRSTRLEN] = "";
  inet_ntop(family, bytes.data(), buf, sizeof(buf));
  return buf;
}

bool RouteRecord::covers(const Address& addr) const {
  if (addr.family != family || dst_len > address_bits(family)) return false;
  const unsigned whole = dst_len / 8;
  if (std::memcmp(dst.data(), addr.bytes.data(), whole) != 0) return false;
  const unsigned rest = dst_len % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff00u >> rest);
  return (dst[whole] & mask) == (addr.bytes[whole] & mask);
}

const char* to_string(Reach reach) {
  switch (reach) {
    case Reach::direct: return "directly connected";
    case Reach::via_gateway: return "through a gateway";
    case Reach::local: return "an address of this node";
    case Reach::no_route: return "unreachable (no route)";
    case Reach::other: return "not a unicast destination";
  }
  return "?";
}

Reach classify(const RouteRecord& route) {
  switch (route.type) {
    case RTN_LOCAL:
      return Reach::local;
    case RTN_UNICAST:
      break;
    case RTN_BLACKHOLE:
    case RTN_UNREACHABLE:
    case RTN_PROHIBIT:
    case RTN_THROW:
      return Reach::no_route;
    default:
      return Reach::other;
  }
  // The local table describes this node's own addresses; a unicast route placed there by hand
  // still says nothing about a neighbour on the wire.
  if (route.table == RT_TABLE_LOCAL || route.nexthops.empty()) return Reach::other;
  bool gateway = false;
  for (const auto& nh : route.nexthops) {
    if (nh.ifindex <= 0) return Reach::other;
    gateway = gateway || nh.gateway;
  }
  return gateway ? Reach::via_gateway : Reach::direct;
}

Decision decide(std::span<const RouteRecord> routes, const Address& addr) {
  // The default rules: `from all lookup local`, `lookup main`, `lookup default`. A throw route
  // sends the lookup on to the next rule.
  for (const std::uint32_t table : {RT_TABLE_LOCAL, RT_TABLE_MAIN, RT_TABLE_DEFAULT}) {
    const RouteRecord* best = nullptr;
    for (const auto& r : routes) {
      // Source-specific and TOS-specific routes do not match a packet from any source at TOS 0.
      if (r.cloned || r.table != table || r.src_len != 0 || r.tos != 0 || !r.covers(addr)) continue;
      if (!best || r.dst_len > best->dst_len || (r.dst_len == best->dst_len && r.priority < best->priority))
        best = &r;
    }
    if (!best || best->type == RTN_THROW) continue;
    return {classify(*best), *best};
  }
  return {};
}

std::optional<RouteRecord> parse_route(nlmsghdr* hdr) {
  if (hdr->nlmsg_type != RTM_NEWROUTE) return std::nullopt;
  rtnl_route* raw = nullptr;
  if (rtnl_route_parse(hdr, &raw) < 0 || raw == nullptr) return std::nullopt;
  std::unique_ptr<rtnl_route, RoutePut> route(raw);
  return to_record(route.get());
}

std::vector<RouteRecord> parse_dump(std::span<const std::uint8_t> bytes) {
  // libnl's walkers want a writable, aligned buffer.
  std::vector<std::uint32_t> copy((bytes.size() + 3) / 4);
  std::memcpy(copy.data(), bytes.data(), bytes.size());
  std::vector<RouteRecord> out;
  int left = static_cast<int>(bytes.size());
  for (auto* hdr = reinterpret_cast<nlmsghdr*>(copy.data()); nlmsg_ok(hdr, left); hdr = nlmsg_next(hdr, &left)) {
    if (auto r = parse_route(hdr)) out.push_back(std::move(*r));
  }
  return out;
}

std::vector<RouteRecord> dump_routes(int family) {
  std::unique_ptr<nl_sock, SockFree> sock(nl_socket_alloc());
  if (!sock) throw std::runtime_error("libnl: cannot allocate a netlink socket");
  if (nl_connect(sock.get(), NETLINK_ROUTE) < 0) throw std::runtime_error("libnl: cannot connect to NETLINK_ROUTE");
  nl_cache* raw = nullptr;
  if (rtnl_route_alloc_cache(sock.get(), family, 0, &raw) < 0)
    throw std::runtime_error("libnl: cannot read the routing table");
  std::unique_ptr<nl_cache, CacheFree> cache(raw);
  std::vector<RouteRecord> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
    if (auto r = to_record(reinterpret_cast<rtnl_route*>(o))) out.push_back(std::move(*r));
  }
  return out;
}

}  // namespace xlb::route
