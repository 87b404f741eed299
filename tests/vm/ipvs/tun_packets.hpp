// Packets for the TUN comparison in the VM lab: crafted client SYNs known byte for byte (IPv4 or
// IPv6), and the reader of what the real servers captured (the outer header summarised, the
// inner packet kept whole).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace xlb::vmtest {

using Bytes = std::vector<std::uint8_t>;
constexpr std::uint32_t kSeqBase = 0x786c6200;  // "xlb\0": marks the crafted SYNs (low byte: which one)

// A TCP SYN with everything fixed (IPv4: id, TTL 61, DF; IPv6: hop limit 61 and a fixed flow
// label; TOS / traffic class, sequence, window, one MSS option) and its checksums computed. The
// family follows the addresses.
Bytes crafted_syn(const std::string& src, const std::string& dst, std::uint16_t sport, std::uint16_t dport,
                  std::uint32_t seq, std::uint8_t tos);
// The packet as a router forwards it: TTL - 1 with the header checksum updated, or hop limit - 1.
Bytes hop_decremented(Bytes p);
std::string hex(const Bytes& b);

// The outer headers of one encapsulated packet as a real received it.
struct Outer {
  std::string kind;            // ipip, gue, gre (IPv4 outer); ip6ip6, ip4ip6, gue6 (IPv6 outer)
  std::string src, dst;
  int hop = 0;                 // TTL / hop limit
  int tos = 0;                 // TOS / traffic class
  bool df = false;             // IPv4 only
  std::uint32_t flow_label = 0;  // IPv6 only
  int next_header = 0;         // IPv4 protocol / IPv6 next header
  int udp_dport = 0;           // GUE
  std::string udp_csum;        // GUE: "0" (none), "ok" (verified), "bad"
  std::string summary() const;
};

// What a real received for one crafted packet.
struct Arrival {
  std::string real;  // "rs1" / "rs2"
  Outer outer;
  Bytes inner;       // the packet inside, as the client sent it
};

// Reads a pcap file (Ethernet, written on this machine) and adds, per crafted sequence number,
// what arrived there by IPIP, IP6IP6, IPv4 in IPv6, GUE (either family) or GRE.
void read_capture(const std::string& path, const std::string& real, std::map<std::uint32_t, Arrival>& out);

}  // namespace xlb::vmtest
