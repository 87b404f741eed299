// The baseline programs of bpf/minimal.bpf.c, loaded for BPF_PROG_TEST_RUN: what bench/packet_cost
// and bench/scale measure beside the balancer in the same run.
#pragma once

#include <cstddef>
#include <cstdint>

struct xlb_minimal;

namespace xlb::bpftest {

class MinimalProgram {
 public:
  // Loads both programs and sets their next hop, so that the compiler cannot fold the rewrite
  // away. The table program's flows map holds max_flows as xlbd sizes its own (shared LRU lists
  // and their room).
  explicit MinimalProgram(std::uint32_t max_flows = 4096);
  ~MinimalProgram();
  MinimalProgram(const MinimalProgram&) = delete;
  MinimalProgram& operator=(const MinimalProgram&) = delete;

  // Parse + MAC rewrite + XDP_TX.
  int fd() const;
  // The same, and the flow looked up in the connection table and inserted when it is not there.
  int table_fd() const;
  int table_map_fd() const;
  std::uint32_t table_entries() const;  // the map's max_entries
  std::size_t table_flows() const;
  void clear_table();

 private:
  xlb_minimal* skel_ = nullptr;
};

}  // namespace xlb::bpftest
