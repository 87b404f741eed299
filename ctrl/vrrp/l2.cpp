#include "ctrl/vrrp/l2.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

namespace xlb::vrrp {
namespace {

constexpr std::uint8_t kTagMaster = 0x78;  // 'x'
constexpr std::uint8_t kTagBackup = 0x79;

boost::asio::generic::raw_protocol::socket open_packet(boost::asio::any_io_executor ex,
                                                        const InterfaceInfo& ifc) {
  boost::asio::generic::raw_protocol::socket s(ex);
  boost::system::error_code ec;
  s.open(boost::asio::generic::raw_protocol(AF_PACKET, htons(ETH_P_ARP)), ec);
  if (ec) {
    throw std::system_error(ec.value(), std::generic_category(),
                            "opening the packet socket for gratuitous ARP on " + ifc.name +
                                (ec.value() == EPERM ? " (needs CAP_NET_RAW)" : ""));
  }
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ARP);
  sll.sll_ifindex = ifc.index;
  if (::bind(s.native_handle(), reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0)
    throw std::system_error(errno, std::generic_category(), "bind AF_PACKET " + ifc.name);
  return s;
}

// Ethernet + ARP frame, broadcast.
std::vector<std::uint8_t> arp_frame(const Mac& src_mac, std::uint16_t op,
                                    std::uint32_t sender_ip, const std::array<std::uint8_t, 6>& tha,
                                    std::uint32_t target_ip) {
  std::vector<std::uint8_t> f;
  f.insert(f.end(), 6, 0xff);
  f.insert(f.end(), src_mac.begin(), src_mac.end());
  f.insert(f.end(), {0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4});
  f.push_back(static_cast<std::uint8_t>(op >> 8));
  f.push_back(static_cast<std::uint8_t>(op));
  f.insert(f.end(), src_mac.begin(), src_mac.end());
  for (int s : {24, 16, 8, 0}) f.push_back(static_cast<std::uint8_t>(sender_ip >> s));
  f.insert(f.end(), tha.begin(), tha.end());
  for (int s : {24, 16, 8, 0}) f.push_back(static_cast<std::uint8_t>(target_ip >> s));
  return f;
}

std::error_code send_frame(int fd, const InterfaceInfo& ifc, const std::vector<std::uint8_t>& f) {
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ARP);
  sll.sll_ifindex = ifc.index;
  sll.sll_halen = 6;
  std::memset(sll.sll_addr, 0xff, 6);
  if (::sendto(fd, f.data(), f.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&sll),
               sizeof sll) < 0)
    return std::error_code(errno, std::generic_category());
  return {};
}

}  // namespace

Announcer::Announcer(boost::asio::any_io_executor ex, const InterfaceInfo& ifc)
    : ifc_(ifc), arp_(open_packet(ex, ifc)), icmp6_(ex) {
  boost::system::error_code ec;
  icmp6_.open(boost::asio::generic::raw_protocol(AF_INET6, IPPROTO_ICMPV6), ec);
  if (ec) {
    throw std::system_error(ec.value(), std::generic_category(),
                            "opening the raw ICMPv6 socket for unsolicited NA on " + ifc.name +
                                (ec.value() == EPERM ? " (needs CAP_NET_RAW)" : ""));
  }
  int fd = icmp6_.native_handle();
  int hops = 255;
  int idx = ifc.index;
  ::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
  ::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx);
  ::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifc.name.c_str(), ifc.name.size());
}

std::error_code Announcer::announce(const Address& vip) {
  return vip.is_v4() ? garp(vip.to_v4()) : unsolicited_na(vip.to_v6());
}

std::error_code Announcer::garp(const boost::asio::ip::address_v4& vip) {
  // Sender and target are both the VIP: every neighbour updates its cache to our MAC.
  std::array<std::uint8_t, 6> bcast;
  bcast.fill(0xff);
  return send_frame(arp_.native_handle(), ifc_,
                    arp_frame(ifc_.mac, 1, vip.to_uint(), bcast, vip.to_uint()));
}

std::error_code Announcer::unsolicited_na(const boost::asio::ip::address_v6& vip) {
  std::vector<std::uint8_t> m(24 + 8, 0);
  m[0] = ND_NEIGHBOR_ADVERT;
  m[4] = 0x20;  // Override: replace whatever MAC the neighbours had for the VIP
  auto b = vip.to_bytes();
  std::memcpy(&m[8], b.data(), 16);
  m[24] = ND_OPT_TARGET_LINKADDR;
  m[25] = 1;
  std::memcpy(&m[26], ifc_.mac.data(), 6);
  sockaddr_in6 dst{};
  dst.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "ff02::1", &dst.sin6_addr);
  dst.sin6_scope_id = ifc_.index;
  // The kernel fills in the ICMPv6 checksum for raw ICMPv6 sockets.
  if (::sendto(icmp6_.native_handle(), m.data(), m.size(), MSG_DONTWAIT,
               reinterpret_cast<sockaddr*>(&dst), sizeof dst) < 0)
    return std::error_code(errno, std::generic_category());
  return {};
}

ArpProber::ArpProber(boost::asio::any_io_executor ex, const InterfaceInfo& ifc)
    : ifc_(ifc), sock_(open_packet(ex, ifc)) {}

std::error_code ArpProber::probe(const boost::asio::ip::address_v4& vip, const ProbeTag& tag) {
  // RFC 5227 probe: sender IP 0 so that no neighbour cache changes; the owner still replies.
  std::array<std::uint8_t, 6> tha{};
  tha[0] = tag.master ? kTagMaster : kTagBackup;
  tha[1] = tag.priority;
  auto p = tag.primary.to_bytes();
  std::memcpy(&tha[2], p.data(), 4);
  return send_frame(sock_.native_handle(), ifc_, arp_frame(ifc_.mac, 1, 0, tha, vip.to_uint()));
}

boost::asio::awaitable<ArpSeen> ArpProber::receive() {
  std::array<std::uint8_t, 1600> buf;
  for (;;) {
    co_await sock_.async_wait(boost::asio::socket_base::wait_read, boost::asio::use_awaitable);
    sockaddr_ll from{};
    socklen_t fl = sizeof from;
    ssize_t n = ::recvfrom(sock_.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT,
                           reinterpret_cast<sockaddr*>(&from), &fl);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "recvfrom AF_PACKET");
    }
    if (from.sll_pkttype == PACKET_OUTGOING || n < 42) continue;
    const std::uint8_t* a = buf.data() + 14;
    if (a[0] != 0 || a[1] != 1 || a[2] != 8 || a[3] != 0 || a[4] != 6 || a[5] != 4) continue;
    ArpSeen s;
    s.op = static_cast<std::uint16_t>((a[6] << 8) | a[7]);
    std::memcpy(s.sender_mac.data(), a + 8, 6);
    if (s.sender_mac == ifc_.mac) continue;
    auto ip4 = [](const std::uint8_t* p) {
      return boost::asio::ip::address_v4((std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                                         (std::uint32_t{p[2]} << 8) | p[3]);
    };
    s.sender_ip = ip4(a + 14);
    s.target_ip = ip4(a + 24);
    const std::uint8_t* tha = a + 18;
    if (s.op == 1 && (tha[0] == kTagMaster || tha[0] == kTagBackup) && s.sender_ip.is_unspecified())
      s.tag = ProbeTag{tha[0] == kTagMaster, tha[1], ip4(tha + 2)};
    co_return s;
  }
}

}  // namespace xlb::vrrp
