// ns/packet of the balancer (BPF_PROG_TEST_RUN) with a connection table holding one flow and
// with it full, for an established flow and for new flows.
#pragma once

#include <cstdint>

#include "bench/scale/common.hpp"

namespace xlb::bench::scale {

struct PacketScaleOptions {
  std::uint32_t max_flows = 1u << 20;  // table size; filled completely for the "full" case
  int repeat = 1000000;                // repeat=N rows
  int distinct = 10000;                // frames per round in the repeat=1 rows
  int rounds = 5;                      // best of this many rounds
};

Json run_packet_scale(const PacketScaleOptions& options);

}  // namespace xlb::bench::scale
