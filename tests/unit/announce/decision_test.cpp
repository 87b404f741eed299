// When a VIP's host route may be in vip_route_table (issue 29, item 1), and the reason given
// when it may not.
#include <gtest/gtest.h>

#include "ctrl/announce/decision.hpp"

namespace xlb::announce {
namespace {

ServiceReadiness healthy() { return {true, false, true}; }
ServiceReadiness all_down() { return {false, false, true}; }

VipInputs plain(std::vector<ServiceReadiness> services) {
  VipInputs in;
  in.services = std::move(services);
  in.dataplane_ready = true;
  return in;
}

void expect(const VipInputs& in, bool announce, Reason reason) {
  const Decision d = decide(in);
  EXPECT_EQ(d.announce, announce) << reason_name(d.reason);
  EXPECT_EQ(d.reason, reason) << reason_name(d.reason) << " instead of " << reason_name(reason);
}

TEST(AnnounceDecision, VipWithoutVrrpFollowsItsServices) {
  expect(plain({healthy()}), true, Reason::announced);
  expect(plain({all_down()}), false, Reason::no_usable_real);
  // One service able to serve is enough: the route carries every port of the address.
  expect(plain({all_down(), healthy()}), true, Reason::announced);
  expect(plain({}), false, Reason::no_service);
}

TEST(AnnounceDecision, QuorumAndSorryServer) {
  ServiceReadiness lost{true, false, false};
  expect(plain({lost}), false, Reason::quorum_lost);
  // With a sorry server the VIP still answers every new connection.
  ServiceReadiness sorry{false, true, false};
  expect(plain({sorry}), true, Reason::announced);
  expect(plain({lost, all_down()}), false, Reason::quorum_lost);
}

TEST(AnnounceDecision, VrrpVipOnlyWhileMaster) {
  auto in = plain({all_down()});
  in.vrrp_managed = true;
  in.vrrp_master = false;
  expect(in, false, Reason::not_master);
  in.vrrp_master = true;
  // VRRP already answers for health (track scripts, priorities): MASTER is enough.
  expect(in, true, Reason::announced);
  in.services.clear();
  expect(in, true, Reason::announced);
}

TEST(AnnounceDecision, OperatorStopAndDataplaneComeFirst) {
  auto in = plain({healthy()});
  in.dataplane_ready = false;
  expect(in, false, Reason::dataplane_not_ready);
  in.dataplane_ready = true;
  in.operator_withdrawn = true;
  expect(in, false, Reason::operator_withdrawn);
  in.stopping = true;
  expect(in, false, Reason::stopping);
  in.operator_withdrawn = false;
  expect(in, false, Reason::stopping);
  in.stopping = false;
  expect(in, true, Reason::announced);
  auto master = plain({});
  master.vrrp_managed = master.vrrp_master = true;
  master.operator_withdrawn = true;
  expect(master, false, Reason::operator_withdrawn);
}

// flow_sync_peers: a node announces only once its peers' flows arrived; the operator's word
// and a stop still come first.
TEST(AnnounceDecision, WaitsForTheBulkSync) {
  auto in = plain({healthy()});
  in.flows_synced = false;
  expect(in, false, Reason::flow_sync_pending);
  in.operator_withdrawn = true;
  expect(in, false, Reason::operator_withdrawn);
  in.operator_withdrawn = false;
  in.flows_synced = true;
  expect(in, true, Reason::announced);
}

TEST(AnnounceDecision, EveryReasonHasAName) {
  for (auto r : {Reason::announced, Reason::stopping, Reason::operator_withdrawn, Reason::dataplane_not_ready,
                 Reason::flow_sync_pending, Reason::checks_pending,
                 Reason::not_master, Reason::no_service, Reason::quorum_lost, Reason::no_usable_real}) {
    EXPECT_STRNE(reason_name(r), "unknown");
  }
}

// A starting node's reals are up only by assumption until their first check: no route until
// every real had its verdict, so a node with dead reals never announces, not even briefly.
TEST(AnnounceDecision, WaitsForEveryRealsFirstVerdict) {
  ServiceReadiness pending = healthy();
  pending.checks_pending = true;
  expect(plain({pending}), false, Reason::checks_pending);
  // One service ready is not enough while another's reals are unknown: the route carries both.
  expect(plain({healthy(), pending}), false, Reason::checks_pending);
  auto master = plain({pending});
  master.vrrp_managed = master.vrrp_master = true;
  expect(master, false, Reason::checks_pending);
  master.vrrp_master = false;
  expect(master, false, Reason::not_master);
  // Once in the table, a real added later (a reload) does not take the route out.
  auto routed = plain({healthy(), pending});
  routed.routed = true;
  expect(routed, true, Reason::announced);
  // ... nor does it keep one whose services cannot serve.
  ServiceReadiness dead_pending = all_down();
  dead_pending.checks_pending = true;
  routed.services = {dead_pending};
  expect(routed, false, Reason::no_usable_real);
  // The operator, a stop, the dataplane and the bulk sync still come first.
  auto in = plain({pending});
  in.flows_synced = false;
  expect(in, false, Reason::flow_sync_pending);
  in.operator_withdrawn = true;
  expect(in, false, Reason::operator_withdrawn);
  EXPECT_STREQ(reason_name(Reason::checks_pending), "checks_pending");
}

}  // namespace
}  // namespace xlb::announce
