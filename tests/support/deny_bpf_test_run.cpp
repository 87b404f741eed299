// deny_bpf_test_run COMMAND [ARG...]: runs COMMAND with BPF_PROG_TEST_RUN refused (EPERM) by a
// seccomp filter, everything else allowed. See deny_bpf_test_run.hpp.
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "deny_bpf_test_run.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s COMMAND [ARG...]\n", argv[0]);
    return 2;
  }
  if (int err = xlb::test::deny_bpf_test_run()) {
    std::fprintf(stderr, "deny_bpf_test_run: installing the seccomp filter: %s\n", std::strerror(err));
    return 125;
  }
  ::execvp(argv[1], argv + 1);
  std::fprintf(stderr, "deny_bpf_test_run: %s: %s\n", argv[1], std::strerror(errno));
  return 127;
}
