// A TCP SYN without ACK opens a connection: it is scheduled without a connection-table lookup
// and its entry replaces an older one on the same tuple (IPVS conn_reuse_mode), while
// persistence, inactive VIPs, fragments and the flow cache keep their rules.
#include <bpf/libbpf.h>
#include <sched.h>

#include <cstring>
#include <optional>

#include "tests/bpf/balancer/fixture.hpp"

namespace xlb::bpftest {
namespace {

// Moves the calling thread to another CPU for a scope, then back to the one it came from.
class OnCpu {
 public:
  explicit OnCpu(int cpu) : back_(sched_getcpu()) { move(cpu); }
  ~OnCpu() { move(back_); }
  OnCpu(const OnCpu&) = delete;
  OnCpu& operator=(const OnCpu&) = delete;

 private:
  static void move(int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof(one), &one) != 0) throw std::system_error(errno, std::generic_category());
  }
  int back_;
};

class SynTest : public BalancerTest {
 protected:
  void SetUp() override {
    BalancerTest::SetUp();
    add_real(1);
    add_real(2);
  }

  static PacketSpec ack(PacketSpec p) {
    p.tcp_flags = kTcpAck;
    return p;
  }

  xlb_flow_cache_entry cached(const PacketSpec& p, int cpu) {
    const xlb_flow_key key = make_flow_key(p);
    return lb().flow_cache(xlb_flow_cache_slot(&key)).at(static_cast<std::size_t>(cpu));
  }

  std::uint32_t flow_real(const PacketSpec& p) {
    const auto flow = lb().flow(make_flow_key(p));
    return flow ? flow->real_id : 0;
  }

  // Another CPU this thread may run on, if any.
  static std::optional<int> other_cpu(int self) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return std::nullopt;
    // The fixture pinned us: ask for the process's possible CPUs instead.
    const int n = libbpf_num_possible_cpus();
    for (int cpu = 0; cpu < n; ++cpu) {
      if (cpu == self) continue;
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      if (sched_setaffinity(0, sizeof(one), &one) == 0) {
        CPU_ZERO(&one);
        CPU_SET(self, &one);
        sched_setaffinity(0, sizeof(one), &one);
        return cpu;
      }
    }
    return std::nullopt;
  }

  // Ages one CPU's cache entry in the flow's slot by the cache TTL, as time would.
  void age_cached(const PacketSpec& p, int cpu) {
    const xlb_flow_key key = make_flow_key(p);
    const std::uint32_t slot = xlb_flow_cache_slot(&key);
    auto entries = lb().flow_cache(slot);
    entries.at(static_cast<std::size_t>(cpu)).filled -= XLB_FLOW_CACHE_TTL_JIFFIES;
    static_assert(sizeof(xlb_flow_cache_entry) % 8 == 0, "per-CPU values are 8-byte strided");
    ASSERT_EQ(bpf_map__update_elem(lb().map("flow_cache"), &slot, sizeof(slot), entries.data(),
                                   entries.size() * sizeof(xlb_flow_cache_entry), 0),
              0);
  }

  int cpu() const { return sched_getcpu(); }
};

TEST_F(SynTest, SynReusingATupleIsRescheduledAndItsAckFollowsTheNewEntry) {
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}, {2, 1}}));
  const auto syn = tcp(client_v4(1), 40000);
  ASSERT_EQ(send(syn), 1u);
  ASSERT_EQ(send(ack(syn)), 1u);
  ASSERT_EQ(send(ack(syn)), 1u);
  ASSERT_EQ(cached(syn, cpu()).real_id, 1u) << "the old connection's entry is cached on this CPU";
  const auto old_flow = lb().flow(make_flow_key(syn));
  ASSERT_TRUE(old_flow.has_value());

  EXPECT_EQ(send(syn), 2u) << "a SYN on a known tuple is scheduled (wrr: the next real)";
  EXPECT_EQ(flow_real(syn), 2u) << "and replaces the old entry";
  EXPECT_GE(lb().flow(make_flow_key(syn))->created, old_flow->created);
  EXPECT_EQ(cached(syn, cpu()).real_id, 2u) << "this CPU's cache slot took the new entry";
  EXPECT_EQ(send(ack(syn)), 2u) << "the ACK follows the new entry, not the old cached one";
  EXPECT_EQ(send(ack(syn)), 2u);
  EXPECT_EQ(lb().flow_count(), 1u);
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 2u);
  EXPECT_EQ(lb().real_stats(2).new_flows, 1u);
}

