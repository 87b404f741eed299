// The per-CPU flow cache in front of the connection table: it serves established flows, and
// never outlives what it copies (a removed real, a removed VIP, a changed flow entry).
#include <bpf/libbpf.h>
#include <sched.h>

#include <cstring>

#include "tests/bpf/balancer/fixture.hpp"

namespace xlb::bpftest {
namespace {

class FlowCacheTest : public BalancerTest {
 protected:
  void SetUp() override {
    BalancerTest::SetUp();
    add_real(1);
    add_real(2);
    lb().configure(service(XLB_SCHED_WRR), members({{1, 1}}));
  }

  // This CPU's cache entry in the slot of the flow (the test thread is pinned).
  xlb_flow_cache_entry cached(const PacketSpec& p) {
    const xlb_flow_key key = make_flow_key(p);
    const auto entries = lb().flow_cache(xlb_flow_cache_slot(&key));
    const int cpu = sched_getcpu();
    EXPECT_GE(cpu, 0);
    EXPECT_LT(static_cast<std::size_t>(cpu), entries.size());
    return entries.at(static_cast<std::size_t>(cpu));
  }

  static bool same_key(const xlb_flow_cache_entry& e, const PacketSpec& p) {
    const xlb_flow_key key = make_flow_key(p);
    return std::memcmp(&e.key, &key, sizeof(key)) == 0;
  }

  // A flow on real 1 whose second packet has gone through the connection table into the cache.
  PacketSpec cached_flow(std::uint16_t port = 40000) {
    auto p = tcp(client_v4(1), port);
    EXPECT_EQ(send(p), 1u);
    p.tcp_flags = kTcpAck;
    EXPECT_EQ(send(p), 1u);
    const auto e = cached(p);
    EXPECT_TRUE(same_key(e, p)) << "the program and xlb_flow_cache_slot() disagree on the slot";
    EXPECT_EQ(e.real_id, 1u);
    EXPECT_EQ(e.vip_id, 1u);
    return p;
  }
};

TEST_F(FlowCacheTest, EstablishedFlowIsCachedWithItsRealVipAndGeneration) {
  lb().bump_flow_gen(1);
  const auto p = cached_flow();
  EXPECT_EQ(cached(p).flow_gen, 1u);
  EXPECT_NE(cached(p).filled, 0u);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(send(p), 1u);
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 1u);
  EXPECT_EQ(lb().real_stats(1).packets, 12u) << "cache hits count like table hits";
}

TEST_F(FlowCacheTest, ChangedFlowEntryWinsOverTheCacheOnceTheGenerationMoves) {
  const auto p = cached_flow();
  auto flow = lb().flow(make_flow_key(p));
  ASSERT_TRUE(flow.has_value());
  flow->real_id = 2;
  lb().put_flow(make_flow_key(p), *flow);  // bumps vip_state.flow_gen, as the control plane must
  EXPECT_EQ(send(p), 2u);
  EXPECT_EQ(cached(p).real_id, 2u) << "refilled from the connection table";
  EXPECT_EQ(cached(p).flow_gen, lb().vip_state(1).flow_gen);
}

TEST_F(FlowCacheTest, CachedFlowIsNeverForwardedToARemovedReal) {
  const auto p = cached_flow();
  lb().put_real(1, xlb_real{});  // removed; its flows not yet flushed
  const auto out = lb().run(build_packet(p));
  EXPECT_EQ(out.action, XDP_DROP);
  EXPECT_EQ(real_of(out), 0u);
  EXPECT_EQ(lb().counter(XLB_CTR_DROP_REAL_MISSING), 1u);
  // The control plane drops the real's flows: the next packet is placed afresh.
  lb().configure(service(XLB_SCHED_WRR), members({{2, 1}}));
  lb().flush_flows();
  EXPECT_EQ(send(p), 2u);
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 2u);
}

TEST_F(FlowCacheTest, RealIdReusedForAnotherServerDoesNotInheritCachedFlows) {
  const auto p = cached_flow();
  // The flow goes without a generation bump (a writer that does not announce it), and id 1
  // comes back as another server.
  const xlb_flow_key key = make_flow_key(p);
  ASSERT_EQ(bpf_map__delete_elem(lb().map("flows"), &key, sizeof(key), 0), 0);
  lb().put_real(1, make_real({0x02, 0x4e, 0, 0, 0x99, 0x99}, kEgressMac, kLoopback, real_addr(99)));
  lb().configure(service(XLB_SCHED_WRR), members({{2, 1}}));
  EXPECT_EQ(send(p), 2u) << "placed afresh, not sent to the server now behind id 1";
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 2u);
}

TEST_F(FlowCacheTest, CachedFlowStopsWithItsVip) {
  const auto p = cached_flow();
  // Removing a VIP clears its vip_state first, then the vips entry (flows go later).
  const std::uint32_t vip_id = 1;
  const xlb_vip_state gone{};
  ASSERT_EQ(bpf_map__update_elem(lb().map("vip_state"), &vip_id, sizeof(vip_id), &gone, sizeof(gone), BPF_ANY), 0);
  const auto key = make_vip_key(kVip4, 80, kTcp);
  ASSERT_EQ(bpf_map__delete_elem(lb().map("vips"), &key, sizeof(key), 0), 0);
  const Bytes frame = build_packet(p);
  const auto out = lb().run(frame);
  EXPECT_EQ(out.action, XDP_PASS);
  EXPECT_EQ(out.frame, frame);
}

TEST_F(FlowCacheTest, FlowsSharingASlotEachKeepTheirReal) {
  const auto first = cached_flow(40000);
  // Another client port whose key lands in the same slot.
  const xlb_flow_key first_key = make_flow_key(first);
  PacketSpec second = tcp(client_v4(1), 0);
  for (std::uint32_t port = 40001; port < 65536; ++port) {
    second.sport = static_cast<std::uint16_t>(port);
    const xlb_flow_key k = make_flow_key(second);
    if (xlb_flow_cache_slot(&k) == xlb_flow_cache_slot(&first_key)) break;
  }
  const xlb_flow_key second_key = make_flow_key(second);
  ASSERT_EQ(xlb_flow_cache_slot(&second_key), xlb_flow_cache_slot(&first_key)) << "no colliding port found";
  lb().configure(service(XLB_SCHED_WRR), members({{2, 1}}));  // new flows now go to real 2
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(send(second), 2u);
    EXPECT_EQ(send(first), 1u);
  }
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 2u);
}

}  // namespace
}  // namespace xlb::bpftest
