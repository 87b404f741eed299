#include "ctrl/announce/route_table.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/route.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>

namespace xlb::announce {
namespace {

struct RouteDeleter {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};

std::system_error errno_error(const std::string& what) { return {errno, std::generic_category(), what}; }

}  // namespace

RouteTable::RouteTable(std::uint32_t table) : table_(table), tun_(::open("/dev/net/tun", O_RDWR | O_CLOEXEC)) {
  if (!tun_) throw errno_error("vip_route_table: /dev/net/tun");
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::string("xlb-vip%d").copy(ifr.ifr_name, IFNAMSIZ - 1);
  if (::ioctl(tun_.get(), TUNSETIFF, &ifr) < 0) throw errno_error("vip_route_table: creating the route device");
  device_ = ifr.ifr_name;
  // Routes through a device that is down are refused (or marked dead): up, with no address.
  const UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifr.ifr_flags = IFF_UP;
  if (!sock || ::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) < 0) throw errno_error("vip_route_table: bringing " + device_ + " up");
  ifindex_ = static_cast<int>(::if_nametoindex(device_.c_str()));
  if (ifindex_ == 0) throw errno_error("vip_route_table: " + device_);
}

RouteTable::~RouteTable() {
  // Removed one by one so that a routing daemon sees each withdrawal at once; closing the
  // device would take them all too, a moment later.
  for (const auto& vip : std::set(routes_)) remove(vip);
}

std::error_code RouteTable::add(const boost::asio::ip::address& vip) {
  if (routes_.contains(vip)) return {};
  return change(vip, true);
}

std::error_code RouteTable::remove(const boost::asio::ip::address& vip) {
  if (!routes_.contains(vip)) return {};
  return change(vip, false);
}

std::error_code RouteTable::change(const boost::asio::ip::address& vip, bool add) {
  std::unique_ptr<rtnl_route, RouteDeleter> route(rtnl_route_alloc());
  if (!route) return std::make_error_code(std::errc::not_enough_memory);
  const auto dst = vrrp::to_nl(vip);
  if (!dst) return std::make_error_code(std::errc::not_enough_memory);
  rtnl_route_set_family(route.get(), vip.is_v4() ? AF_INET : AF_INET6);
  rtnl_route_set_table(route.get(), table_);
  rtnl_route_set_protocol(route.get(), kRouteProtocol);
  rtnl_route_set_scope(route.get(), RT_SCOPE_LINK);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  if (int err = rtnl_route_set_dst(route.get(), dst.get()); err < 0) return std::make_error_code(std::errc::invalid_argument);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (!nh) return std::make_error_code(std::errc::not_enough_memory);
  rtnl_route_nh_set_ifindex(nh, ifindex_);
  rtnl_route_add_nexthop(route.get(), nh);  // owned by the route from here
  const int err = add ? rtnl_route_add(sock_.get(), route.get(), NLM_F_CREATE | NLM_F_REPLACE)
                      : rtnl_route_delete(sock_.get(), route.get(), 0);
  // Deleting a route that is gone already (someone else removed it) leaves the wanted state.
  if (err < 0 && !(err == -NLE_OBJ_NOTFOUND && !add)) {
    return std::make_error_code(std::errc::io_error);
  }
  if (add) routes_.insert(vip);
  else routes_.erase(vip);
  return {};
}

}  // namespace xlb::announce
