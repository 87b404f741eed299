#include "live_frames.hpp"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "xlb/unique_fd.hpp"

namespace xlb::pktgen {

std::string LiveFramesProbe::sentence() const {
  if (works()) return {};
  return "the kernel refused " + refused + " (" + call + ": " + std::strerror(error) +
         "); the generator cannot send here. Needs root with CAP_BPF/CAP_SYS_ADMIN and CAP_NET_ADMIN and a kernel "
         "that allows live frames (5.18+); see docs/operations.md";
}

LiveFramesProbe probe_live_frames(int ifindex, std::uint32_t batch_size) {
  LiveFramesProbe probe;
  // r0 = XDP_DROP; exit. Dropping keeps the probe off the wire: a test that counts what its
  // peer received must not see it.
  const std::array<bpf_insn, 2> insns = {{
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = XDP_DROP},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  }};
  const UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_XDP, "xlb_live_probe", "GPL", insns.data(), insns.size(), nullptr));
  if (prog.get() < 0) {
    probe.error = errno;
    probe.refused = "loading an XDP program";
    probe.call = "BPF_PROG_LOAD";
    return probe;
  }
  // The smallest Ethernet frame; its content does not matter to a program that drops it.
  std::array<std::uint8_t, 60> frame{};
  frame[12] = 0x08;  // EtherType IPv4
  xdp_md ctx{};
  ctx.data_end = static_cast<__u32>(frame.size());
  ctx.ingress_ifindex = static_cast<__u32>(ifindex);
  // Without an ifindex the kernel takes the loopback device of the caller's namespace.
  const __u32 ctx_size = ifindex ? static_cast<__u32>(sizeof(ctx)) : 0u;
  LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = frame.data(), .data_size_in = static_cast<__u32>(frame.size()),
              .ctx_in = ifindex ? &ctx : nullptr, .ctx_size_in = ctx_size, .repeat = 1,
              .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = batch_size);
  if (bpf_prog_test_run_opts(prog.get(), &run) != 0) {
    probe.error = errno;
    probe.refused = "live-frame test runs";
    probe.call = "BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES";
  }
  return probe;
}

}  // namespace xlb::pktgen
