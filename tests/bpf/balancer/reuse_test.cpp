// A client port used again, and reals that are addresses of the node itself: a bare SYN on the
// 5-tuple of a connection its client ended is a new connection, scheduled afresh (weights,
// drains, persistence), while a SYN retransmitted during a handshake stays on its real; a local
// real's packets are handed to the node's own stack unchanged.
#include <cstring>

#include "tests/bpf/balancer/fixture.hpp"

namespace xlb::bpftest {
namespace {

inline constexpr std::uint8_t kTcpFin = 0x01;
inline constexpr std::uint8_t kTcpRst = 0x04;
inline constexpr std::uint64_t kSecond = 1'000'000'000ULL;

class PortReuseTest : public BalancerTest {
 protected:
  void SetUp() override {
    BalancerTest::SetUp();
    add_real(1);
    add_real(2);
    lb().configure(service(XLB_SCHED_WRR), members({{1, 1}, {2, 1}}));
  }

  // One packet of the client's connection from `port` with these flags; the real it went to.
  std::uint32_t send_flags(std::uint16_t port, std::uint8_t flags, std::uint32_t client = 7) {
    auto p = tcp(client_v4(client), port);
    p.tcp_flags = flags;
    return send(p);
  }

  // A whole connection as the client sends it: SYN, ACK, data, and `end` (FIN or RST).
  std::uint32_t connection(std::uint16_t port, std::uint8_t end, std::uint32_t client = 7) {
    const std::uint32_t real = send_flags(port, kTcpSyn, client);
    EXPECT_NE(real, 0u);
    EXPECT_EQ(send_flags(port, kTcpAck, client), real);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(send_flags(port, kTcpAck, client), real) << "data packet " << i;
    EXPECT_EQ(send_flags(port, static_cast<std::uint8_t>(end | kTcpAck), client), real);
    return real;
  }

  // The drain of xlbctl weight REAL 0: the real stays, quiesced, out of the ring.
  void drain(std::uint32_t id) {
    add_real(id, XLB_REAL_F_QUIESCED);
    const std::uint32_t other = id == 1 ? 2 : 1;
    lb().configure(service(XLB_SCHED_WRR), members({{other, 1}}));
    lb().bump_cache_epoch();
  }

  xlb_flow flow_of(std::uint16_t port, std::uint32_t client = 7) {
    const auto f = lb().flow(make_flow_key(tcp(client_v4(client), port)));
    EXPECT_TRUE(f.has_value());
    return f.value_or(xlb_flow{});
  }
};

TEST_F(PortReuseTest, SynAfterTheClientsResetGoesPastADrainedReal) {
  for (std::uint16_t port = 41000; port < 41004; ++port) {
    const std::uint32_t first = connection(port, kTcpRst);
    EXPECT_EQ(flow_of(port).client_state, XLB_FLOW_S_OPEN | XLB_FLOW_S_ENDED);
    drain(first);
    const std::uint32_t again = send_flags(port, kTcpSyn);
    EXPECT_NE(again, 0u);
    EXPECT_NE(again, first) << "port " << port << ": a new connection went to the drained real";
    EXPECT_EQ(flow_of(port).client_state, 0u) << "the new connection starts with a fresh state";
    EXPECT_EQ(send_flags(port, kTcpAck), again) << "its handshake follows the new choice";
    add_real(first);
    lb().configure(service(XLB_SCHED_WRR), members({{1, 1}, {2, 1}}));
  }
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_REOPENED), 4u);
}

TEST_F(PortReuseTest, SynAfterTheClientsFinIsANewConnection) {
  const std::uint32_t first = connection(41100, kTcpFin);
  drain(first);
  EXPECT_NE(send_flags(41100, kTcpSyn), first);
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_REOPENED), 1u);
}

// An established connection whose client was not seen ending it (its FIN lost, or the server
// closed and the client reused the port at once): the SYN is still a new connection.
TEST_F(PortReuseTest, SynOnAnEstablishedFlowIsANewConnection) {
  const std::uint32_t first = send_flags(41200, kTcpSyn);
  ASSERT_EQ(send_flags(41200, kTcpAck), first);
  ASSERT_EQ(flow_of(41200).client_state, XLB_FLOW_S_OPEN);
  drain(first);
  EXPECT_NE(send_flags(41200, kTcpSyn), first);
}

TEST_F(PortReuseTest, RetransmittedSynStaysOnItsRealThroughADrain) {
  const std::uint32_t first = send_flags(41300, kTcpSyn);
  drain(first);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(send_flags(41300, kTcpSyn), first) << "retransmission " << i;
  EXPECT_EQ(send_flags(41300, kTcpAck), first) << "the handshake completes on the real that answered";
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_REOPENED), 0u);
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 1u);
}

// A flow of SYNs alone that has been silent longer than SYN retransmissions leave: another
// attempt, not a retransmission.
TEST_F(PortReuseTest, SynAfterALongSilenceIsAnotherAttempt) {
  const std::uint32_t first = send_flags(41400, kTcpSyn);
  const auto key = make_flow_key(tcp(client_v4(7), 41400));
  xlb_flow old = flow_of(41400);
  old.last_seen = coarse_now_ns() - 61 * kSecond;
  lb().put_flow(key, old);
  drain(first);
  EXPECT_NE(send_flags(41400, kTcpSyn), first);
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_REOPENED), 1u);
}

