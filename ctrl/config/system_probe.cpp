#include "ctrl/config/system_probe.hpp"

#include <grp.h>
#include <ifaddrs.h>
#include <pwd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>
#include <netlink/addr.h>
#include <netlink/netlink.h>
#include <netlink/route/route.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <vector>
#include <stdexcept>

namespace xlb::config {
namespace {

struct SockFree {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct CacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
struct AddrPut {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};

}  // namespace

bool LinuxSystemProbe::interface_exists(const std::string& name) const {
  if (name.empty() || name.size() >= IF_NAMESIZE) return false;
  return if_nametoindex(name.c_str()) != 0;
}

bool LinuxSystemProbe::directly_connected(const IpAddr& addr) const {
  std::unique_ptr<nl_sock, SockFree> sock(nl_socket_alloc());
  if (!sock) throw std::runtime_error("libnl: cannot allocate a netlink socket");
  if (nl_connect(sock.get(), NETLINK_ROUTE) < 0) throw std::runtime_error("libnl: cannot connect to NETLINK_ROUTE");
  nl_cache* raw = nullptr;
  if (rtnl_route_alloc_cache(sock.get(), addr.is_v4() ? AF_INET : AF_INET6, 0, &raw) < 0)
    throw std::runtime_error("libnl: cannot read the routing table");
  std::unique_ptr<nl_cache, CacheFree> cache(raw);
  std::unique_ptr<nl_addr, AddrPut> target(
      nl_addr_build(addr.is_v4() ? AF_INET : AF_INET6, addr.bytes.data(), addr.is_v4() ? 4 : 16));
  if (!target) throw std::runtime_error("libnl: cannot build an address");
  bool connected = false;
  for (nl_object* o = nl_cache_get_first(cache.get()); o && !connected; o = nl_cache_get_next(o)) {
    auto* route = reinterpret_cast<rtnl_route*>(o);
    // Connected networks are link-scope unicast routes in the main table; the local table's
    // host routes would make the node's own addresses look like real servers.
    if (rtnl_route_get_table(route) != RT_TABLE_MAIN || rtnl_route_get_type(route) != RTN_UNICAST ||
        rtnl_route_get_scope(route) != RT_SCOPE_LINK)
      continue;
    nl_addr* dst = rtnl_route_get_dst(route);
    if (!dst) continue;
    const unsigned prefix = nl_addr_get_prefixlen(dst);
    if (nl_addr_cmp_prefix(dst, target.get()) == 0 && prefix <= addr.max_prefix()) connected = true;
  }
  return connected;
}

bool LinuxSystemProbe::local_address(const IpAddr& addr) const {
  if (addr.is_loopback()) return true;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) throw std::runtime_error(std::string("getifaddrs: ") + std::strerror(errno));
  const std::unique_ptr<ifaddrs, void (*)(ifaddrs*)> owner(list, ::freeifaddrs);
  for (const ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr) continue;
    if (addr.is_v4() && a->ifa_addr->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
      if (std::memcmp(&in->sin_addr, addr.bytes.data(), 4) == 0) return true;
    } else if (!addr.is_v4() && a->ifa_addr->sa_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
      if (std::memcmp(&in6->sin6_addr, addr.bytes.data(), 16) == 0) return true;
    }
  }
  return false;
}

bool LinuxSystemProbe::readable_file(const std::string& path) const { return ::access(path.c_str(), R_OK) == 0; }

bool LinuxSystemProbe::account_exists(const std::string& name, bool group) const {
  std::vector<char> buf(16384);
  if (group) {
    struct group entry {};
    struct group* found = nullptr;
    return ::getgrnam_r(name.c_str(), &entry, buf.data(), buf.size(), &found) == 0 && found != nullptr;
  }
  struct passwd entry {};
  struct passwd* found = nullptr;
  return ::getpwnam_r(name.c_str(), &entry, buf.data(), buf.size(), &found) == 0 && found != nullptr;
}

}  // namespace xlb::config
