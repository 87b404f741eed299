// Where a real server is at layer 2, from the kernel (libnl-route): the egress interface and
// its MAC from the routing table, the server's MAC from the neighbour table. Unknown
// neighbours are resolved (the kernel sends ARP/ND), watch() follows MAC changes and
// watch_routes() says when an egress found earlier may have changed.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "xlb/asio.hpp"

struct nl_sock;

namespace xlb::dataplane {

using IpAddress = boost::asio::ip::address;

struct MacAddress {
  std::array<std::uint8_t, 6> bytes{};
  std::string str() const;
  bool operator==(const MacAddress&) const = default;
};

struct Egress {
  int ifindex = 0;
  std::string ifname;
  MacAddress mac;      // the interface's own address: source MAC of forwarded frames
  bool local = false;  // the address is this node's own (a local route): no interface, no MAC
  std::optional<IpAddress> gateway;  // route(): the next hop when it is not the address itself
  std::optional<IpAddress> source;   // route(): the kernel's preferred source for the address
  bool operator==(const Egress&) const = default;
  // Whose MAC the frames carry: the gateway's, or the address's own.
  const IpAddress& next_hop(const IpAddress& address) const { return gateway ? *gateway : address; }
};

// DR rewrites only the Ethernet header, so a real behind a router cannot be reached.
class NotAdjacentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NlSockDeleter {
  void operator()(nl_sock* sock) const;
};
using NlSockPtr = std::unique_ptr<nl_sock, NlSockDeleter>;

class NeighbourResolver {
 public:
  using Callback = std::function<void(const IpAddress& address, int ifindex, const MacAddress& mac)>;
  using RoutesCallback = std::function<void()>;

  // How long route and link notifications are gathered before watch_routes' callback runs:
  // a route change comes as a burst of messages, and each call looks every real up again.
  static constexpr std::chrono::milliseconds kRouteSettle{100};

  // Opens its netlink sockets in the calling thread's network namespace.
  explicit NeighbourResolver(boost::asio::io_context& io);
  ~NeighbourResolver();
  NeighbourResolver(const NeighbourResolver&) = delete;
  NeighbourResolver& operator=(const NeighbourResolver&) = delete;

  // The route to `address`: throws NotAdjacentError when it goes through a gateway, and
  // std::runtime_error when there is no route. An address of this node gives a local Egress.
  Egress egress(const IpAddress& address);

  // The same for a routed next hop (lb_kind TUN): a gateway is named, not refused, and the
  // route's preferred source is given.
  Egress route(const IpAddress& address);

  // The neighbour table's MAC for `address` on `ifindex`, if the entry is usable.
  std::optional<MacAddress> lookup(const IpAddress& address, int ifindex);

  // lookup(), and when that finds nothing, asks the kernel to resolve the address and waits
  // for the neighbour notification up to `timeout`. nullopt when nobody answered.
  std::optional<MacAddress> resolve(const IpAddress& address, int ifindex, std::chrono::milliseconds timeout);

  // Asks the kernel to (re)confirm the neighbour without waiting. XDP frames bypass the
  // kernel's neighbour code, so entries used only by the balancer would go stale and a
  // changed MAC would never be noticed; probing keeps them confirmed.
  void probe(const IpAddress& address, int ifindex) { trigger_resolution(address, ifindex); }

  // Calls `callback` from the io_context for every neighbour entry that becomes usable or
  // changes its MAC, until the resolver is destroyed.
  void watch(Callback callback);

  // Calls `callback` from the io_context once routes or links have changed (kRouteSettle
  // after the first notification of a burst), until the resolver is destroyed.
  void watch_routes(RoutesCallback callback);

 private:
  void open_events();
  void trigger_resolution(const IpAddress& address, int ifindex);
  void arm_watch();
  void routes_changed();

  boost::asio::io_context& io_;
  NlSockPtr request_;
  NlSockPtr events_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> events_fd_;
  Callback callback_;
  RoutesCallback routes_callback_;
  boost::asio::steady_timer routes_timer_;
  bool routes_pending_ = false;
};

}  // namespace xlb::dataplane
