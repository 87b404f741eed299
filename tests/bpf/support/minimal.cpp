#include "tests/bpf/support/minimal.hpp"

#include <bpf/libbpf.h>

#include <stdexcept>

#include "ctrl/dataplane/bpf_program.hpp"
#include "tests/bpf/support/harness.hpp"
#include "xlb/minimal.skel.h"

namespace xlb::bpftest {

MinimalProgram::MinimalProgram(std::uint32_t max_flows) {
  skel_ = xlb_minimal__open();
  if (!skel_) throw std::runtime_error("open the minimal programs");
  try {
    dataplane::shape_flow_map(skel_->maps.flows, max_flows, dataplane::FlowLru::shared);
    if (xlb_minimal__load(skel_) != 0) throw std::runtime_error("load the minimal programs");
  } catch (...) {
    xlb_minimal__destroy(skel_);
    throw;
  }
  for (int i = 0; i < 6; ++i) skel_->bss->next_hop[i] = static_cast<unsigned char>(0x40 + i);
}

MinimalProgram::~MinimalProgram() { xlb_minimal__destroy(skel_); }

int MinimalProgram::fd() const { return bpf_program__fd(skel_->progs.xlb_minimal); }

int MinimalProgram::table_fd() const { return bpf_program__fd(skel_->progs.xlb_minimal_table); }

int MinimalProgram::table_map_fd() const { return bpf_map__fd(skel_->maps.flows); }

std::uint32_t MinimalProgram::table_entries() const { return bpf_map__max_entries(skel_->maps.flows); }

std::size_t MinimalProgram::table_flows() const { return keys_of_flows_map(skel_->maps.flows).size(); }

void MinimalProgram::clear_table() {
  for (const auto& key : keys_of_flows_map(skel_->maps.flows)) {
    bpf_map__delete_elem(skel_->maps.flows, &key, sizeof(key), 0);
  }
}

}  // namespace xlb::bpftest
