// Schedulers and what happens to flows when the real-server set changes, through
// BPF_PROG_TEST_RUN with the rings the control plane's builders produce.
#include <algorithm>
#include <map>

#include "tests/bpf/balancer/fixture.hpp"

namespace xlb::bpftest {
namespace {

using SchedulingTest = BalancerTest;

TEST_F(SchedulingTest, WrrTwoToOneGivesExactSplitInInterleavedOrder) {
  add_real(1);
  add_real(2);
  lb().configure(service(XLB_SCHED_WRR), members({{1, 2}, {2, 1}}));
  std::vector<std::uint32_t> order;
  for (std::uint32_t i = 0; i < 3000; ++i) {
    order.push_back(send(tcp(client_v4(i), static_cast<std::uint16_t>(10000 + i % 50000))));
  }
  std::map<std::uint32_t, int> count;
  for (auto r : order) ++count[r];
  EXPECT_EQ(count[1], 2000);
  EXPECT_EQ(count[2], 1000);
  EXPECT_EQ(count.count(0), 0u) << "some new flows were not forwarded";
  const std::vector<std::uint32_t> expected{1, 2, 1, 1, 2, 1, 1, 2, 1};
  EXPECT_EQ(std::vector<std::uint32_t>(order.begin(), order.begin() + 9), expected);
  for (std::size_t i = 3; i < order.size(); ++i) ASSERT_EQ(order[i], order[i - 3]) << "position " << i;
  EXPECT_EQ(lb().real_stats(1).new_flows, 2000u);
  EXPECT_EQ(lb().real_stats(2).new_flows, 1000u);
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 3000u);
  EXPECT_EQ(lb().counter(XLB_CTR_TX), 3000u);
}

TEST_F(SchedulingTest, RrIgnoresWeightsAndRotates) {
  for (std::uint32_t id : {1, 2, 3}) add_real(id);
  lb().configure(service(XLB_SCHED_RR), members({{1, 1}, {2, 5}, {3, 9}}));
  std::vector<std::uint32_t> order;
  for (std::uint32_t i = 0; i < 300; ++i) order.push_back(send(tcp(client_v4(i), 20000)));
  for (std::size_t i = 0; i < order.size(); ++i) ASSERT_EQ(order[i], i % 3 + 1) << "position " << i;
}

TEST_F(SchedulingTest, ShKeepsEachClientOnOneRealAcrossPorts) {
  for (std::uint32_t id : {1, 2, 3}) add_real(id);
  lb().configure(service(XLB_SCHED_SH), members({{1, 1}, {2, 1}, {3, 1}}));
  std::map<std::uint32_t, int> per_real;
  for (std::uint32_t c = 0; c < 300; ++c) {
    const std::uint32_t first = send(tcp(client_v4(c), 30000));
    ASSERT_NE(first, 0u);
    ++per_real[first];
    for (std::uint16_t port = 30001; port < 30008; ++port) {
      ASSERT_EQ(send(tcp(client_v4(c), port)), first) << "client " << client_v4(c).str() << " port " << port;
    }
  }
  // Every new flow went through the scheduler (distinct ports), not the flow table.
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 300u * 8);
  for (std::uint32_t id : {1, 2, 3}) EXPECT_GT(per_real[id], 50) << "real " << id << " got too few clients";
}

class MaglevTest : public BalancerTest {
 protected:
  static constexpr std::uint32_t kClients = 10000;
  static constexpr std::uint32_t kReals = 5;

  std::vector<std::uint32_t> assign_all() {
    std::vector<std::uint32_t> out;
    for (std::uint32_t c = 0; c < kClients; ++c) out.push_back(send(tcp(client_v4(c), 40000 + c % 1000)));
    return out;
  }

  static std::vector<dataplane::RingMember> all_but(std::uint32_t gone) {
    std::vector<dataplane::RingMember> out;
    for (std::uint32_t id = 1; id <= kReals; ++id) {
      if (id != gone) out.push_back({id, 1, real_addr(id).str() + ":80"});
    }
    return out;
  }
};

