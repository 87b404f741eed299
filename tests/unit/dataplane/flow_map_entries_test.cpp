// The flows map's size for a configured xdp_max_flows: no privileges, no kernel.
#include <gtest/gtest.h>

#include <stdexcept>

#include "ctrl/dataplane/bpf_program.hpp"

namespace {

using xlb::dataplane::flow_map_entries;
using xlb::dataplane::FlowLru;

TEST(FlowMapEntries, SharedListsGetTheirFreeEntriesPerCpuBeside) {
  EXPECT_EQ(flow_map_entries(4096, FlowLru::shared, 2), 4096u + 2 * 128);
  EXPECT_EQ(flow_map_entries(1000000, FlowLru::shared, 64), 1000000u + 64 * 128);
  EXPECT_EQ(flow_map_entries(1, FlowLru::shared, 1), 129u);
}

TEST(FlowMapEntries, PerCpuListsRoundUpAsTheKernelDoes) {
  EXPECT_EQ(flow_map_entries(4096, FlowLru::per_cpu, 2), 4096u);
  EXPECT_EQ(flow_map_entries(4095, FlowLru::per_cpu, 2), 4096u);
  EXPECT_EQ(flow_map_entries(1000, FlowLru::per_cpu, 3), 1002u);
  EXPECT_EQ(flow_map_entries(5, FlowLru::per_cpu, 0), 5u) << "an unknown CPU count counts as one";
}

TEST(FlowMapEntries, ASizeWithoutRoomIsRefused) {
  EXPECT_THROW(flow_map_entries(0xffffff00u, FlowLru::shared, 4), std::invalid_argument);
  EXPECT_THROW(flow_map_entries(0xffffffffu, FlowLru::per_cpu, 2), std::invalid_argument);
}

}  // namespace
