// Decision logic: removal vs inhibit, misc_dynamic weights, quorum with hysteresis, the sorry
// server, notify/quorum scripts, omega, flushes; plus the retry schedule on a simulated clock.
#include <gtest/gtest.h>

#include "ctrl/check/check_state.hpp"
#include "ctrl/check/service_state.hpp"

namespace xlb::check {
namespace {

using dataplane::RealServer;
using Addr = boost::asio::ip::address;

VirtualServerSettings make_vs(int reals) {
  VirtualServerSettings vs;
  vs.name = "vs";
  vs.spec.key.address = Addr::from_string("198.18.0.100");
  vs.spec.key.port = 80;
  for (int i = 0; i < reals; ++i) {
    RealSettings r;
    r.address = Addr::from_string("198.18.1." + std::to_string(i + 1));
    r.port = 80;
    r.weight = static_cast<std::uint32_t>(i + 1);
    r.notify_up = "/bin/up " + std::to_string(i);
    r.notify_down = "/bin/down " + std::to_string(i);
    vs.reals.push_back(r);
  }
  return vs;
}

std::vector<RealVerdict> all(int n, bool up) { return std::vector<RealVerdict>(n, RealVerdict{up, {}}); }

TEST(ServiceState, FailedRealIsRemovedFlushedAndNotified) {
  ServiceState s(make_vs(2), all(2, true));
  ASSERT_EQ(s.spec().reals.size(), 2u);
  auto v = all(2, true);
  v[0].up = false;
  auto a = s.update(v);
  ASSERT_TRUE(a.apply);
  ASSERT_EQ(a.apply->reals.size(), 1u);
  EXPECT_EQ(a.apply->reals[0].address.to_string(), "198.18.1.2");
  ASSERT_EQ(a.flush.size(), 1u);
  EXPECT_EQ(a.flush[0].to_string(), "198.18.1.1");
  EXPECT_EQ(a.scripts, std::vector<std::string>{"/bin/down 0"});
  EXPECT_FALSE(s.sorry_in_use());

  auto back = s.update(all(2, true));
  ASSERT_TRUE(back.apply);
  EXPECT_EQ(back.apply->reals.size(), 2u);
  EXPECT_TRUE(back.flush.empty());
  EXPECT_EQ(back.scripts, std::vector<std::string>{"/bin/up 0"});
  EXPECT_TRUE(s.update(all(2, true)).empty());
}

TEST(ServiceState, InhibitOnFailureKeepsRealAtWeightZeroWithoutFlush) {
  auto vs = make_vs(2);
  vs.reals[1].inhibit_on_failure = true;
  ServiceState s(vs, all(2, true));
  auto v = all(2, true);
  v[1].up = false;
  auto a = s.update(v);
  ASSERT_TRUE(a.apply);
  ASSERT_EQ(a.apply->reals.size(), 2u);
  EXPECT_EQ(a.apply->reals[1].weight, 0u);
  EXPECT_EQ(a.apply->reals[0].weight, 1u);
  EXPECT_TRUE(a.flush.empty());
}

TEST(ServiceState, MiscDynamicWeightReplacesConfiguredWeight) {
  ServiceState s(make_vs(2), all(2, true));
  auto v = all(2, true);
  v[0].weight = 7;
  auto a = s.update(v);
  ASSERT_TRUE(a.apply);
  EXPECT_EQ(a.apply->reals[0].weight, 7u);
  EXPECT_EQ(a.apply->reals[1].weight, 2u);
  EXPECT_TRUE(a.scripts.empty());
  EXPECT_EQ(s.alive_weight(), 9u);
}

TEST(ServiceState, QuorumLostUsesSorryServerAndRunsQuorumScripts) {
  auto vs = make_vs(3);  // weights 1, 2, 3
  vs.quorum = 4;
  vs.quorum_up = "/bin/qup";
  vs.quorum_down = "/bin/qdown";
  vs.spec.sorry_server = RealServer{Addr::from_string("198.18.2.1"), 80, 1};
  ServiceState s(vs, all(3, true));
  EXPECT_TRUE(s.quorum_up());
  EXPECT_FALSE(s.spec().sorry_server);

  auto v = all(3, true);
  v[2].up = false;  // alive 3 < 4
  auto a = s.update(v);
  EXPECT_FALSE(s.quorum_up());
  ASSERT_TRUE(a.apply && a.apply->sorry_server);
  EXPECT_EQ(a.apply->sorry_server->address.to_string(), "198.18.2.1");
  // Live reals stay with weight 0 (their flows continue), the dead one is gone.
  ASSERT_EQ(a.apply->reals.size(), 2u);
  EXPECT_EQ(a.apply->reals[0].weight, 0u);
  EXPECT_EQ(a.apply->reals[1].weight, 0u);
  EXPECT_EQ(a.scripts, (std::vector<std::string>{"/bin/down 2", "/bin/qdown"}));
  ASSERT_EQ(a.flush.size(), 1u);

  auto b = s.update(all(3, true));
  EXPECT_TRUE(s.quorum_up());
  ASSERT_TRUE(b.apply);
  EXPECT_FALSE(b.apply->sorry_server);
  EXPECT_EQ(b.apply->reals[0].weight, 1u);
  EXPECT_EQ(b.scripts, (std::vector<std::string>{"/bin/up 2", "/bin/qup"}));
}

TEST(ServiceState, HysteresisSeparatesLossAndRecoveryThresholds) {
  auto vs = make_vs(4);  // weights 1..4, total 10
  for (auto& r : vs.reals) r.weight = 1;
  vs.quorum = 3;
  vs.hysteresis = 1;  // lost below 2, regained at 4
  ServiceState s(vs, all(4, true));
  auto v = all(4, true);
  v[0].up = false;  // 3
  s.update(v);
  EXPECT_TRUE(s.quorum_up());
  v[1].up = false;  // 2: still >= quorum - hysteresis
  s.update(v);
  EXPECT_TRUE(s.quorum_up());
  v[2].up = false;  // 1 < 2: lost
  s.update(v);
  EXPECT_FALSE(s.quorum_up());
  v[2].up = true;  // 2
  s.update(v);
  EXPECT_FALSE(s.quorum_up());
  v[1].up = true;  // 3: not yet quorum + hysteresis
  s.update(v);
  EXPECT_FALSE(s.quorum_up());
  v[0].up = true;  // 4
  s.update(v);
  EXPECT_TRUE(s.quorum_up());
}

TEST(ServiceState, AllDownWithoutSorryServerLeavesNoReal) {
  ServiceState s(make_vs(2), all(2, true));
  auto a = s.update(all(2, false));
  EXPECT_FALSE(s.quorum_up());
  ASSERT_TRUE(a.apply);
  EXPECT_TRUE(a.apply->reals.empty());
  EXPECT_FALSE(a.apply->sorry_server);
  EXPECT_EQ(a.flush.size(), 2u);
}

TEST(ServiceState, AlphaStartIsQuorumDownWithSorryAndNoScripts) {
  auto vs = make_vs(2);
  vs.spec.sorry_server = RealServer{Addr::from_string("198.18.2.1"), 80, 1};
  ServiceState s(vs, all(2, false));
  EXPECT_FALSE(s.quorum_up());
  EXPECT_TRUE(s.spec().sorry_server);
  EXPECT_TRUE(s.spec().reals.empty());
}

TEST(ServiceState, OmegaRunsDownScriptsOnShutdown) {
  auto vs = make_vs(2);
  vs.quorum_down = "/bin/qdown";
  ServiceState plain(vs, all(2, true));
  EXPECT_TRUE(plain.shutdown().scripts.empty());
  vs.omega = true;
  ServiceState s(vs, all(2, true));
  auto v = all(2, true);
  v[1].up = false;
  s.update(v);
  EXPECT_EQ(s.shutdown().scripts, (std::vector<std::string>{"/bin/down 0", "/bin/qdown"}));
}

TEST(ServiceState, ReloadKeepsQuorumState) {
  auto vs = make_vs(2);
  vs.quorum = 3;
  vs.hysteresis = 1;
  // Alive weight 3 with quorum 3: a fresh start says up; carried-over "down" stays down
  // because recovery needs quorum + hysteresis = 4.
  EXPECT_TRUE(ServiceState(vs, all(2, true)).quorum_up());
  EXPECT_FALSE(ServiceState(vs, all(2, true), false).quorum_up());
}

// Simulated clock: the checker sleeps exactly what CheckState says, so the detection time of
// a server that dies right after a successful check is delay_loop + retry x delay_before_retry.
TEST(CheckState, DetectionTimeOnSimulatedClock) {
  const Millis delay_loop{3000}, before_retry{1000};
  for (unsigned retry : {0u, 1u, 3u}) {
    CheckState st(retry, delay_loop, before_retry, true);
    Millis now{0};
    auto step = st.on_result(true);
    const Millis died = now;
    bool changed = false;
    while (!changed) {
      now += step.next_delay;
      step = st.on_result(false);
      changed = step.changed;
    }
    EXPECT_FALSE(st.up());
    EXPECT_EQ(now - died, delay_loop + retry * before_retry) << "retry " << retry;
    EXPECT_EQ(step.next_delay, delay_loop);  // a down check is retried at delay_loop
  }
}

TEST(CheckState, OneSuccessRestoresAndFailuresResetOnSuccess) {
  CheckState st(2, Millis{100}, Millis{10}, true);
  EXPECT_FALSE(st.on_result(false).changed);
  EXPECT_FALSE(st.on_result(false).changed);
  EXPECT_FALSE(st.on_result(true).changed);  // streak broken
  EXPECT_FALSE(st.on_result(false).changed);
  EXPECT_FALSE(st.on_result(false).changed);
  EXPECT_TRUE(st.on_result(false).changed);
  EXPECT_FALSE(st.up());
  EXPECT_FALSE(st.on_result(false).changed);
  EXPECT_TRUE(st.on_result(true).changed);
  EXPECT_TRUE(st.up());
}

TEST(CheckState, AlphaStartsDownAndDynamicWeightCountsAsChange) {
  CheckState st(1, Millis{100}, Millis{10}, false);
  EXPECT_FALSE(st.up());
  EXPECT_FALSE(st.on_result(false).changed);
  EXPECT_TRUE(st.on_result(true, 5).changed);
  EXPECT_EQ(st.weight(), 5u);
  EXPECT_FALSE(st.on_result(true).changed);
  EXPECT_EQ(st.weight(), 5u);
  EXPECT_TRUE(st.on_result(true, 6).changed);
}

// vip_route_table waits for each check's first verdict (issue 29). A dead real that starts up
// (no alpha) gives it after 1 + retry failures; with every attempt running into
// connect_timeout, that is the documented bound (1 + retry) x connect_timeout +
// retry x delay_before_retry.
TEST(CheckState, FirstVerdictOfADeadRealWithinTheRetryBudget) {
  const Millis delay_loop{3000}, before_retry{1000}, connect_timeout{2000};
  for (unsigned retry : {0u, 1u, 3u}) {
    CheckState st(retry, delay_loop, before_retry, true);
    EXPECT_FALSE(st.settled());
    Millis now{0};
    while (true) {
      now += connect_timeout;
      const auto step = st.on_result(false);
      if (st.settled()) break;
      EXPECT_TRUE(st.up()) << "still the starting assumption";
      now += step.next_delay;
    }
    EXPECT_FALSE(st.up());
    EXPECT_EQ(now, (1 + retry) * connect_timeout + retry * before_retry) << "retry " << retry;
    st.on_result(false);
    EXPECT_TRUE(st.settled()) << "a verdict stays given";
  }
}

TEST(CheckState, FirstVerdictOfALiveRealOrAnAlphaCheckIsTheFirstAttempt) {
  CheckState up(3, Millis{100}, Millis{10}, true);
  up.on_result(true);
  EXPECT_TRUE(up.settled());
  EXPECT_FALSE(up.on_result(false).changed);
  EXPECT_TRUE(up.settled()) << "a failure being confirmed does not take the first verdict back";
  CheckState alpha(3, Millis{100}, Millis{10}, false);
  EXPECT_FALSE(alpha.settled());
  alpha.on_result(false);
  EXPECT_TRUE(alpha.settled()) << "alpha: down was the verdict already";
  EXPECT_FALSE(alpha.up());
}

}  // namespace
}  // namespace xlb::check
