// Linked into every bpf and netns suite (cmake/testing.cmake): the labs create network
// namespaces and mount private bpffs instances, which the kernel allows only with
// CAP_SYS_ADMIN. A root shell without it (a hardened host, a container, `capsh
// --drop=cap_sys_admin`) lacks a precondition of the test lab, not a feature of xlb: every test
// of the suite is skipped with that reason instead of failing in its set-up. Without root the
// suites' own checks say "needs root".
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace xlb::test {
namespace {

// The effective set, from the kernel's own text: no libcap dependency for one bit.
std::uint64_t effective_capabilities() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("CapEff:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  }
  return 0;
}

constexpr int kSkipStatus = 77;

class LabPrivileges : public ::testing::Environment {
 public:
  void SetUp() override {
    // XLB_TEST_NO_PRIVILEGE_SKIP=1 runs the suite anyway: to find out what fails without it.
    if (::geteuid() != 0 || std::getenv("XLB_TEST_NO_PRIVILEGE_SKIP") != nullptr) return;
    const std::uint64_t eff = effective_capabilities();
    if (!(eff & (std::uint64_t{1} << CAP_SYS_ADMIN))) {
      char hex[17];
      std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(eff));
      // GTEST_SKIP() here would let gtest 1.12 count every test as passed; status 77 is ctest's
      // SKIP_RETURN_CODE for these suites (cmake/testing.cmake), so the suite shows as skipped.
      std::printf("[  SKIPPED ] every test of this suite: the test lab needs CAP_SYS_ADMIN (ip netns add, mount -t "
                  "bpf), which this process lacks (CapEff %s); see docs/operations.md\n",
                  hex);
      std::fflush(stdout);
      std::exit(kSkipStatus);
    }
  }
};

[[maybe_unused]] const auto* const registered = ::testing::AddGlobalTestEnvironment(new LabPrivileges);

}  // namespace
}  // namespace xlb::test