// Established packets are served by the per-CPU flow cache, which never sees the flags: a SYN
// reusing a cached flow must still reach the table.
TEST_F(PortReuseTest, SynOfACachedFlowIsDecidedByTheTable) {
  const std::uint32_t first = send_flags(41500, kTcpSyn);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(send_flags(41500, kTcpAck), first);
  const auto key = make_flow_key(tcp(client_v4(7), 41500));
  ASSERT_GT(lb().pending().real(first).packets, 0u) << "the flow is not served from the cache";
  // The drain rewrites the reals entry; without the epoch move the cache would keep serving.
  add_real(first, XLB_REAL_F_QUIESCED);
  lb().configure(service(XLB_SCHED_WRR), members({{first == 1 ? 2u : 1u, 1}}));
  const std::uint32_t again = send_flags(41500, kTcpSyn);
  EXPECT_NE(again, first);
  EXPECT_EQ(send_flags(41500, kTcpAck), again) << "the cache kept the old connection's real";
  EXPECT_EQ(lb().flow(key)->real_id, again);
}

TEST_F(PortReuseTest, Ipv6PortReuseIsScheduledAfresh) {
  add_real(3, 0, 6);
  add_real(4, 0, 6);
  auto v6 = service(XLB_SCHED_WRR, kVip6);
  v6.vip_id = 2;
  lb().configure(v6, members({{3, 1}, {4, 1}}));
  auto p = tcp(client_v6(9), 42000, kVip6);
  const std::uint32_t first = send(p);
  ASSERT_NE(first, 0u);
  p.tcp_flags = kTcpAck;
  ASSERT_EQ(send(p), first);
  p.tcp_flags = kTcpRst;
  ASSERT_EQ(send(p), first);
  add_real(first, XLB_REAL_F_QUIESCED, 6);
  lb().configure(v6, members({{first == 3 ? 4u : 3u, 1}}));
  p.tcp_flags = kTcpSyn;
  EXPECT_NE(send(p), first);
}

// With persistence, a port reused after a non-persistent connection follows the client's
// template, not the old connection's real.
TEST_F(PortReuseTest, ReusedPortFollowsThePersistenceTemplate) {
  ASSERT_EQ(connection(43000, kTcpFin, 11), 1u);  // wrr's first pick on this CPU
  auto persistent = service(XLB_SCHED_WRR);
  persistent.persist_timeout = 50;
  lb().configure(persistent, members({{1, 1}, {2, 1}}));
  lb().put_persist(make_persist_key(client_v4(11), 32, 1), xlb_persist{.real_id = 2, .pad = 0, .last_seen = coarse_now_ns()});
  EXPECT_EQ(send_flags(43000, kTcpSyn, 11), 2u);
  for (std::uint16_t port = 43001; port < 43050; ++port) EXPECT_EQ(send_flags(port, kTcpSyn, 11), 2u);
}

// A backup (VIP not active) places no new connection: the reused port's SYN goes to its kernel,
// and nothing counts as rescheduled.
TEST_F(PortReuseTest, BackupPassesAReusedPortsSyn) {
  connection(41600, kTcpRst);
  auto inactive = service(XLB_SCHED_WRR);
  inactive.flags = 0;
  lb().configure(inactive, members({{1, 1}, {2, 1}}));
  auto p = tcp(client_v4(7), 41600);
  EXPECT_EQ(lb().run(build_packet(p)).action, XDP_PASS);
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_REOPENED), 0u);
  EXPECT_EQ(lb().counter(XLB_CTR_PASS_INACTIVE), 1u);
}

class LocalRealTest : public BalancerTest {};

// IPVS's "Local": a real (here the sorry server 127.0.0.1) at an address of the node itself.
TEST_F(LocalRealTest, LocalSorryServerGetsTheFrameUnchangedThroughTheStack) {
  lb().put_real(5, make_real(Mac{}, Mac{}, 0, Address::parse("127.0.0.1"), XLB_REAL_F_LOCAL));
  auto spec = service(XLB_SCHED_WRR);
  spec.sorry_real = 5;
  lb().configure(spec, {});
  const auto p = tcp(client_v4(3), 44000);
  const Bytes frame = build_packet(p);
  const RunResult r = lb().run(frame);
  EXPECT_EQ(r.action, XDP_PASS);
  EXPECT_EQ(r.frame, frame) << "a local real's frame must reach the stack as it came";
  auto ack = p;
  ack.tcp_flags = kTcpAck;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(lb().run(build_packet(ack)).action, XDP_PASS) << "packet " << i;
  EXPECT_EQ(lb().counter(XLB_CTR_SORRY), 1u);
  EXPECT_EQ(lb().counter(XLB_CTR_LOCAL), 6u);
  EXPECT_EQ(lb().counter(XLB_CTR_PASS), 0u) << "local deliveries are not counted as traffic for other addresses";
  EXPECT_EQ(lb().real_stats(5).packets, 6u);
  EXPECT_EQ(lb().real_stats(5).new_flows, 1u);
  EXPECT_EQ(lb().vip_stats(1).packets, 6u);
  EXPECT_EQ(lb().flow(make_flow_key(p))->real_id, 5u);
}

TEST_F(LocalRealTest, LocalRealSharesTheRingWithRemoteOnes) {
  add_real(1);
  lb().put_real(2, make_real(Mac{}, Mac{}, 0, Address::parse("198.18.0.2"), XLB_REAL_F_LOCAL));
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}, {2, 1}}));
  int forwarded = 0, local = 0;
  for (std::uint16_t port = 45000; port < 45100; ++port) {
    const RunResult r = lb().run(build_packet(tcp(client_v4(4), port)));
    if (r.action == XDP_TX && real_of(r) == 1) ++forwarded;
    if (r.action == XDP_PASS) ++local;
  }
  EXPECT_EQ(forwarded, 50);
  EXPECT_EQ(local, 50);
  EXPECT_EQ(lb().counter(XLB_CTR_LOCAL), 50u);
}

}  // namespace
}  // namespace xlb::bpftest
