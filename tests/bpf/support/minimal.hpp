// The minimal "parse + MAC rewrite + XDP_TX" program, loaded for BPF_PROG_TEST_RUN: the baseline
// that bench/packet_cost and bench/scale measure beside the balancer in the same run.
#pragma once

struct xlb_minimal;

namespace xlb::bpftest {

class MinimalProgram {
 public:
  // Loads the program and sets its next hop, so that the compiler cannot fold the rewrite away.
  MinimalProgram();
  ~MinimalProgram();
  MinimalProgram(const MinimalProgram&) = delete;
  MinimalProgram& operator=(const MinimalProgram&) = delete;

  int fd() const;

 private:
  xlb_minimal* skel_ = nullptr;
};

}  // namespace xlb::bpftest
