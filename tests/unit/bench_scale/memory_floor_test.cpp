#include "bench/scale/memory_floor.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using xlb::bench::scale::measure_memory_floor;
using xlb::bench::scale::single_cycle_order;

// A chase that came back early would measure a few lines that stay cached, not the region.
TEST(MemoryFloor, ChaseOrderVisitsEveryLineOnceBeforeReturning) {
  for (const std::uint32_t lines : {2u, 3u, 1000u, 65537u}) {
    const auto next = single_cycle_order(lines, 7);
    ASSERT_EQ(next.size(), lines);
    std::vector<bool> seen(lines, false);
    std::uint32_t at = 0;
    for (std::uint32_t step = 0; step < lines; ++step) {
      ASSERT_FALSE(seen[at]) << "line " << at << " visited twice in a chase over " << lines;
      seen[at] = true;
      at = next[at];
    }
    EXPECT_EQ(at, 0u) << "the chase over " << lines << " lines does not close";
  }
}

TEST(MemoryFloor, DifferentSeedsGiveDifferentOrders) {
  EXPECT_NE(single_cycle_order(1000, 1), single_cycle_order(1000, 2));
}

// No figure is asserted (timing is the benchmark's business), only that both were measured.
TEST(MemoryFloor, SmallRegionMeasuresBothPageSizes) {
  const auto f = measure_memory_floor(4u << 20, 10000, 2);
  EXPECT_EQ(f.bytes, 4u << 20);
  EXPECT_GT(f.ns_small_pages, 0);
  EXPECT_GT(f.ns_huge_pages, 0);
}

TEST(MemoryFloor, RejectsARegionTooSmallToChase) {
  EXPECT_THROW(measure_memory_floor(64, 10, 1), std::invalid_argument);
}

}  // namespace
