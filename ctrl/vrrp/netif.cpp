#include "ctrl/vrrp/netif.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>

namespace xlb::vrrp {

InterfaceInfo query_interface(const std::string& name) {
  InterfaceInfo info;
  info.name = name;
  info.index = static_cast<int>(::if_nametoindex(name.c_str()));
  if (info.index == 0)
    throw std::system_error(errno, std::generic_category(), "interface " + name);
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  int rc = ::ioctl(fd, SIOCGIFHWADDR, &ifr);
  int err = errno;
  ::close(fd);
  if (rc < 0) throw std::system_error(err, std::generic_category(), "SIOCGIFHWADDR " + name);
  std::memcpy(info.mac.data(), ifr.ifr_hwaddr.sa_data, 6);

  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) < 0) throw std::system_error(errno, std::generic_category(), "getifaddrs");
  std::unique_ptr<ifaddrs, decltype(&::freeifaddrs)> guard(list, &::freeifaddrs);
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || name != a->ifa_name) continue;
    if (a->ifa_addr->sa_family == AF_INET && !info.ipv4) {
      auto* sin = reinterpret_cast<sockaddr_in*>(a->ifa_addr);
      info.ipv4 = boost::asio::ip::address_v4(ntohl(sin->sin_addr.s_addr));
    } else if (a->ifa_addr->sa_family == AF_INET6 && !info.ipv6_local) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(a->ifa_addr);
      boost::asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), &sin6->sin6_addr, 16);
      boost::asio::ip::address_v6 v6(b);
      if (v6.is_link_local()) info.ipv6_local = v6;
    }
  }
  return info;
}

bool interface_up(const std::string& name) {
  // SIOCGIFFLAGS asks the calling thread's network namespace; /sys/class/net would answer for
  // whichever namespace sysfs was mounted in.
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  int rc = ::ioctl(fd, SIOCGIFFLAGS, &ifr);
  ::close(fd);
  if (rc < 0) return false;
  return (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
}

std::string format_mac(const Mac& m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                m[5]);
  return buf;
}

}  // namespace xlb::vrrp
