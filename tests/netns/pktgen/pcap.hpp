// Reads a classic pcap file (as written by tcpdump -w) and checks frames independently of the
// generator's own code: its own checksum and header parsing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace xlb::pktgen::test {

std::vector<std::vector<std::uint8_t>> read_pcap(const std::filesystem::path& file);

struct ParsedFrame {
  std::uint8_t dst_mac[6];
  int family = 0;         // 4 or 6
  std::uint8_t proto = 0;
  std::string src;        // text form
  std::string dst;
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint8_t tcp_flags = 0;
  bool ip_checksum_ok = true;  // IPv4 header checksum (IPv6 has none)
  bool l4_checksum_ok = false;
  std::size_t length = 0;
};

// Nullopt for frames that are not IPv4/IPv6 TCP/UDP.
std::optional<ParsedFrame> parse_frame(const std::vector<std::uint8_t>& frame);

}  // namespace xlb::pktgen::test
