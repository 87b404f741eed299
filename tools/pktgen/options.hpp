// What the user asked xlb-pktgen for, validated, before anything touches the kernel.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xlb::pktgen {

using MacAddress = std::array<std::uint8_t, 6>;

struct Options {
  std::string device;                    // frames leave through this interface (live-frames ingress)
  std::optional<std::string> sink_device;  // attach the counting sink here (frames that come back)
  int family = 4;                        // 4 or 6
  std::uint8_t proto = 17;               // IPPROTO_UDP or IPPROTO_TCP
  unsigned syn_percent = 0;              // TCP only: share of frames sent as SYN
  unsigned frame_size = 64;              // on the wire, FCS included (RFC 2544 sizes)
  std::uint32_t flows = 1;
  std::uint32_t src_addrs = 1;           // distinct source addresses; ports vary for the rest
  std::array<std::uint8_t, 16> src_addr{};  // first source address (IPv4 in the first 4 bytes)
  std::array<std::uint8_t, 16> dst_addr{};  // the VIP
  std::uint16_t src_port = 1024;
  std::uint16_t dst_port = 80;
  MacAddress dst_mac{};
  std::optional<MacAddress> src_mac;     // default: the device's own address
  std::uint64_t rate_pps = 0;            // 0: as fast as possible
  double duration_s = 0;                 // 0 with count 0: 10 s
  double warmup_s = 0;                   // sent before the measured window (duration mode)
  std::uint64_t count = 0;               // total frames; 0: run for duration_s
  std::vector<unsigned> cpus{0};
  std::uint32_t batch_size = 64;         // frames per kernel batch in live mode
  std::uint32_t chunk = 0;               // frames per BPF_PROG_TEST_RUN call, at most; 0 = no limit
  bool quiet = false;                    // no per-second line
  bool probe_only = false;               // --probe: say whether live frames work here, send nothing

  // Frame length as handed to the kernel: the FCS is the NIC's business.
  unsigned buffer_size() const { return frame_size - 4; }
};

// Parses argv; throws CLI::ParseError (for CLI11 to report) or std::invalid_argument.
Options parse_options(int argc, char** argv);

MacAddress parse_mac(const std::string& text);
std::string format_mac(const MacAddress& mac);

}  // namespace xlb::pktgen
