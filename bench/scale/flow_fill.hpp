// Fills a flow table ("flows", LRU hash with per-CPU LRU lists) with established flows from
// user space, split over the CPUs: with per-CPU LRU lists (xdp_flow_lru per_cpu) an update lands
// in the list of the CPU it runs on, which holds max_entries / CPUs; with shared lists (the
// default) the split changes nothing.
#pragma once

#include <cstdint>
#include <span>

#include "xlb/xlb_abi.h"

namespace xlb::bench::scale {

// Flow i: client 198.19.(i>>8 & 255).(i & 255), source port 1024 + (i >> 16), to vip:port TCP.
xlb_flow_key flow_key(std::uint32_t i, std::uint32_t vip_be, std::uint16_t port);

struct FillResult {
  std::uint64_t inserted = 0;
  double seconds = 0;
};

// Writes flows [0, count) with real ids taken round robin from `real_ids`, last used now
// (CLOCK_MONOTONIC_COARSE, the program's clock), split evenly over the possible CPUs.
FillResult fill_flows(int flows_fd, std::uint32_t count, std::uint32_t vip_be, std::uint16_t port,
                      std::uint32_t vip_id, std::span<const std::uint32_t> real_ids);

}  // namespace xlb::bench::scale
