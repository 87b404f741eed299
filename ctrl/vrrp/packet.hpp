// VRRP advertisement codec: v2 (RFC 3768) and v3 (RFC 5798), IPv4 and IPv6, and the checks a
// received advert must pass before the state machine may see it.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ctrl/vrrp/settings.hpp"

namespace xlb::vrrp {

inline constexpr int kIpProtoVrrp = 112;
inline constexpr std::size_t kAuthDataLen = 8;

// Why a received packet was dropped. Every reason has its own counter.
enum class DropReason : std::uint8_t {
  none = 0,
  too_short,
  bad_ip_header,
  bad_ttl,
  bad_version,
  bad_type,
  bad_checksum,
  other_vrid,  // another router's instance on the same link: normal, counted apart
  bad_length,
  address_mismatch,
  auth_mismatch,
  advert_int_mismatch,
  unknown_source,
  family_mismatch,
  own_packet,
  advert_int_out_of_range,  // v3: an interval a backup must not adopt (0, or far from ours)
  count_
};
inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::count_);
std::string_view to_string(DropReason r);

struct Advert {
  int version = 2;
  std::uint8_t vrid = 0;
  std::uint8_t priority = 0;
  Millis interval{1000};  // v2: whole seconds on the wire; v3: centiseconds
  std::uint8_t auth_type = 0;  // v2 only: 0 none, 1 simple password
  std::array<std::uint8_t, kAuthDataLen> auth_data{};
  std::vector<Address> addresses;
  bool operator==(const Advert&) const = default;
};

// Where an advert came from and went to, as the IP layer saw it.
struct PacketMeta {
  Address src;
  Address dst;
  int ttl = 0;
};

// Internet checksum (RFC 1071) over data, continuing from a partial sum.
std::uint32_t checksum_add(std::uint32_t sum, std::span<const std::uint8_t> data);
std::uint16_t checksum_fold(std::uint32_t sum);

// The VRRP message (no IP header). src/dst feed the v3 pseudo-header.
std::vector<std::uint8_t> encode(const Advert& a, const Address& src, const Address& dst,
                                 ChecksumMode mode);

// Parses the VRRP message and checks version, type, length and checksum.
DropReason decode(std::span<const std::uint8_t> msg, const PacketMeta& meta, ChecksumMode mode,
                  Advert& out);

// Splits an IPv4 packet (as a raw socket delivers it) into meta and payload.
DropReason parse_ipv4(std::span<const std::uint8_t> pkt, PacketMeta& meta,
                      std::span<const std::uint8_t>& payload);

// What this instance expects from its peers; checked after decode().
struct Expectation {
  int version = 2;
  std::uint8_t vrid = 0;
  Millis advert_int{1000};
  std::string auth_pass;
  std::vector<Address> addresses;     // advertised VIPs, compared as a set
  std::vector<PeerSettings> peers;    // unicast peers (TTL window, source check)
  bool check_unicast_src = false;
  bool multicast = true;
};

// A v3 backup adopts the master's interval (RFC 5798 6.4.2); it adopts one only within this
// factor of its own advert_int, so that an advert of 0 cs cannot make it flap and one of 40.95 s
// cannot leave the VIP unowned for two minutes.
inline constexpr int kLearnedAdvertIntFactor = 10;

DropReason validate(const Advert& a, const PacketMeta& meta, const Expectation& e);

// The 8 bytes of v2 PASS authentication data for a password.
std::array<std::uint8_t, kAuthDataLen> pass_auth_data(std::string_view password);

}  // namespace xlb::vrrp
