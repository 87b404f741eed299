#include "ctrl/config/system_probe.hpp"

#include <grp.h>
#include <pwd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "ctrl/notify/script_file.hpp"
#include "ctrl/route/adjacency.hpp"

namespace xlb::config {

bool LinuxSystemProbe::interface_exists(const std::string& name) const {
  if (name.empty() || name.size() >= IF_NAMESIZE) return false;
  return if_nametoindex(name.c_str()) != 0;
}

Reach LinuxSystemProbe::reach(const IpAddr& addr) const {
  // 127.0.0.0/8 is this node's even while lo is down (and its local route with it).
  if (addr.is_loopback()) return Reach::local;
  route::Address target;
  target.family = addr.is_v4() ? AF_INET : AF_INET6;
  target.bytes = addr.bytes;
  switch (route::decide(route::dump_routes(target.family), target).reach) {
    case route::Reach::direct: return Reach::direct;
    case route::Reach::local: return Reach::local;
    default: return Reach::not_adjacent;
  }
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

std::string LinuxSystemProbe::script_problem(const std::string& command, bool script_security) const {
  return notify::script_file_problem(command, script_security);
}

}  // namespace xlb::config
