#include "tests/bpf/support/minimal.hpp"

#include <bpf/libbpf.h>

#include <stdexcept>

#include "xlb/minimal.skel.h"

namespace xlb::bpftest {

MinimalProgram::MinimalProgram() {
  skel_ = xlb_minimal__open();
  if (!skel_ || xlb_minimal__load(skel_) != 0) {
    xlb_minimal__destroy(skel_);
    throw std::runtime_error("load the minimal program");
  }
  for (int i = 0; i < 6; ++i) skel_->bss->next_hop[i] = static_cast<unsigned char>(0x40 + i);
}

MinimalProgram::~MinimalProgram() { xlb_minimal__destroy(skel_); }

int MinimalProgram::fd() const { return bpf_program__fd(skel_->progs.xlb_minimal); }

}  // namespace xlb::bpftest
