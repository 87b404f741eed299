// Whether this kernel, for this process, runs XDP programs in live-frames mode
// (BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES). Some kernels refuse it while ordinary
// test runs work, and a seccomp filter (a hardened systemd unit's SystemCallFilter) can refuse
// BPF_PROG_TEST_RUN altogether; the generator, its tests and the forwarding benchmark all ask
// here once, so that each of them says the same thing about the same refusal.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace xlb::pktgen {

// xlb-pktgen's exit status when the kernel refuses what it needs: distinct from 1 (any other
// failure) and from CLI11's usage errors (100 and up).
inline constexpr int kExitRefused = 3;

struct LiveFramesProbe {
  int error = 0;        // errno of the refused step; 0 when live frames work
  std::string refused;  // the step the kernel refused, in words
  std::string call;     // the same as the bpf() command (and flag) that failed

  bool works() const { return error == 0; }
  // One sentence, without the tool's name, that says what was refused and what to do; empty
  // when live frames work.
  std::string sentence() const;
};

// Loads a two-instruction XDP program that drops every frame (so the probe puts nothing on
// the wire) and runs it once in live-frames mode with ingress_ifindex and batch_size as the
// real run will use them. ifindex 0 runs it as if received on the loopback device.
LiveFramesProbe probe_live_frames(int ifindex = 0, std::uint32_t batch_size = 64);

}  // namespace xlb::pktgen
