// Persistence templates and connection-table idle timeouts. Expiry is tested by writing an
// old last_seen into the map entry (the program compares it with the coarse monotonic
// clock), so no test sleeps.
#include "tests/bpf/balancer/fixture.hpp"

namespace xlb::bpftest {
namespace {

constexpr std::uint64_t kSecond = 1000000000ULL;

class PersistenceTest : public BalancerTest {
 protected:
  static constexpr std::uint32_t kTimeout = 300;

  void SetUp() override {
    BalancerTest::SetUp();
    add_real(1);
    add_real(2);
  }

  void configure(std::uint32_t prefix) {
    auto spec = service(XLB_SCHED_WRR);
    spec.persist_timeout = kTimeout;
    spec.persist_prefix = prefix;
    lb().configure(spec, members({{1, 1}, {2, 1}}));
  }

  // Makes the client's template look `age_s` seconds old.
  void age_template(const Address& client, std::uint32_t prefix, std::uint64_t age_s) {
    const auto key = make_persist_key(client, prefix, 1);
    auto entry = lb().persist(key);
    ASSERT_TRUE(entry.has_value()) << "no template for " << client.str();
    entry->last_seen = coarse_now_ns() - age_s * kSecond;
    lb().put_persist(key, *entry);
  }
};

TEST_F(PersistenceTest, NewConnectionsFromOneClientStickAcrossSourcePorts) {
  configure(32);
  const std::uint32_t first = send(tcp(client_v4(7), 1000));
  ASSERT_NE(first, 0u);
  for (std::uint16_t port = 1001; port < 1020; ++port) {
    EXPECT_EQ(send(tcp(client_v4(7), port)), first) << "port " << port;
  }
  EXPECT_EQ(lb().counter(XLB_CTR_PERSIST_HIT), 19u);
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 20u);
  // Another client is scheduled normally (wrr moves on to the other real).
  EXPECT_NE(send(tcp(client_v4(8), 1000)), first);
}

TEST_F(PersistenceTest, GranularityGroupsClientsUnderTheMask) {
  configure(24);
  const Address a = Address::parse("198.19.4.1");
  const Address b = Address::parse("198.19.4.200");
  const Address c = Address::parse("198.19.5.1");
  const std::uint32_t first = send(tcp(a, 1000));
  EXPECT_EQ(send(tcp(b, 2000)), first) << "same /24";
  EXPECT_NE(send(tcp(c, 3000)), first) << "another /24 is scheduled (wrr: the other real)";
}

TEST_F(PersistenceTest, TemplateExpiresAfterTheTimeoutAndIsRefreshedWhileUsed) {
  configure(32);
  const Address client = client_v4(3);
  ASSERT_EQ(send(tcp(client, 1000)), 1u);

  age_template(client, 32, kTimeout - 5);
  EXPECT_EQ(send(tcp(client, 1001)), 1u) << "template still valid";
  const auto refreshed = lb().persist(make_persist_key(client, 32, 1));
  ASSERT_TRUE(refreshed.has_value());
  EXPECT_GT(refreshed->last_seen + 2 * kSecond, coarse_now_ns()) << "a hit must refresh the template";

  age_template(client, 32, kTimeout + 5);
  // wrr's cursor sits on real 2 now: an expired template lets the scheduler choose it.
  EXPECT_EQ(send(tcp(client, 1002)), 2u) << "expired template was followed";
  EXPECT_EQ(lb().persist(make_persist_key(client, 32, 1))->real_id, 2u);
  EXPECT_EQ(lb().counter(XLB_CTR_PERSIST_HIT), 1u);
}

TEST_F(PersistenceTest, Ipv6ClientsPersistUnderA64) {
  add_real(1, 0, 6);
  add_real(2, 0, 6);
  auto spec = service(XLB_SCHED_WRR, kVip6);
  spec.persist_timeout = kTimeout;
  spec.persist_prefix = 64;
  lb().configure(spec, members({{1, 1}, {2, 1}}));
  const std::uint32_t first = send(tcp(client_v6(1), 1000, kVip6));
  for (std::uint32_t c = 2; c < 10; ++c) EXPECT_EQ(send(tcp(client_v6(c), 1000, kVip6)), first);
}

class IdleTimeoutTest : public BalancerTest {
 protected:
  void SetUp() override {
    BalancerTest::SetUp();
    lb().write_settings(10, 5);
    add_real(1);
    add_real(2);
    lb().configure(service(XLB_SCHED_WRR), members({{1, 1}}));
    lb().configure(udp_service(), members({{1, 1}}));
  }

