#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "tests/support/deny_bpf_test_run.hpp"
#include "tests/support/shell.hpp"
#include "tools/pktgen/live_frames.hpp"

namespace xlb::pktgen::test {
namespace {

std::string pktgen() { return xlb::test::env_or("XLB_BINARY_DIR", ".") + "/tools/pktgen/xlb-pktgen"; }
std::string deny() {
  return xlb::test::env_or("XLB_BINARY_DIR", ".") + "/tests/bpf/live_frames/xlb-deny-bpf-test-run";
}

// What the probe found in a child process that first installed the filter: the probe must be
// judged under the refusal itself, and the filter cannot be taken off again.
struct ChildProbe {
  int install_error = -1;
  int error = -1;
  bool load_refused = false;
};

ChildProbe probe_in_filtered_child() {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    ChildProbe out;
    out.install_error = xlb::test::deny_bpf_test_run();
    if (out.install_error == 0) {
      const LiveFramesProbe probe = probe_live_frames();
      out.error = probe.error;
      out.load_refused = probe.refused == "loading an XDP program";
    }
    [[maybe_unused]] ssize_t n = ::write(fds[1], &out, sizeof(out));
    ::_exit(0);
  }
  ::close(fds[1]);
  ChildProbe out;
  if (pid < 0 || ::read(fds[0], &out, sizeof(out)) != static_cast<ssize_t>(sizeof(out))) out = {};
  ::close(fds[0]);
  if (pid > 0) ::waitpid(pid, nullptr, 0);
  return out;
}

class LiveFrames : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: BPF_PROG_LOAD and BPF_PROG_TEST_RUN";
  }
};

TEST_F(LiveFrames, ProbeReportsTheRefusalOfASeccompFilter) {
  const ChildProbe child = probe_in_filtered_child();
  ASSERT_EQ(child.install_error, 0) << std::strerror(child.install_error);
  // Loading is still allowed: the probe names the test run, the step that was refused.
  EXPECT_FALSE(child.load_refused);
  EXPECT_EQ(child.error, EPERM) << (child.error > 0 ? std::strerror(child.error) : "no answer from the child");
}

TEST_F(LiveFrames, TheSentenceSaysWhatWasRefusedAndWhatToDo) {
  LiveFramesProbe refused;
  refused.error = EPERM;
  refused.refused = "live-frame test runs";
  refused.call = "BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES";
  EXPECT_EQ(refused.sentence(),
            "the kernel refused live-frame test runs (BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES: "
            "Operation not permitted); the generator cannot send here. Needs root with CAP_BPF/CAP_SYS_ADMIN and "
            "CAP_NET_ADMIN and a kernel that allows live frames (5.18+); see docs/operations.md");
  EXPECT_EQ(LiveFramesProbe{}.sentence(), "");
}

TEST_F(LiveFrames, PktgenUnderTheFilterPrintsTheSentenceAndExitsRefused) {
  const std::string expected = "xlb-pktgen: the kernel refused live-frame test runs (BPF_PROG_TEST_RUN with "
                               "BPF_F_TEST_XDP_LIVE_FRAMES: Operation not permitted); the generator cannot send "
                               "here. Needs root with CAP_BPF/CAP_SYS_ADMIN and CAP_NET_ADMIN and a kernel that "
                               "allows live frames (5.18+); see docs/operations.md\n";
  const auto probe = xlb::test::run(deny() + " " + pktgen() + " --probe");
  EXPECT_EQ(probe.status, kExitRefused);
  EXPECT_EQ(probe.out, expected);
  // A real run, in a network namespace of its own so that nothing could leave it: refused
  // before it sends, with the same line, and no JSON summary.
  const auto send = xlb::test::run("unshare --net sh -c 'ip link set lo up && " + deny() + " " + pktgen() +
                                   " --dev lo --dst 198.18.1.1 --dst-mac 02:00:00:00:00:01 --count 10 --quiet'");
  EXPECT_EQ(send.status, kExitRefused);
  EXPECT_EQ(send.out, expected);
}

// Without CAP_BPF and CAP_SYS_ADMIN the kernel refuses the program itself: both tools say so in
// one line with status 3. In a namespace of their own, so that nothing could attach to a host
// interface had the drop not worked.
TEST_F(LiveFrames, BothToolsExitRefusedWhenTheProgramLoadIsRefused) {
  if (xlb::test::run("command -v capsh").status != 0) GTEST_SKIP() << "capsh is not installed";
  const std::string target = xlb::test::env_or("XLB_BINARY_DIR", ".") + "/tools/pktgen/xlb-pktgen-target";
  const auto unprivileged = [](const std::string& command) {
    return xlb::test::run("unshare --net capsh --drop=cap_bpf,cap_sys_admin -- -c '" + command + "'");
  };
  const auto gen = unprivileged(pktgen() + " --probe");
  EXPECT_EQ(gen.status, kExitRefused) << gen.out;
  EXPECT_NE(gen.out.find("xlb-pktgen: the kernel refused loading an XDP program (BPF_PROG_LOAD: Operation not "
                         "permitted); the generator cannot send here."),
            std::string::npos)
      << gen.out;
  const auto tgt = unprivileged(target + " --dev lo --program minimal");
  EXPECT_EQ(tgt.status, kExitRefused) << tgt.out;
  EXPECT_NE(tgt.out.find("xlb-pktgen-target: the kernel refused loading the minimal programs (Operation not "
                         "permitted); the program cannot be attached here. Needs root with CAP_BPF/CAP_SYS_ADMIN"),
            std::string::npos)
      << tgt.out;
}

TEST_F(LiveFrames, RefusedIsNotAUsageError) {
  const auto missing = xlb::test::run(pktgen() + " --dst 198.18.1.1 --dst-mac 02:00:00:00:00:01");
  EXPECT_GE(missing.status, 100) << missing.out;
  EXPECT_NE(missing.out.find("--dev is required"), std::string::npos) << missing.out;
  const auto help = xlb::test::run(pktgen() + " --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find(std::to_string(kExitRefused) + " the kernel refused live frames"), std::string::npos)
      << help.out;
}

// A live-frames run written here, apart from the probe: a probe that refused where this works
// would skip the pktgen suites on a machine that can run them. Three instructions, so that
// it is not the probe's program; it drops, so nothing reaches the stack.
int independent_live_run() {
  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = XDP_DROP},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  const int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xlb_test_live", "GPL", insns, 3, nullptr);
  if (fd < 0) return errno;
  std::uint8_t frame[64] = {};
  LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = frame, .data_size_in = sizeof(frame), .repeat = 2,
              .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 1);
  const int err = bpf_prog_test_run_opts(fd, &run) == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

// Without the filter, the probe, `xlb-pktgen --probe` and a live run of the test's own agree:
// where live frames work, all say so (and the pktgen suites run); where the kernel refuses,
// the probe and the tool give the same sentence.
TEST_F(LiveFrames, ProbeAndToolAgreeWithoutTheFilter) {
  const LiveFramesProbe probe = probe_live_frames();
  EXPECT_EQ(probe.error, independent_live_run()) << probe.sentence();
  const auto tool = xlb::test::run(pktgen() + " --probe");
  if (probe.works()) {
    EXPECT_EQ(tool.status, 0) << tool.out;
    EXPECT_NE(tool.out.find("live frames work here"), std::string::npos) << tool.out;
  } else {
    EXPECT_EQ(tool.status, kExitRefused) << tool.out;
    EXPECT_EQ(tool.out, "xlb-pktgen: " + probe.sentence() + "\n");
  }
}

}  // namespace
}  // namespace xlb::pktgen::test
