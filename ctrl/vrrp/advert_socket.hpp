// A raw IP protocol 112 socket on one interface: sends adverts with TTL/hop limit 255 from a
// chosen source address and receives them with the TTL and addresses the validator needs.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include "xlb/asio.hpp"
#include "ctrl/vrrp/netif.hpp"
#include "ctrl/vrrp/packet.hpp"

namespace xlb::vrrp {

struct Received {
  PacketMeta meta;
  std::vector<std::uint8_t> payload;  // the VRRP message
  DropReason ip_error = DropReason::none;
};

class AdvertSocket {
 public:
  // group: the multicast group to join (nullopt: unicast only).
  AdvertSocket(boost::asio::any_io_executor ex, const InterfaceInfo& ifc, bool ipv6,
               std::optional<Address> group);

  std::error_code send(std::span<const std::uint8_t> msg, const Address& src, const Address& dst);
  boost::asio::awaitable<Received> receive();
  void close() { sock_.close(); }
  const InterfaceInfo& interface() const { return ifc_; }

 private:
  InterfaceInfo ifc_;
  bool ipv6_;
  boost::asio::generic::raw_protocol::socket sock_;
  std::vector<std::uint8_t> buf_;
};

}  // namespace xlb::vrrp
