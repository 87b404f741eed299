#include "ctrl/vrrp/vip.hpp"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/rtnl.h>

#include <cstring>
#include <stdexcept>

namespace xlb::vrrp {
namespace {

struct RtnlAddrDeleter {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};

int parse_scope(const std::string& s) {
  if (s.empty() || s == "global") return RT_SCOPE_UNIVERSE;
  if (s == "site") return RT_SCOPE_SITE;
  if (s == "link") return RT_SCOPE_LINK;
  if (s == "host") return RT_SCOPE_HOST;
  if (s == "nowhere") return RT_SCOPE_NOWHERE;
  return std::stoi(s);
}

}  // namespace

void NlAddrDeleter::operator()(nl_addr* a) const { nl_addr_put(a); }

NlAddress to_nl(const Address& a) {
  NlAddress out;
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    out.reset(nl_addr_build(AF_INET, b.data(), b.size()));
  } else {
    const auto b = a.to_v6().to_bytes();
    out.reset(nl_addr_build(AF_INET6, b.data(), b.size()));
  }
  return out;
}

RouteSocket::RouteSocket() : sock_(nl_socket_alloc()) {
  if (!sock_) throw std::runtime_error("nl_socket_alloc failed");
  int err = nl_connect(sock_, NETLINK_ROUTE);
  if (err < 0) {
    nl_socket_free(sock_);
    throw std::runtime_error(std::string("netlink connect: ") + nl_geterror(err));
  }
}

RouteSocket::~RouteSocket() { nl_socket_free(sock_); }

VipSet::VipSet(std::vector<VipSettings> vips, std::string default_dev)
    : vips_(std::move(vips)), dev_(std::move(default_dev)) {}

VipSet::~VipSet() {
  if (installed_) release();
}

std::error_code VipSet::change(const VipSettings& v, bool add) {
  std::string dev = device_of(v);
  int ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
  if (ifindex == 0) return std::error_code(errno, std::generic_category());
  std::unique_ptr<rtnl_addr, RtnlAddrDeleter> addr(rtnl_addr_alloc());
  auto local = to_nl(v.address);
  if (!addr || !local) return std::make_error_code(std::errc::not_enough_memory);
  rtnl_addr_set_ifindex(addr.get(), ifindex);
  rtnl_addr_set_family(addr.get(), v.address.is_v4() ? AF_INET : AF_INET6);
  rtnl_addr_set_local(addr.get(), local.get());
  rtnl_addr_set_prefixlen(addr.get(), v.prefix_len ? v.prefix_len : (v.address.is_v4() ? 32 : 128));
  if (add) {
    if (!v.label.empty()) rtnl_addr_set_label(addr.get(), v.label.c_str());
    if (v.brd) {
      auto brd = to_nl(*v.brd);
      rtnl_addr_set_broadcast(addr.get(), brd.get());
    }
    rtnl_addr_set_scope(addr.get(), parse_scope(v.scope));
    // A VIP moves between nodes: duplicate address detection would only delay taking it.
    if (v.address.is_v6()) rtnl_addr_set_flags(addr.get(), IFA_F_NODAD);
    // An IPv6 host VIP is deprecated (preferred lifetime 0), as keepalived adds it: it still
    // receives and answers solicitations, but source address selection never picks it. Picked
    // (it shares the most leading bits with reals on the same prefix), the node's own health
    // checks would leave from the VIP and each DR real, holding the VIP on lo, answer itself.
    if (v.address.is_v6() && (v.prefix_len == 0 || v.prefix_len == 128)) {
      rtnl_addr_set_valid_lifetime(addr.get(), 0xffffffffu);  // forever
      rtnl_addr_set_preferred_lifetime(addr.get(), 0);
    }
  }
  int err = add ? rtnl_addr_add(sock_.get(), addr.get(), NLM_F_REPLACE)
                : rtnl_addr_delete(sock_.get(), addr.get(), 0);
  if (err < 0) {
    // Already there (add) or already gone (delete) is what we wanted.
    if ((add && err == -NLE_EXIST) || (!add && err == -NLE_NOADDR) || (!add && err == -NLE_OBJ_NOTFOUND))
      return {};
    return std::make_error_code(std::errc::io_error);
  }
  return {};
}

std::error_code VipSet::install() {
  std::error_code first;
  for (const auto& v : vips_)
    if (auto ec = change(v, true); ec && !first) first = ec;
  installed_ = true;
  return first;
}

std::error_code VipSet::release() {
  std::error_code first;
  for (const auto& v : vips_)
    if (auto ec = change(v, false); ec && !first) first = ec;
  installed_ = false;
  return first;
}

}  // namespace xlb::vrrp