TEST_F(MaglevTest, RemovingOneOfNRealsMovesAboutOneNthOfFlows) {
  for (std::uint32_t id = 1; id <= kReals; ++id) add_real(id);
  lb().configure(service(XLB_SCHED_MH), all_but(0));
  const auto before = assign_all();
  std::map<std::uint32_t, int> share;
  for (auto r : before) ++share[r];
  for (std::uint32_t id = 1; id <= kReals; ++id) {
    EXPECT_NEAR(share[id], kClients / kReals, kClients / kReals / 4) << "real " << id;
  }

  lb().configure(service(XLB_SCHED_MH), all_but(kReals));
  lb().flush_flows();  // compare the schedulers' choices, not the connection table's memory
  const auto after = assign_all();
  int moved = 0;
  int moved_from_survivors = 0;
  for (std::uint32_t c = 0; c < kClients; ++c) {
    ASSERT_NE(after[c], 0u);
    ASSERT_NE(after[c], kReals) << "a removed real still gets new flows";
    if (after[c] != before[c]) {
      ++moved;
      if (before[c] != kReals) ++moved_from_survivors;
    }
  }
  const double fraction = static_cast<double>(moved) / kClients;
  RecordProperty("moved_fraction", std::to_string(fraction));
  EXPECT_NEAR(fraction, 1.0 / kReals, 0.05);
  EXPECT_LT(moved_from_survivors, static_cast<int>(kClients) / 20)
      << "Maglev should leave flows on surviving reals where they were";
}

TEST_F(MaglevTest, TwoNodesWithTheSameRealsChooseAlike) {
  for (std::uint32_t id = 1; id <= kReals; ++id) add_real(id);
  lb().configure(service(XLB_SCHED_MH), all_but(0));
  const auto here = assign_all();

  // A second LB node: its own maps, the reals listed in another order.
  BpfFsMount other_fs("bpftest");
  Balancer other(other_fs.path(), options());
  for (std::uint32_t id = 1; id <= kReals; ++id) {
    other.put_real(id, make_real(real_mac(id), kEgressMac, kLoopback, real_addr(id)));
  }
  auto reversed = all_but(0);
  std::reverse(reversed.begin(), reversed.end());
  other.configure(service(XLB_SCHED_MH), reversed);
  for (std::uint32_t c = 0; c < kClients; c += 7) {
    const auto r = other.run(build_packet(tcp(client_v4(c), 40000 + c % 1000)));
    ASSERT_EQ(real_of(r), here[c]) << "client " << c;
  }
}

TEST_F(SchedulingTest, WeightChangeAndNewRealsDoNotMoveEstablishedFlows) {
  for (std::uint32_t id : {1, 2, 3}) add_real(id);
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}, {2, 1}}));
  std::vector<std::uint32_t> first;
  for (std::uint32_t i = 0; i < 100; ++i) first.push_back(send(tcp(client_v4(i), 50000)));
  EXPECT_EQ(std::count(first.begin(), first.end(), 1u), 50);

  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}, {2, 5}, {3, 4}}));
  for (std::uint32_t i = 0; i < 100; ++i) {
    auto p = tcp(client_v4(i), 50000);
    p.tcp_flags = kTcpAck;
    ASSERT_EQ(send(p), first[i]) << "established flow " << i << " moved";
  }
  // New flows follow the new weights 1:5:4 exactly over whole rounds.
  std::map<std::uint32_t, int> fresh;
  for (std::uint32_t i = 0; i < 100; ++i) ++fresh[send(tcp(client_v4(i), 50001))];
  EXPECT_EQ(fresh[1], 10);
  EXPECT_EQ(fresh[2], 50);
  EXPECT_EQ(fresh[3], 40);
}

