// Is an address on a directly connected network, decided as the kernel decides where to send a
// packet: the best route (local table first, then main, then default; longest prefix, then
// lowest metric) must be a unicast route whose next hops name an interface and no gateway.
// Route scope is not part of the rule: Linux stores every IPv6 route with scope global, and an
// IPv4 route without a gateway reaches its network whatever scope it was given.
//
// The decision is a pure function over parsed route records, so that it can be tested on
// route dumps captured from the kernel; dump_routes() reads this namespace's tables.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

struct nlmsghdr;
struct rtnl_route;

namespace xlb::route {

struct Address {
  int family = 0;  // AF_INET or AF_INET6
  std::array<std::uint8_t, 16> bytes{};  // AF_INET uses the first 4
  std::string str() const;
};

struct NextHop {
  int ifindex = 0;
  bool gateway = false;  // RTA_GATEWAY or RTA_VIA present
};

// What the decision needs from one RTM_NEWROUTE message.
struct RouteRecord {
  int family = 0;
  std::array<std::uint8_t, 16> dst{};
  unsigned dst_len = 0;
  unsigned src_len = 0;  // IPv6 source-specific routes match only some senders
  std::uint32_t table = 0;
  std::uint8_t type = 0;  // RTN_*
  std::uint8_t tos = 0;
  std::uint8_t scope = 0;  // RT_SCOPE_*: not part of the rule (see above), kept for diagnostics
  std::uint32_t priority = 0;  // the metric
  // An IPv6 exception-cache entry (PMTU, redirect): what RTM_GETROUTE may answer with, never
  // a configured route, so decide() skips it.
  bool cloned = false;
  std::vector<NextHop> nexthops;

  bool covers(const Address& addr) const;
};

enum class Reach {
  direct,       // unicast, every next hop an interface without a gateway
  via_gateway,  // unicast through a router: DR cannot reach it (it rewrites only the MACs)
  local,        // an address of this node
  no_route,     // nothing matches, or a blackhole/unreachable/prohibit route wins
  other,        // broadcast, multicast, anycast, or a route with no usable next hop
};

const char* to_string(Reach reach);

struct Decision {
  Reach reach = Reach::no_route;
  std::optional<RouteRecord> route;  // the route that decided, when one did
};

// One route, already chosen (by the kernel's RTM_GETROUTE or by decide()).
Reach classify(const RouteRecord& route);

// The route the kernel would pick for `addr` among `routes` under the default policy rules
// (tables local, main, default), and what it says.
Decision decide(std::span<const RouteRecord> routes, const Address& addr);

// One RTM_NEWROUTE message parsed by libnl; nullopt for anything else.
std::optional<RouteRecord> parse_route(nlmsghdr* hdr);
// The same for a route libnl has parsed already (nullopt for a family other than IPv4/IPv6).
std::optional<RouteRecord> to_record(rtnl_route* route);

// Every RTM_NEWROUTE in a buffer of netlink messages as a dump delivers them.
std::vector<RouteRecord> parse_dump(std::span<const std::uint8_t> bytes);

// This network namespace's routes of `family` (every table), through NETLINK_ROUTE.
// Throws std::runtime_error when netlink fails.
std::vector<RouteRecord> dump_routes(int family);

}  // namespace xlb::route
