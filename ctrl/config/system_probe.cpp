#include "ctrl/config/system_probe.hpp"

#include <net/if.h>
#include <sys/socket.h>

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

}  // namespace xlb::config
