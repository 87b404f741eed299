// What capture costs the XDP balancer (bpf/capture.h), through BPF_PROG_TEST_RUN on one
// established IPv4 TCP flow, beside the minimal program measured in the same rounds:
//   off       nothing captures: the gate alone (one load and a branch at the verdict point);
//   filtered  a capture runs whose filter keeps this flow out: the gate, the lease check and
//             the filter, no copy;
//   captured  every packet copied (--snaplen bytes) into the ring while a reader thread on
//             another CPU drains it as `xlbctl capture` does: the cost per captured packet,
//             and how many records the ring had no room for.
// Best of --rounds rounds (the machine is shared). The figures go to docs/performance.md.
#include <linux/bpf.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "tests/bpf/support/harness.hpp"
#include "tests/bpf/support/minimal.hpp"
#include "tools/xlbctl/capture_session.hpp"

namespace xlb::bench {
namespace {

using bpftest::Address;
using bpftest::Bytes;

struct Options {
  int repeat = 1000000;
  int rounds = 5;
  std::uint32_t snaplen = 128;
};

bpftest::PacketSpec flow_packet(std::uint8_t flags) {
  bpftest::PacketSpec p;
  p.src = bpftest::client_v4(2);
  p.dst = Address::parse("198.18.0.10");
  p.sport = 2000;
  p.dport = 80;
  p.tcp_flags = flags;
  p.payload = 10;  // a 64-byte frame, as packet_cost's
  return p;
}

struct Figures {
  double minimal = 1e9, off = 1e9, filtered = 1e9, captured = 1e9;
  std::uint64_t recorded = 0, lost = 0;
};

int run(const Options& o) {
  bpftest::CpuPin pin;
  bpftest::BpfFsMount fs("bench-capture-cost");
  bpftest::Balancer lb(fs.path());
  bpftest::MinimalProgram minimal;
  const bpftest::Mac dst = bpftest::PacketSpec{}.dst_mac;
  const Address real = Address::parse("198.18.1.1");
  // The real has the frame's own MAC: repeat=N reruns the program on the frame it rewrote.
  lb.put_real(1, bpftest::make_real(dst, {0x02, 0x1b, 0, 0, 0, 0xee}, 1, real));
  bpftest::ServiceSpec svc;
  svc.vip = Address::parse("198.18.0.10");
  lb.configure(svc, std::vector<dataplane::RingMember>{{1, 1, real.str() + ":80"}});
  bpftest::test_run(lb.prog_fd(), bpftest::build_packet(flow_packet(bpftest::kTcpSyn)));
  const Bytes frame = bpftest::build_packet(flow_packet(bpftest::kTcpAck));
  bpftest::PacketSpec other = flow_packet(bpftest::kTcpAck);
  other.dst = Address::parse("198.18.0.99");
  const Bytes minimal_frame = bpftest::build_packet(other);

  Figures f;
  for (int r = 0; r < o.rounds; ++r) {
    f.minimal = std::min(f.minimal, bpftest::cpu_ns_per_run(minimal.fd(), minimal_frame, o.repeat, XDP_TX));
    f.off = std::min(f.off, bpftest::cpu_ns_per_run(lb.prog_fd(), frame, o.repeat, XDP_TX));
    {
      ctl::CaptureOptions keep_out;
      keep_out.client = "198.19.255.255";
      ctl::CaptureSession session(fs.path(), ctl::capture_config_from(keep_out), [](auto&&, auto&&) {},
                                  std::chrono::minutes(10));
      f.filtered = std::min(f.filtered, bpftest::cpu_ns_per_run(lb.prog_fd(), frame, o.repeat, XDP_TX));
    }
    ctl::CaptureOptions all;
    all.snaplen = o.snaplen;
    std::atomic<std::uint64_t> read{0};
    ctl::CaptureSession session(fs.path(), ctl::capture_config_from(all), [&](auto&&, auto&&) { ++read; },
                                std::chrono::minutes(10));
    std::atomic<bool> done{false};
    std::thread reader([&] {
      while (!done) session.poll(std::chrono::milliseconds(10));
      session.drain();
    });
    const double ns = bpftest::cpu_ns_per_run(lb.prog_fd(), frame, o.repeat, XDP_TX);
    done = true;
    reader.join();
    const auto counts = session.counts();
    if (ns < f.captured) {
      f.captured = ns;
      f.recorded = counts.recorded;
      f.lost = counts.lost;
    }
  }
  const double packets = static_cast<double>(f.recorded + f.lost);
  std::printf("capture_cost: ns/packet through BPF_PROG_TEST_RUN, repeat=%d, CPU %d, best of %d rounds\n", o.repeat,
              pin.cpu(), o.rounds);
  std::printf("minimal program                      %6.2f ns\n", f.minimal);
  std::printf("established IPv4, nothing capturing  %6.2f ns  (%.2fx minimal)\n", f.off, f.off / f.minimal);
  std::printf("established IPv4, capture filtered   %6.2f ns  (%.2fx minimal, +%.2f ns)\n", f.filtered,
              f.filtered / f.minimal, f.filtered - f.off);
  std::printf("established IPv4, every packet       %6.2f ns  (%.2fx minimal, +%.2f ns per captured packet, "
              "snaplen %u)\n",
              f.captured, f.captured / f.minimal, f.captured - f.off, o.snaplen);
  std::printf("  records written %llu, lost (ring full) %llu: %.1f%% lost with one reader thread\n",
              static_cast<unsigned long long>(f.recorded), static_cast<unsigned long long>(f.lost),
              packets > 0 ? 100.0 * static_cast<double>(f.lost) / packets : 0.0);
  return 0;
}

}  // namespace
}  // namespace xlb::bench

int main(int argc, char** argv) {
  xlb::bench::Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--repeat") o.repeat = std::stoi(argv[i + 1]);
    else if (arg == "--rounds") o.rounds = std::stoi(argv[i + 1]);
    else if (arg == "--snaplen") o.snaplen = static_cast<std::uint32_t>(std::stoul(argv[i + 1]));
  }
  try {
    return xlb::bench::run(o);
  } catch (const std::exception& e) {
    std::cerr << "xlb-bench-capture-cost: " << e.what() << "\n";
    return 1;
  }
}
