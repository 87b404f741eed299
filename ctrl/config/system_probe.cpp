#include "ctrl/config/system_probe.hpp"

#include <grp.h>
#include <ifaddrs.h>
#include <pwd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "ctrl/route/adjacency.hpp"

namespace xlb::config {

bool LinuxSystemProbe::interface_exists(const std::string& name) const {
  if (name.empty() || name.size() >= IF_NAMESIZE) return false;
  return if_nametoindex(name.c_str()) != 0;
}

bool LinuxSystemProbe::directly_connected(const IpAddr& addr) const {
  route::Address target;
  target.family = addr.is_v4() ? AF_INET : AF_INET6;
  target.bytes = addr.bytes;
  const auto routes = route::dump_routes(target.family);
  return route::decide(routes, target).reach == route::Reach::direct;
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
