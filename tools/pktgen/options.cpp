#include "options.hpp"

#include "live_frames.hpp"

#include <arpa/inet.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <stdexcept>

namespace xlb::pktgen {

MacAddress parse_mac(const std::string& text) {
  MacAddress mac{};
  unsigned parts[6];
  char tail = 0;
  if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x%c", &parts[0], &parts[1], &parts[2], &parts[3], &parts[4],
                  &parts[5], &tail) != 6) {
    throw std::invalid_argument("not a MAC address: " + text);
  }
  for (int i = 0; i < 6; ++i) {
    if (parts[i] > 0xff) throw std::invalid_argument("not a MAC address: " + text);
    mac[i] = static_cast<std::uint8_t>(parts[i]);
  }
  return mac;
}

std::string format_mac(const MacAddress& mac) {
  char text[18];
  std::snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  return text;
}

namespace {

void parse_address(int family, const std::string& text, std::array<std::uint8_t, 16>& out, const char* what) {
  out.fill(0);
  if (inet_pton(family == 4 ? AF_INET : AF_INET6, text.c_str(), out.data()) != 1) {
    throw std::invalid_argument(std::string(what) + ": not an IPv" + std::to_string(family) + " address: " + text);
  }
}

unsigned min_frame_size(const Options& o) {
  unsigned l3 = o.family == 4 ? 20 : 40;
  unsigned l4 = o.proto == 6 ? 20 : 8;
  return 14 + l3 + l4 + 4;
}

}  // namespace

Options parse_options(int argc, char** argv) {
  Options o;
  CLI::App app{
      "xlb-pktgen: traffic generator on BPF_PROG_TEST_RUN live frames. Frames leave through --dev as if "
      "a program attached there had sent them with XDP_TX, so the XDP program on the peer end runs exactly "
      "as on a NIC. Per-second line on stderr, JSON summary on stdout."};
  std::string proto = "udp", src = "", dst, dst_mac, src_mac, cpus = "0";
  bool ipv6 = false;
  app.add_option("-i,--dev", o.device, "interface the frames leave through (required unless --probe)");
  app.add_option("--sink-dev", o.sink_device, "attach a counting XDP_DROP program here and report what comes back");
  app.add_flag("-6,--ipv6", ipv6, "IPv6 instead of IPv4");
  app.add_option("-p,--proto", proto, "udp or tcp")->check(CLI::IsMember({"udp", "tcp"}));
  app.add_option("--syn-percent", o.syn_percent, "TCP: percentage of SYN frames, the rest are ACKs")
      ->check(CLI::Range(0, 100));
  app.add_option("-s,--size", o.frame_size, "frame size on the wire, FCS included (at most MTU + 18)")
      ->check(CLI::Range(64, 3000));
  app.add_option("-f,--flows", o.flows, "number of flows (source address x source port)")->check(CLI::Range(1u, 1u << 30));
  app.add_option("--src-addrs", o.src_addrs, "distinct source addresses (consecutive from --src)")
      ->check(CLI::Range(1u, 1u << 24));
  app.add_option("--src", src, "first source address (default 198.18.0.1 / 2001:db8::1:1)");
  app.add_option("--src-port", o.src_port, "first source port");
  app.add_option("-d,--dst", dst, "destination address (the VIP; required unless --probe)");
  app.add_option("--dport", o.dst_port, "destination port");
  app.add_option("--dst-mac", dst_mac, "destination MAC (the LB interface; required unless --probe)");
  app.add_option("--src-mac", src_mac, "source MAC (default: the device's)");
  app.add_option("-r,--rate", o.rate_pps, "packets per second over all CPUs, 0 = unlimited");
  app.add_option("-t,--duration", o.duration_s, "seconds to run (default 10 unless --count)")->check(CLI::Range(0.0, 86400.0));
  app.add_option("--warmup", o.warmup_s, "seconds sent before the measured --duration (not with --count)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("-n,--count", o.count, "frames to send in total");
  app.add_option("-c,--cpus", cpus, "comma-separated CPUs, one pinned thread each");
  app.add_option("--batch", o.batch_size, "frames per live-frames batch (kernel limit 256)")->check(CLI::Range(1, 256));
  app.add_option("--chunk", o.chunk, "frames per BPF_PROG_TEST_RUN call, at most (default: one call per run)")
      ->check(CLI::Range(0u, 1u << 30));
  app.add_flag("-q,--quiet", o.quiet, "no per-second line");
  app.add_flag("--probe", o.probe_only,
               "only say whether this kernel runs live frames for this process (with --dev and --batch as given; "
               "without --dev, as received on lo) and exit 0 or 3");
  app.footer("Exit status: 0 done; 1 failed; " + std::to_string(kExitRefused) +
             " the kernel refused live frames (one line on stderr says what and why; see docs/operations.md); "
             "100 and above: a usage error.");
  try {
    app.parse(argc, argv);
    if (!o.probe_only) {
      // Required only when sending; CLI11 reports these as it would a ->required() option.
      if (o.device.empty()) throw CLI::RequiredError("--dev");
      if (dst.empty()) throw CLI::RequiredError("--dst");
      if (dst_mac.empty()) throw CLI::RequiredError("--dst-mac");
    }
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  if (o.probe_only) return o;

  o.family = ipv6 ? 6 : 4;
  o.proto = proto == "tcp" ? 6 : 17;
  if (o.syn_percent && o.proto != 6) throw std::invalid_argument("--syn-percent needs --proto tcp");
  if (src.empty()) src = ipv6 ? "2001:db8::1:1" : "198.18.0.1";
  parse_address(o.family, src, o.src_addr, "--src");
  parse_address(o.family, dst, o.dst_addr, "--dst");
  o.dst_mac = parse_mac(dst_mac);
  if (!src_mac.empty()) o.src_mac = parse_mac(src_mac);
  if (o.frame_size < min_frame_size(o)) {
    throw std::invalid_argument("--size " + std::to_string(o.frame_size) + " is below the headers' " +
                                std::to_string(min_frame_size(o)) + " bytes");
  }
  if (o.src_addrs > o.flows) o.src_addrs = o.flows;
  std::uint64_t ports = (std::uint64_t{o.flows} + o.src_addrs - 1) / o.src_addrs;
  if (o.src_port + ports - 1 > 65535) {
    throw std::invalid_argument(std::to_string(o.flows) + " flows over " + std::to_string(o.src_addrs) +
                                " addresses need ports " + std::to_string(o.src_port) + ".." +
                                std::to_string(o.src_port + ports - 1) + ": raise --src-addrs");
  }
  o.cpus.clear();
  for (const auto& part : CLI::detail::split(cpus, ',')) {
    if (part.empty()) continue;
    std::size_t used = 0;
    unsigned long cpu = std::stoul(part, &used);
    if (used != part.size()) throw std::invalid_argument("--cpus: not a CPU number: " + part);
    o.cpus.push_back(static_cast<unsigned>(cpu));
  }
  if (o.cpus.empty()) throw std::invalid_argument("--cpus: no CPU given");
  if (o.count == 0 && o.duration_s == 0) o.duration_s = 10;
  if (o.count && o.warmup_s > 0) throw std::invalid_argument("--warmup needs --duration, not --count");
  return o;
}

}  // namespace xlb::pktgen
