// What a packet whose flow is not in the CPU caches cannot go below on this machine: one load
// at a random place in a region as large as the connection table, each load's address taken
// from the one before (as a hash table's entry address comes from its bucket). Measured with the
// page size the kernel gives BPF maps (4 KiB, vmalloc) and with 2 MiB pages beside it, so that
// the figure says how much of a miss is the page walk.
#pragma once

#include <cstdint>
#include <vector>

namespace xlb::bench::scale {

struct MemoryFloor {
  std::uint64_t bytes = 0;
  double ns_small_pages = 0;  // per dependent access, 4 KiB pages, best of the rounds
  double ns_huge_pages = 0;   // the same with 2 MiB pages, where the kernel granted them
  bool huge_pages_granted = false;
};

// `lines` cache-line indices in an order that visits every one once before it comes back to 0:
// next[i] is the line read after line i (Sattolo's shuffle makes one cycle of them all).
std::vector<std::uint32_t> single_cycle_order(std::uint32_t lines, std::uint64_t seed);

// Chases through `bytes` of anonymous memory for `loads` loads per round.
MemoryFloor measure_memory_floor(std::uint64_t bytes, std::uint64_t loads, int rounds);

}  // namespace xlb::bench::scale
