#include <gtest/gtest.h>
#include <linux/ip_vs.h>

#include "ctrl/dataplane/ipvs/dest_plan.hpp"

namespace xlb::dataplane::ipvs {
namespace {

IpAddress ip(const char* s) { return boost::asio::ip::make_address(s); }

ServiceSpec seed_spec() {
  ServiceSpec s;
  s.key.address = ip("198.18.0.100");
  s.key.port = 80;
  s.persistence_timeout = 50;
  s.sorry_server = RealServer{ip("127.0.0.1"), 80, 1, Forwarding::dr};
  s.reals = {RealServer{ip("198.18.0.138"), 80, 2, Forwarding::dr},
             RealServer{ip("198.18.0.139"), 80, 1, Forwarding::dr}};
  return s;
}

TEST(IpvsDestPlan, RealsBecomeDestinationsWithoutTheSorryServer) {
  auto d = desired_dests(seed_spec());
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0], (DestSpec{ip("198.18.0.138"), 80, IP_VS_CONN_F_DROUTE, 2}));
  EXPECT_EQ(d[1], (DestSpec{ip("198.18.0.139"), 80, IP_VS_CONN_F_DROUTE, 1}));
}

TEST(IpvsDestPlan, SorryServerIsTheOnlyAdditionWhenNoRealIsUp) {
  ServiceSpec s = seed_spec();
  s.reals.clear();
  auto d = desired_dests(s);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].address, ip("127.0.0.1"));
  s = seed_spec();
  for (auto& r : s.reals) r.weight = 0;  // inhibited reals stay, at weight 0
  d = desired_dests(s);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[2].address, ip("127.0.0.1"));
}

TEST(IpvsDestPlan, DirectRoutingUsesTheServicePortNatKeepsItsOwn) {
  ServiceSpec s = seed_spec();
  s.reals = {RealServer{ip("198.18.0.138"), 8080, 1, Forwarding::dr},
             RealServer{ip("198.18.0.139"), 8080, 1, Forwarding::nat},
             RealServer{ip("198.18.0.140"), 8080, 1, Forwarding::tun}};
  auto d = desired_dests(s);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].port, 80);
  EXPECT_EQ(d[1].port, 8080);
  EXPECT_EQ(d[1].fwd, std::uint32_t{IP_VS_CONN_F_MASQ});
  EXPECT_EQ(d[2].port, 80);
  EXPECT_EQ(d[2].fwd, std::uint32_t{IP_VS_CONN_F_TUNNEL});
}

TEST(IpvsDestPlan, TunnelRealsTakeTheServicesTunnelAndAChangeIsAnUpdate) {
  ServiceSpec s = seed_spec();
  s.reals = {RealServer{ip("198.18.3.11"), 80, 2, Forwarding::tun},
             RealServer{ip("198.18.0.139"), 80, 1, Forwarding::dr}};
  s.tunnel.type = TunnelSpec::Type::gue;
  s.tunnel.port = 6080;
  const auto gue = desired_dests(s);
  ASSERT_EQ(gue.size(), 2u);
  EXPECT_EQ(gue[0].tun_type, IP_VS_CONN_F_TUNNEL_TYPE_GUE);
  EXPECT_EQ(gue[0].tun_port, 6080);
  EXPECT_EQ(gue[1].tun_type, 0);
  EXPECT_EQ(gue[1].tun_port, 0);
  EXPECT_TRUE(plan_dests(gue, gue).empty());

  s.tunnel.port = 6081;  // the real moved its GUE port: only the tunnel real changes
  auto plan = plan_dests(gue, desired_dests(s));
  ASSERT_EQ(plan.update.size(), 1u);
  EXPECT_EQ(plan.update[0].tun_port, 6081);
  EXPECT_TRUE(plan.add.empty());
  EXPECT_TRUE(plan.remove.empty());
  s.tunnel = TunnelSpec{};  // back to IPIP
  plan = plan_dests(gue, desired_dests(s));
  ASSERT_EQ(plan.update.size(), 1u);
  EXPECT_EQ(plan.update[0].tun_type, IP_VS_CONN_F_TUNNEL_TYPE_IPIP);
  EXPECT_EQ(plan.update[0].tun_port, 0);
}

TEST(IpvsDestPlan, SameStateNeedsNoChange) {
  auto d = desired_dests(seed_spec());
  EXPECT_TRUE(plan_dests(d, d).empty());
}

TEST(IpvsDestPlan, DiffAddsUpdatesAndRemovesOnlyWhatChanged) {
  auto current = desired_dests(seed_spec());
  ServiceSpec s = seed_spec();
  s.reals[0].weight = 3;                                              // update
  s.reals.erase(s.reals.begin() + 1);                                 // remove .139
  s.reals.push_back(RealServer{ip("198.18.0.140"), 80, 1, Forwarding::dr});  // add
  auto plan = plan_dests(current, desired_dests(s));
  ASSERT_EQ(plan.add.size(), 1u);
  EXPECT_EQ(plan.add[0].address, ip("198.18.0.140"));
  ASSERT_EQ(plan.update.size(), 1u);
  EXPECT_EQ(plan.update[0].weight, 3u);
  ASSERT_EQ(plan.remove.size(), 1u);
  EXPECT_EQ(plan.remove[0].address, ip("198.18.0.139"));
}

TEST(IpvsDestPlan, LocalNodeReadBackIsNotAChange) {
  ServiceSpec s = seed_spec();
  s.reals.clear();
  auto want = desired_dests(s);
  auto have = want;
  have[0].fwd = IP_VS_CONN_F_LOCALNODE;
  EXPECT_TRUE(plan_dests(have, want).empty());
}

TEST(IpvsDestPlan, FwmarkKeyIsNormalized) {
  ServiceKey k;
  k.fwmark = 5;
  k.port = 80;
  k.protocol = Protocol::udp;
  auto n = normalized(k);
  EXPECT_EQ(n.port, 0);
  EXPECT_EQ(n.protocol, Protocol::tcp);
  EXPECT_EQ(n.fwmark, 5u);
}

}  // namespace
}  // namespace xlb::dataplane::ipvs