TEST_F(SchedulingTest, QuiescedRealKeepsItsFlowsAndGetsNoNewOnes) {
  add_real(1);
  add_real(2);
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}, {2, 1}}));
  std::vector<std::uint32_t> first;
  for (std::uint32_t i = 0; i < 20; ++i) first.push_back(send(tcp(client_v4(i), 50000)));
  ASSERT_EQ(std::count(first.begin(), first.end(), 2u), 10);

  add_real(2, XLB_REAL_F_QUIESCED);
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}, {2, 0}}));
  for (std::uint32_t i = 0; i < 20; ++i) {
    auto p = tcp(client_v4(i), 50000);
    p.tcp_flags = kTcpAck;
    ASSERT_EQ(send(p), first[i]) << "flow " << i;
  }
  for (std::uint32_t i = 100; i < 200; ++i) ASSERT_EQ(send(tcp(client_v4(i), 50000)), 1u);
}

TEST_F(SchedulingTest, QuiescedRealIsSkippedByPersistence) {
  add_real(1);
  add_real(2);
  auto spec = service(XLB_SCHED_WRR);
  spec.persist_timeout = 300;
  lb().configure(spec, members({{1, 1}, {2, 1}}));
  ASSERT_EQ(send(tcp(client_v4(1), 1000)), 1u);
  ASSERT_EQ(send(tcp(client_v4(2), 1000)), 2u);
  add_real(2, XLB_REAL_F_QUIESCED);
  lb().configure(spec, members({{1, 1}, {2, 0}}));
  EXPECT_EQ(send(tcp(client_v4(2), 1001)), 1u) << "persistence followed a quiesced real";
  EXPECT_EQ(send(tcp(client_v4(2), 1000)), 2u) << "the established flow must stay";
}

TEST_F(SchedulingTest, SorryServerTakesNewFlowsWhenNoRealIsUsable) {
  add_real(1);
  add_real(9);
  auto spec = service(XLB_SCHED_WRR);
  spec.sorry_real = 9;
  const auto ring = lb().configure(spec, members({{1, 0}}));
  ASSERT_TRUE(ring.empty());
  ASSERT_EQ(lb().vip(make_vip_key(kVip4, 80, kTcp))->ring_len, 0u);
  for (std::uint16_t port = 1000; port < 1010; ++port) EXPECT_EQ(send(tcp(client_v4(1), port)), 9u);
  EXPECT_EQ(lb().counter(XLB_CTR_SORRY), 10u);
  EXPECT_EQ(lb().counter(XLB_CTR_DROP_NO_REAL), 0u);

  // Once a real is back, new flows leave the sorry server.
  lb().configure(spec, members({{1, 1}}));
  EXPECT_EQ(send(tcp(client_v4(1), 2000)), 1u);
}

TEST_F(SchedulingTest, NoUsableRealAndNoSorryServerDropsAndCounts) {
  add_real(1);
  lb().configure(service(XLB_SCHED_MH), members({{1, 0}}));
  for (std::uint16_t port = 1000; port < 1005; ++port) {
    const auto r = lb().run(build_packet(tcp(client_v4(1), port)));
    EXPECT_EQ(r.action, XDP_DROP);
  }
  EXPECT_EQ(lb().counter(XLB_CTR_DROP_NO_REAL), 5u);
  EXPECT_EQ(lb().flow_count(), 0u);
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 0u);
}

TEST_F(SchedulingTest, AllPortsServiceCatchesAnyPort) {
  add_real(1);
  add_real(2);
  lb().configure(service(XLB_SCHED_RR, kVip4, 0), members({{1, 1}}));
  lb().configure([] {
    auto s = service(XLB_SCHED_RR, kVip4, 443);
    s.vip_id = 2;
    return s;
  }(), members({{2, 1}}));
  EXPECT_EQ(send(tcp(client_v4(1), 1000, kVip4, 8080)), 1u);
  EXPECT_EQ(send(tcp(client_v4(1), 1000, kVip4, 443)), 2u) << "the exact port wins over port 0";
  auto udp = tcp(client_v4(1), 1000, kVip4, 53);
  udp.proto = kUdp;
  EXPECT_EQ(send(udp), 0u) << "the all-ports service is for TCP only";
}

}  // namespace
}  // namespace xlb::bpftest
