// Frames for BPF_PROG_TEST_RUN: Ethernet + IPv4 (optionally with options or fragmented) or
// IPv6 (optionally with a destination-options or fragment header) + TCP/UDP, and the ICMP
// errors that routers send about a VIP flow. Checksums are computed, so the frames are what a
// NIC would really deliver.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace xlb::bpftest {

using Bytes = std::vector<std::uint8_t>;
using Mac = std::array<std::uint8_t, 6>;

// An IPv4 or IPv6 address in network order; IPv4 uses the first 4 bytes.
struct Address {
  std::uint8_t family = 4;  // 4 or 6 (the ABI's XLB_FAMILY_*)
  std::array<std::uint8_t, 16> bytes{};

  static Address parse(const std::string& text);  // throws std::invalid_argument
  std::string str() const;
  // The ABI's __u32[4] form (network order words, IPv4 in word 0).
  std::array<std::uint32_t, 4> words() const;
  bool operator==(const Address&) const = default;
};

// The index-th client address, for tests that need many distinct clients: 198.19.x.y
// (65,536 of them; VIPs and reals live in 198.18/16) and 2001:db8:c1::/64.
Address client_v4(std::uint32_t index);
Address client_v6(std::uint32_t index);

inline constexpr std::uint8_t kTcp = 6;
inline constexpr std::uint8_t kUdp = 17;
inline constexpr std::uint8_t kIcmp = 1;
inline constexpr std::uint8_t kIcmpv6 = 58;

inline constexpr std::uint8_t kTcpSyn = 0x02;
inline constexpr std::uint8_t kTcpAck = 0x10;

struct PacketSpec {
  Mac src_mac{0x02, 0xc1, 0x1e, 0x00, 0x00, 0x01};
  Mac dst_mac{0x02, 0x1b, 0x00, 0x00, 0x00, 0x01};
  Address src;
  Address dst;
  std::uint8_t proto = kTcp;
  std::uint16_t sport = 40000;
  std::uint16_t dport = 80;
  std::uint8_t tcp_flags = kTcpSyn;
  std::size_t payload = 0;         // bytes of payload after the transport header
  std::size_t ipv4_options = 0;    // bytes of IPv4 options (NOPs + EOL), multiple of 4, <= 40
  bool ipv6_dest_options = false;  // a destination-options extension header before L4
  bool fragment = false;           // IPv4 fragment / IPv6 fragment header
  bool more_fragments = false;
  std::uint16_t fragment_offset = 0;  // in 8-byte units
};

// The whole frame; its length is exactly the headers plus payload (no Ethernet padding).
Bytes build_packet(const PacketSpec& spec);

// The IP datagram inside a frame (the frame without its Ethernet header).
Bytes ip_part(const Bytes& frame);

// ICMPv4 "fragmentation needed" from `router` to `to`, quoting `quoted_ip` (an IPv4 datagram,
// of which the header and the first 8 bytes of its payload are kept, as RFC 792 asks).
Bytes build_icmp4_frag_needed(const Mac& src_mac, const Mac& dst_mac, const Address& router, const Address& to,
                              const Bytes& quoted_ip, std::uint16_t mtu);

// ICMPv6 "packet too big" from `router` to `to`, quoting as much of `quoted_ip` as fits 1280.
Bytes build_icmp6_packet_too_big(const Mac& src_mac, const Mac& dst_mac, const Address& router, const Address& to,
                                 const Bytes& quoted_ip, std::uint32_t mtu);

Mac frame_dst_mac(const Bytes& frame);
Mac frame_src_mac(const Bytes& frame);
std::string mac_str(const Mac& mac);

}  // namespace xlb::bpftest
