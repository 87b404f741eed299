#include "ctrl/vrrp/advert_socket.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace xlb::vrrp {
namespace {

void setopt(int fd, int level, int name, const void* v, socklen_t len, const char* what) {
  if (::setsockopt(fd, level, name, v, len) < 0)
    throw std::system_error(errno, std::generic_category(), what);
}
void setint(int fd, int level, int name, int v, const char* what) {
  setopt(fd, level, name, &v, sizeof v, what);
}

sockaddr_in to_sin(const Address& a) {
  sockaddr_in s{};
  s.sin_family = AF_INET;
  s.sin_addr.s_addr = htonl(a.to_v4().to_uint());
  return s;
}

sockaddr_in6 to_sin6(const Address& a, int ifindex) {
  sockaddr_in6 s{};
  s.sin6_family = AF_INET6;
  auto b = a.to_v6().to_bytes();
  std::memcpy(&s.sin6_addr, b.data(), 16);
  if (a.to_v6().is_link_local() || a.to_v6().is_multicast_link_local()) s.sin6_scope_id = ifindex;
  return s;
}

Address from_in6(const in6_addr& a) {
  boost::asio::ip::address_v6::bytes_type b;
  std::memcpy(b.data(), &a, 16);
  return boost::asio::ip::address_v6(b);
}

}  // namespace

AdvertSocket::AdvertSocket(boost::asio::any_io_executor ex, const InterfaceInfo& ifc, bool ipv6,
                           std::optional<Address> group)
    : ifc_(ifc), ipv6_(ipv6), sock_(ex), buf_(65536) {
  int family = ipv6 ? AF_INET6 : AF_INET;
  boost::system::error_code ec;
  sock_.open(boost::asio::generic::raw_protocol(family, kIpProtoVrrp), ec);
  // Under a hardened unit or in a container this is where a missing CAP_NET_RAW shows: say
  // which socket and what to grant, not a bare "open: Operation not permitted".
  if (ec) {
    throw std::system_error(ec.value(), std::generic_category(),
                            std::string("opening the raw VRRP socket (IP protocol 112, ") + (ipv6 ? "IPv6" : "IPv4") +
                                ") for " + ifc.name + (ec.value() == EPERM ? " (needs CAP_NET_RAW)" : ""));
  }
  int fd = sock_.native_handle();
  // Bound to the device: an instance hears only its own link, as keepalived does.
  // An empty name: unicast to extra peers, routed by the kernel over whatever link works.
  if (!ifc.name.empty())
    setopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifc.name.c_str(), ifc.name.size(), "SO_BINDTODEVICE");
  if (!ipv6) {
    setint(fd, IPPROTO_IP, IP_TTL, 255, "IP_TTL");
    setint(fd, IPPROTO_IP, IP_MULTICAST_TTL, 255, "IP_MULTICAST_TTL");
    setint(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 0, "IP_MULTICAST_LOOP");
    ip_mreqn m{};
    m.imr_ifindex = ifc.index;
    if (ifc.index) setopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m, "IP_MULTICAST_IF");
    if (group) {
      m.imr_multiaddr.s_addr = htonl(group->to_v4().to_uint());
      setopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m, "IP_ADD_MEMBERSHIP");
    }
  } else {
    setint(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255, "IPV6_UNICAST_HOPS");
    setint(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255, "IPV6_MULTICAST_HOPS");
    setint(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, "IPV6_MULTICAST_LOOP");
    if (ifc.index) setint(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, ifc.index, "IPV6_MULTICAST_IF");
    setint(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO");
    setint(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT");
    if (group) {
      ipv6_mreq m{};
      auto b = group->to_v6().to_bytes();
      std::memcpy(&m.ipv6mr_multiaddr, b.data(), 16);
      m.ipv6mr_interface = ifc.index;
      setopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m, "IPV6_JOIN_GROUP");
    }
  }
}

std::error_code AdvertSocket::send(std::span<const std::uint8_t> msg, const Address& src,
                                   const Address& dst) {
  iovec iov{const_cast<std::uint8_t*>(msg.data()), msg.size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))]{};
  mh.msg_control = control;
  sockaddr_in sin{};
  sockaddr_in6 sin6{};
  // The source is pinned with PKTINFO rather than bind(): a bound raw socket would no longer
  // receive adverts sent to the multicast group, and the v3 checksum covers the source.
  cmsghdr* c = reinterpret_cast<cmsghdr*>(control);
  if (!ipv6_) {
    sin = to_sin(dst);
    mh.msg_name = &sin;
    mh.msg_namelen = sizeof sin;
    mh.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo));
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo pi{};
    pi.ipi_ifindex = ifc_.index;
    pi.ipi_spec_dst.s_addr = htonl(src.to_v4().to_uint());
    std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
  } else {
    sin6 = to_sin6(dst, ifc_.index);
    mh.msg_name = &sin6;
    mh.msg_namelen = sizeof sin6;
    mh.msg_controllen = CMSG_SPACE(sizeof(in6_pktinfo));
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
    in6_pktinfo pi{};
    pi.ipi6_ifindex = ifc_.index;
    auto b = src.to_v6().to_bytes();
    std::memcpy(&pi.ipi6_addr, b.data(), 16);
    std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
  }
  if (::sendmsg(sock_.native_handle(), &mh, MSG_DONTWAIT) < 0)
    return std::error_code(errno, std::generic_category());
  return {};
}

boost::asio::awaitable<Received> AdvertSocket::receive() {
  for (;;) {
    co_await sock_.async_wait(boost::asio::socket_base::wait_read, boost::asio::use_awaitable);
    iovec iov{buf_.data(), buf_.size()};
    sockaddr_storage from{};
    alignas(cmsghdr) char control[256];
    msghdr mh{};
    mh.msg_name = &from;
    mh.msg_namelen = sizeof from;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(sock_.native_handle(), &mh, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "recvmsg");
    }
    Received r;
    std::span<const std::uint8_t> data(buf_.data(), static_cast<std::size_t>(n));
    if (!ipv6_) {
      std::span<const std::uint8_t> payload;
      r.ip_error = parse_ipv4(data, r.meta, payload);
      r.payload.assign(payload.begin(), payload.end());
      co_return r;
    }
    r.meta.src = from_in6(reinterpret_cast<sockaddr_in6*>(&from)->sin6_addr);
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != IPPROTO_IPV6) continue;
      if (c->cmsg_type == IPV6_HOPLIMIT) {
        int hops;
        std::memcpy(&hops, CMSG_DATA(c), sizeof hops);
        r.meta.ttl = hops;
      } else if (c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        r.meta.dst = from_in6(pi.ipi6_addr);
      }
    }
    r.payload.assign(data.begin(), data.end());
    co_return r;
  }
}

}  // namespace xlb::vrrp
