// The calling thread in a network namespace of its own, as the lb_kind TUN tests and the
// packet-cost benchmark need it for the program's FIB lookups: a veth with addresses, routes
// through a gateway whose MAC is a permanent neighbour entry, forwarding on. Leaving restores
// the thread's namespace; the new one goes with its last reference.
#pragma once

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "tests/bpf/support/packet.hpp"

namespace xlb::bpftest {

class NetnsScope {
 public:
  NetnsScope() {
    saved_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (saved_ < 0) throw std::runtime_error("open /proc/thread-self/ns/net");
    if (::unshare(CLONE_NEWNET) != 0) throw std::runtime_error("unshare(CLONE_NEWNET)");
    sh("ip link set lo up");
    sh("ip link add tun0 type veth peer name tun1");
    sh("ip link set tun0 up && ip link set tun1 up");
    sh("ip addr add 198.18.2.1/24 dev tun0");
    // The FIB lookup from a program answers only for an interface with forwarding on.
    sh("sysctl -qw net.ipv4.conf.tun0.forwarding=1 net.ipv6.conf.tun0.forwarding=1");
    sh("ip route add 198.18.100.0/24 via 198.18.2.254 dev tun0");
    sh("ip route add 198.18.101.0/24 via 198.18.2.253 dev tun0");
    sh("ip neigh replace 198.18.2.254 lladdr 02:9a:7e:00:00:fe dev tun0 nud permanent");
    sh("ip -6 addr add 2001:db8:2::1/64 dev tun0 nodad");
    sh("ip -6 route add 2001:db8:100::/64 via 2001:db8:2::fe dev tun0");
    sh("ip -6 neigh replace 2001:db8:2::fe lladdr 02:9a:7e:00:00:fe dev tun0 nud permanent");
    ifindex_ = if_nametoindex("tun0");
    // /sys shows the namespace it was mounted in: ask the kernel through a socket made here.
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "tun0", IFNAMSIZ - 1);
    const int rc = fd < 0 ? -1 : ::ioctl(fd, SIOCGIFHWADDR, &ifr);
    if (fd >= 0) ::close(fd);
    if (rc != 0) throw std::runtime_error("SIOCGIFHWADDR tun0");
    std::memcpy(mac_.data(), ifr.ifr_hwaddr.sa_data, 6);
  }
  ~NetnsScope() {
    if (::setns(saved_, CLONE_NEWNET) != 0) std::abort();  // the rest of the suite would run in the wrong place
    ::close(saved_);
  }
  NetnsScope(const NetnsScope&) = delete;
  NetnsScope& operator=(const NetnsScope&) = delete;

  static void sh(const std::string& command) {
    if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) throw std::runtime_error("failed: " + command);
  }
  std::uint32_t ifindex() const { return ifindex_; }
  const Mac& mac() const { return mac_; }

 private:
  int saved_ = -1;
  std::uint32_t ifindex_ = 0;
  Mac mac_{};
};

}  // namespace xlb::bpftest