  static ServiceSpec udp_service() {
    auto s = service(XLB_SCHED_WRR, kVip4, 53);
    s.proto = kUdp;
    s.vip_id = 2;
    return s;
  }

  void age_flow(const PacketSpec& p, std::uint64_t age_s) {
    auto flow = lb().flow(make_flow_key(p));
    ASSERT_TRUE(flow.has_value());
    flow->last_seen = coarse_now_ns() - age_s * kSecond;
    lb().put_flow(make_flow_key(p), *flow);
  }
};

TEST_F(IdleTimeoutTest, FlowsIdleLongerThanTheSettingsTimeoutAreRescheduled) {
  auto t = tcp(client_v4(1), 1000);
  auto u = tcp(client_v4(1), 1000, kVip4, 53);
  u.proto = kUdp;
  ASSERT_EQ(send(t), 1u);
  ASSERT_EQ(send(u), 1u);
  // New rings send new flows to real 2 only; established ones stay on 1 while alive.
  lb().configure(service(XLB_SCHED_WRR), members({{2, 1}}));
  lb().configure(udp_service(), members({{2, 1}}));
  t.tcp_flags = kTcpAck;

  age_flow(t, 8);
  EXPECT_EQ(send(t), 1u) << "TCP flow idle 8 s < tcp_timeout 10 s";
  age_flow(u, 8);
  EXPECT_EQ(send(u), 2u) << "UDP flow idle 8 s > udp_timeout 5 s";
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_EXPIRED), 1u);

  age_flow(t, 12);
  EXPECT_EQ(send(t), 2u) << "TCP flow idle 12 s > tcp_timeout 10 s";
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_EXPIRED), 2u);
  // An ACK opens no flow: it went where the scheduler said, and the next SYN opens one there.
  EXPECT_EQ(lb().counter(XLB_CTR_MIDSTREAM_FORWARDED), 1u);
  t.tcp_flags = kTcpSyn;
  EXPECT_EQ(send(t), 2u);
  EXPECT_EQ(lb().flow(make_flow_key(t))->real_id, 2u);
}

TEST_F(IdleTimeoutTest, TimeoutsAreReadAtRunTime) {
  auto t = tcp(client_v4(1), 1000);
  ASSERT_EQ(send(t), 1u);
  lb().configure(service(XLB_SCHED_WRR), members({{2, 1}}));
  t.tcp_flags = kTcpAck;
  lb().write_settings(60, 5);
  age_flow(t, 30);
  EXPECT_EQ(send(t), 1u) << "tcp_timeout raised to 60 s";
  lb().write_settings(20, 5);
  age_flow(t, 30);
  EXPECT_EQ(send(t), 2u) << "tcp_timeout lowered to 20 s";
}

TEST_F(IdleTimeoutTest, TrafficRefreshesTheIdleClock) {
  auto t = tcp(client_v4(1), 1000);
  ASSERT_EQ(send(t), 1u);
  t.tcp_flags = kTcpAck;
  age_flow(t, 9);
  ASSERT_EQ(send(t), 1u);
  const auto flow = lb().flow(make_flow_key(t));
  ASSERT_TRUE(flow.has_value());
  EXPECT_GT(flow->last_seen + 2 * kSecond, coarse_now_ns());
  EXPECT_LE(flow->created, flow->last_seen);
}

}  // namespace
}  // namespace xlb::bpftest
