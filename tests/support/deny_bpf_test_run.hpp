// Refuses BPF_PROG_TEST_RUN to the calling thread and everything it executes, with EPERM, as a
// hardened systemd unit's SystemCallFilter would: the way to meet a kernel that refuses live
// frames on a machine whose kernel allows them. Every other bpf() command, and every other
// system call, goes through.
#pragma once

#include <linux/audit.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace xlb::test {

// The filter's idea of "native": a system call number means a different call under another
// architecture, so the filter must not judge one by its number before the architecture matches.
#if defined(__x86_64__)
inline constexpr std::uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
inline constexpr std::uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "deny_bpf_test_run: add this architecture's AUDIT_ARCH_ value"
#endif

// bpf()'s first argument is an int: the low half of the 64-bit args[0].
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
inline constexpr std::uint32_t kArg0Low = offsetof(seccomp_data, args[0]);
#else
inline constexpr std::uint32_t kArg0Low = offsetof(seccomp_data, args[0]) + 4;
#endif

// Installs the filter; 0, or the errno of the prctl that failed.
inline int deny_bpf_test_run() {
  constexpr auto stmt = [](std::uint16_t code, std::uint32_t k) { return sock_filter{code, 0, 0, k}; };
  constexpr auto jeq = [](std::uint32_t k, std::uint8_t jt, std::uint8_t jf) {
    return sock_filter{BPF_JMP | BPF_JEQ | BPF_K, jt, jf, k};
  };
  sock_filter program[] = {
      stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      jeq(kAuditArch, 1, 0),
      stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),  // foreign architecture: as SystemCallArchitectures=native
      stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      jeq(__NR_bpf, 0, 3),
      stmt(BPF_LD | BPF_W | BPF_ABS, kArg0Low),
      jeq(BPF_PROG_TEST_RUN, 0, 1),
      stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  const sock_fprog fprog{static_cast<unsigned short>(sizeof(program) / sizeof(program[0])), program};
  // What systemd does too (NoNewPrivileges=yes); it also lets the filter in without CAP_SYS_ADMIN.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) != 0) return errno;
  return 0;
}

}  // namespace xlb::test
