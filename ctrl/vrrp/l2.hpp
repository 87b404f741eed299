// Link-layer announcements and probes for VIPs: gratuitous ARP and unsolicited neighbour
// advertisements when becoming master, and arping-style ARP probes that find a second owner
// of a VIP (split brain).
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <system_error>

#include "xlb/asio.hpp"
#include "ctrl/vrrp/netif.hpp"

namespace xlb::vrrp {

// Sends gratuitous ARP (IPv4) and unsolicited NA (IPv6) for VIPs on one interface.
class Announcer {
 public:
  Announcer(boost::asio::any_io_executor ex, const InterfaceInfo& ifc);
  std::error_code announce(const Address& vip);

 private:
  std::error_code garp(const boost::asio::ip::address_v4& vip);
  std::error_code unsolicited_na(const boost::asio::ip::address_v6& vip);

  InterfaceInfo ifc_;
  boost::asio::generic::raw_protocol::socket arp_;
  boost::asio::generic::raw_protocol::socket icmp6_;
};

// What xlb puts in the (ignored) target hardware field of its probes: who is probing, so that
// two xlb masters that see each other's probes can apply the same resolution rule.
struct ProbeTag {
  bool master = true;  // false: a backup that yielded and checks the holder is still there
  std::uint8_t priority = 0;
  boost::asio::ip::address_v4 primary;
};

struct ArpSeen {
  std::uint16_t op = 0;  // 1 request, 2 reply
  Mac sender_mac{};
  boost::asio::ip::address_v4 sender_ip;
  boost::asio::ip::address_v4 target_ip;
  std::optional<ProbeTag> tag;  // set when this is another xlb node's probe
};

// ARP probes (RFC 5227 form: sender IP 0.0.0.0) for a VIP and the ARP traffic they provoke.
class ArpProber {
 public:
  ArpProber(boost::asio::any_io_executor ex, const InterfaceInfo& ifc);
  std::error_code probe(const boost::asio::ip::address_v4& vip, const ProbeTag& tag);
  // Next ARP frame received on the interface that was not sent by this host.
  boost::asio::awaitable<ArpSeen> receive();
  void close() { sock_.close(); }

 private:
  InterfaceInfo ifc_;
  boost::asio::generic::raw_protocol::socket sock_;
};

}  // namespace xlb::vrrp
