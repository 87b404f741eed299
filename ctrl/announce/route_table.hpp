// The VIP host routes in vip_route_table, through a TUN device that this object holds open:
// when xlbd dies, even by SIGKILL, the kernel deletes the device and every route through it,
// so a routing daemon withdraws the VIPs without xlbd's help.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <system_error>

#include "ctrl/vrrp/vip.hpp"
#include "xlb/unique_fd.hpp"
#include "xlb/asio.hpp"

namespace xlb::announce {

// The route protocol of xlb's routes: neither `kernel` (2), which BIRD's kernel protocol does
// not learn, nor `static` (4), which an operator's own routes use; 252 is in no range that
// rtnetlink.h or iproute2's rt_protos assign (packaging/rt_protos.d/xlb.conf names it).
inline constexpr std::uint8_t kRouteProtocol = 252;

class RouteTable {
 public:
  // Creates the device (xlb-vip<N>, one per xlbd) and brings it up. Throws when it cannot.
  explicit RouteTable(std::uint32_t table);
  ~RouteTable();  // removes the routes it added; the device goes with the descriptor
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

  std::error_code add(const boost::asio::ip::address& vip);
  std::error_code remove(const boost::asio::ip::address& vip);
  const std::set<boost::asio::ip::address>& routes() const { return routes_; }
  std::uint32_t table() const { return table_; }
  const std::string& device() const { return device_; }

 private:
  std::error_code change(const boost::asio::ip::address& vip, bool add);

  std::uint32_t table_;
  UniqueFd tun_;  // the device lives as long as this descriptor
  int ifindex_ = 0;
  std::string device_;
  vrrp::RouteSocket sock_;
  std::set<boost::asio::ip::address> routes_;
};

}  // namespace xlb::announce