TEST_F(SynTest, RetransmittedSynLandsWhereItsAckGoes) {
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}, {2, 1}}));
  const auto syn = tcp(client_v4(1), 40000);
  const std::uint32_t first = send(syn);
  ASSERT_NE(first, 0u);
  const std::uint32_t again = send(syn);  // SYN-ACK lost: the client sends the SYN again
  ASSERT_NE(again, 0u);
  EXPECT_EQ(flow_real(syn), again);
  EXPECT_EQ(send(ack(syn)), again) << "the handshake completes with the real that got the last SYN";
  EXPECT_EQ(lb().flow_count(), 1u);
}

TEST_F(SynTest, RetransmittedSynKeepsItsRealUnderSourceHashing) {
  lb().configure(service(XLB_SCHED_SH), members({{1, 1}, {2, 1}}));
  for (std::uint32_t c = 1; c <= 8; ++c) {
    const auto syn = tcp(client_v4(c), 40000);
    const std::uint32_t first = send(syn);
    ASSERT_NE(first, 0u);
    EXPECT_EQ(send(syn), first) << "client " << c;
    EXPECT_EQ(send(ack(syn)), first) << "client " << c;
  }
}

TEST_F(SynTest, PersistenceStillPinsAClientWhoseTupleIsReopened) {
  auto spec = service(XLB_SCHED_WRR);
  spec.persist_timeout = 300;
  lb().configure(spec, members({{1, 1}, {2, 1}}));
  const auto syn = tcp(client_v4(1), 40000);
  const std::uint32_t pinned = send(syn);
  ASSERT_NE(pinned, 0u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(send(syn), pinned) << "reopened tuple, round " << i;
    EXPECT_EQ(send(ack(syn)), pinned);
    EXPECT_EQ(send(tcp(client_v4(1), static_cast<std::uint16_t>(41000 + i))), pinned) << "other port";
  }
  EXPECT_EQ(lb().counter(XLB_CTR_PERSIST_HIT), 8u) << "every SYN but the first met the template";
  // A different client is scheduled, so wrr still turns.
  EXPECT_NE(send(tcp(client_v4(2), 40000)), 0u);
}

TEST_F(SynTest, SynToAnInactiveVipFollowsAKnownFlowAndPassesOtherwise) {
  auto spec = service(XLB_SCHED_WRR);
  lb().configure(spec, members({{1, 1}, {2, 1}}));
  const auto known = tcp(client_v4(1), 40000);
  ASSERT_EQ(send(known), 1u);
  spec.flags = 0;  // this node lost VRRP mastership
  lb().configure(spec, members({{1, 1}, {2, 1}}));
  EXPECT_EQ(send(known), 1u) << "a backup still forwards the flows it knows, SYN or not";
  const Bytes fresh = build_packet(tcp(client_v4(2), 40000));
  const auto out = lb().run(fresh);
  EXPECT_EQ(out.action, XDP_PASS);
  EXPECT_EQ(out.frame, fresh);
  EXPECT_EQ(lb().counter(XLB_CTR_PASS_INACTIVE), 1u);
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 1u);
}

TEST_F(SynTest, SynWithNothingToScheduleKeepsTheKnownFlow) {
  auto spec = service(XLB_SCHED_WRR);
  lb().configure(spec, members({{1, 1}}));
  const auto syn = tcp(client_v4(1), 40000);
  ASSERT_EQ(send(syn), 1u);
  lb().configure(spec, members({{1, 0}}));  // no usable real left in the ring
  EXPECT_EQ(send(syn), 1u) << "as before: a known tuple keeps its real when nothing can be scheduled";
  const Bytes fresh = build_packet(tcp(client_v4(2), 40000));
  EXPECT_EQ(lb().run(fresh).action, XDP_DROP);
  EXPECT_EQ(lb().counter(XLB_CTR_DROP_NO_REAL), 1u);
}

