#include "netdev.hpp"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace xlb::pktgen {

MacAddress device_mac(const std::string& device) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  ifreq request{};
  std::strncpy(request.ifr_name, device.c_str(), IFNAMSIZ - 1);
  int rc = ::ioctl(fd, SIOCGIFHWADDR, &request);
  int err = errno;
  ::close(fd);
  if (rc < 0) throw std::system_error(err, std::generic_category(), "SIOCGIFHWADDR " + device);
  MacAddress mac{};
  std::memcpy(mac.data(), request.ifr_hwaddr.sa_data, 6);
  return mac;
}

unsigned device_mtu(const std::string& device) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  ifreq request{};
  std::strncpy(request.ifr_name, device.c_str(), IFNAMSIZ - 1);
  int rc = ::ioctl(fd, SIOCGIFMTU, &request);
  int err = errno;
  ::close(fd);
  if (rc < 0) throw std::system_error(err, std::generic_category(), "SIOCGIFMTU " + device);
  return static_cast<unsigned>(request.ifr_mtu);
}

int device_index(const std::string& device) {
  unsigned index = if_nametoindex(device.c_str());
  if (index == 0) throw std::system_error(errno, std::generic_category(), "interface " + device);
  return static_cast<int>(index);
}

}  // namespace xlb::pktgen