TEST_F(SynTest, SorryServerTakesAReopenedTupleWhenNoRealIsUsable) {
  add_real(9);
  auto spec = service(XLB_SCHED_WRR);
  spec.sorry_real = 9;
  lb().configure(spec, members({{1, 1}}));
  const auto syn = tcp(client_v4(1), 40000);
  ASSERT_EQ(send(syn), 1u);
  lb().configure(spec, members({{1, 0}}));
  EXPECT_EQ(send(syn), 9u) << "a new connection with no usable real goes to the sorry server";
  EXPECT_EQ(send(ack(syn)), 9u);
  EXPECT_EQ(lb().counter(XLB_CTR_SORRY), 1u);
}

TEST_F(SynTest, FirstFragmentWithSynIsStillDropped) {
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}}));
  auto p = tcp(client_v4(1), 40000);
  p.fragment = true;
  p.more_fragments = true;
  p.payload = 16;
  const auto out = lb().run(build_packet(p));
  EXPECT_EQ(out.action, XDP_DROP);
  EXPECT_EQ(lb().counter(XLB_CTR_DROP_FRAGMENT), 1u);
  EXPECT_EQ(lb().flow_count(), 0u);
}

TEST_F(SynTest, Ipv6SynReusingATupleIsRescheduled) {
  add_real(3, 0, 6);
  add_real(4, 0, 6);
  auto spec = service(XLB_SCHED_WRR, kVip6);
  lb().configure(spec, members({{3, 1}, {4, 1}}));
  const auto syn = tcp(client_v6(1), 40000, kVip6);
  const std::uint32_t first = send(syn);
  ASSERT_NE(first, 0u);
  ASSERT_EQ(send(ack(syn)), first);
  const std::uint32_t second = send(syn);
  EXPECT_NE(second, 0u);
  EXPECT_NE(second, first);
  EXPECT_EQ(send(ack(syn)), second);
}

// The decision documented in xlb_abi.h: a SYN refreshes the cache of the CPU it runs on (the
// CPU that RSS steers the whole tuple to); another CPU's copy of the old entry is used until
// it is XLB_FLOW_CACHE_TTL_JIFFIES old, and never after.
TEST_F(SynTest, AnotherCpusCopyOfAReopenedTupleLastsAtMostTheCacheTtl) {
  const int self = cpu();
  const auto other = other_cpu(self);
  if (!other) GTEST_SKIP() << "one usable CPU: no other CPU's cache to observe";
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}, {2, 1}}));
  const auto syn = tcp(client_v4(1), 40000);
  std::uint64_t filled = 0;
  {
    OnCpu there(*other);
    ASSERT_EQ(send(syn), 1u);  // that CPU's rr cursor starts at the first real
    ASSERT_EQ(send(ack(syn)), 1u);
    ASSERT_EQ(cached(syn, *other).real_id, 1u);
    filled = cached(syn, *other).filled;
  }
  ASSERT_EQ(send(tcp(client_v4(2), 40000)), 1u);  // moves this CPU's cursor past real 1
  ASSERT_EQ(send(syn), 2u) << "the tuple reopened here";
  ASSERT_EQ(send(ack(syn)), 2u);
  {
    OnCpu there(*other);
    const std::uint32_t seen = send(ack(syn));
    const auto entry = cached(syn, *other);
    if (seen == 1u) {
      EXPECT_EQ(entry.filled, filled) << "only a copy younger than the TTL may still send to the old real";
    } else {
      EXPECT_EQ(seen, 2u);
      EXPECT_EQ(entry.real_id, 2u);
    }
    age_cached(syn, *other);
    EXPECT_EQ(send(ack(syn)), 2u) << "a copy as old as the TTL is never used";
    EXPECT_EQ(cached(syn, *other).real_id, 2u) << "refilled from the connection table";
  }
}

}  // namespace
}  // namespace xlb::bpftest
