// The state machine as a table of transitions driven by a fake clock (plain time points).
#include "ctrl/vrrp/state_machine.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace xlb::vrrp {
namespace {

Address ip(const char* s) { return boost::asio::ip::make_address(s); }
TimePoint at(int ms) { return TimePoint{} + std::chrono::milliseconds(ms); }

struct Step {
  std::string what;
  std::function<Output(StateMachine&)> event;
  State state;
  int sent = -1;  // -1: nothing sent; else the advertised priority
  std::optional<int> deadline_ms = std::nullopt;
};

PeerAdvert adv(int prio, const char* src = "198.18.0.2", int interval = 1000) {
  return PeerAdvert{static_cast<std::uint8_t>(prio), Millis{interval}, ip(src)};
}

struct Row {
  std::string name;
  FsmConfig cfg;
  std::vector<Step> steps;
};

FsmConfig base(int prio, int version = 2, int adv_ms = 1000) {
  FsmConfig c;
  c.version = version;
  c.priority = static_cast<std::uint8_t>(prio);
  c.advert_int = Millis{adv_ms};
  c.primary = ip("198.18.0.1");
  return c;
}

auto start(int t) {
  return [t](StateMachine& m) { return m.start(at(t)); };
}
auto advert(int t, PeerAdvert a) {
  return [t, a](StateMachine& m) { return m.on_advert(a, at(t)); };
}
auto timer(int t) {
  return [t](StateMachine& m) { return m.on_timer(at(t)); };
}
auto track(int t, int prio, bool fault) {
  return [=](StateMachine& m) { return m.set_tracking(prio, fault, Reason::script_failed, at(t)); };
}

std::vector<Row> rows() {
  std::vector<Row> r;
  // v2 master-down: 3 * 1 s + (256 - 100) / 256 s = 3609 ms.
  r.push_back({"backup takes over after master-down interval", base(100),
               {{"start", start(0), State::backup, -1, 3609},
                {"too early", timer(3608), State::backup, -1, 3609},
                {"expires", timer(3609), State::master, 100, 4609},
                {"advert timer", timer(4609), State::master, 100, 5609}}});
  r.push_back({"adverts from a higher priority master keep us backup", base(100),
               {{"start", start(0), State::backup},
                {"advert", advert(3000, adv(150)), State::backup, -1, 6609},
                {"timer", timer(6000), State::backup},
                {"lost", timer(6609), State::master, 100}}});
  r.push_back({"priority 0 shortens the wait to the skew time", base(100),
               {{"start", start(0), State::backup},
                {"leaving", advert(1000, adv(0)), State::backup, -1, 1609},
                {"takeover", timer(1609), State::master, 100}}});
  r.push_back({"owner (255) starts as master", base(255),
               {{"start", start(0), State::master, 255, 1000}}});
  {
    FsmConfig c = base(100);
    c.initial_state = InitialState::master;
    r.push_back({"state MASTER starts as master, backs down to a higher priority", c,
                 {{"start", start(0), State::master, 100},
                  {"higher", advert(10, adv(200)), State::backup, -1, 10 + 3609}}});
  }
  r.push_back({"master re-advertises at once on a lower priority advert", base(100),
               {{"start", start(0), State::backup},
                {"lost", timer(3609), State::master, 100},
                {"lower", advert(3700, adv(50)), State::master, 100, 4700}}});
  r.push_back({"master answers priority 0 with an advert", base(100),
               {{"start", start(0), State::backup},
                {"lost", timer(3609), State::master, 100},
                {"zero", advert(3800, adv(0)), State::master, 100, 4800}}});
  r.push_back({"equal priority: higher primary address wins", base(100),
               {{"start", start(0), State::backup},
                {"lost", timer(3609), State::master, 100},
                {"lower addr", advert(3700, adv(100, "198.18.0.0")), State::master, 100},
                {"higher addr", advert(3800, adv(100, "198.18.0.2")), State::backup}}});
  r.push_back({"equal priority adverts keep a backup backup", base(100),
               {{"start", start(0), State::backup},
                {"equal", advert(1000, adv(100, "198.18.0.0")), State::backup, -1, 4609}}});
  // RFC 5798 6.4.2: the lower advert is discarded, so it does not reset the master-down timer
  // (skew (256-200)/256 s = 218 ms), which then hands over the VIP.
  r.push_back({"preempt: a lower priority master is taken over when the master-down timer runs out", base(200),
               {{"start", start(0), State::backup, -1, 3218},
                {"lower", advert(500, adv(100)), State::backup, -1, 3218},
                {"lower again", advert(1500, adv(100)), State::backup, -1, 3218},
                {"expires", timer(3218), State::master, 200}}});
  // One forged (or misconfigured) advert of a lower priority, between a higher master's: the
  // backup stays backup and the VIP stays where it is.
  r.push_back({"a lower advert between a higher master's moves nothing", base(100),
               {{"start", start(0), State::backup},
                {"master", advert(1000, adv(150)), State::backup, -1, 1000 + 3609},
                {"forged", advert(1500, adv(50, "198.18.0.66")), State::backup, -1, 1000 + 3609},
                {"master", advert(2000, adv(150)), State::backup, -1, 2000 + 3609},
                {"timer", timer(4609), State::backup}}});
  {
    FsmConfig c = base(200);
    c.nopreempt = true;
    // skew (256-200)/256 s = 218 ms
    r.push_back({"nopreempt: a lower priority master is kept", c,
                 {{"start", start(0), State::backup},
                  {"lower", advert(500, adv(100)), State::backup, -1, 500 + 3218},
                  {"lower again", advert(1500, adv(100)), State::backup, -1, 1500 + 3218},
                  {"lost", timer(4718), State::master, 200}}});
  }
  {
    FsmConfig c = base(200);
    c.preempt_delay = Millis{5000};
    r.push_back({"preempt_delay: lower master kept until the delay ran out", c,
                 {{"start", start(0), State::backup},
                  {"lower", advert(1000, adv(100)), State::backup},
                  {"lower", advert(4999, adv(100)), State::backup, -1, 4999 + 3218},
                  {"delay over: discarded", advert(5000, adv(100)), State::backup, -1, 4999 + 3218},
                  {"expires", timer(4999 + 3218), State::master, 200}}});
  }
  {
    // v3 with 100 ms: master-down = 300 + (256-100)*100/256 = 360 ms; adopts the master's 250 ms.
    r.push_back({"v3 adopts the master's advert interval", base(100, 3, 100),
                 {{"start", start(0), State::backup, -1, 360},
                  {"advert 250ms", advert(100, adv(150, "198.18.0.2", 250)), State::backup, -1,
                   100 + 750 + 152},
                  {"lost", timer(1002), State::master, 100, 1102}}});
  }
  r.push_back({"weight-0 script failure forces FAULT and master says priority 0", base(100),
               {{"start", start(0), State::backup},
                {"lost", timer(3609), State::master, 100},
                {"fault", track(4000, 100, true), State::fault, 0},
                {"no timers in fault", timer(9000), State::fault},
                {"adverts ignored", advert(9100, adv(1)), State::fault},
                {"cleared", track(9200, 100, false), State::backup, -1, 9200 + 3609}}});
  r.push_back({"a lowered effective priority is advertised at once", base(100),
               {{"start", start(0), State::backup},
                {"lost", timer(3609), State::master, 100},
                {"weight", track(3700, 80, false), State::master, 80, 4700}}});
  r.push_back({"fault at start stays in fault", base(100),
               {{"fault before start", track(0, 100, true), State::init},
                {"start", start(0), State::fault}}});
  return r;
}

TEST(VrrpStateMachine, TransitionTable) {
  for (const Row& row : rows()) {
    StateMachine m(row.cfg);
    for (const Step& s : row.steps) {
      SCOPED_TRACE(row.name + " / " + s.what);
      Output o = s.event(m);
      EXPECT_EQ(m.state(), s.state) << to_string(m.state());
      EXPECT_EQ(o.send_advert ? int{o.advert_priority} : -1, s.sent);
      if (s.deadline_ms) {
        ASSERT_TRUE(m.next_deadline().has_value());
        EXPECT_EQ(*m.next_deadline(), at(*s.deadline_ms));
      }
    }
  }
}

TEST(VrrpStateMachine, ReportsTransitionsWithReasons) {
  StateMachine m(base(100));
  Output o = m.start(at(0));
  ASSERT_TRUE(o.transition);
  EXPECT_EQ(o.transition->from, State::init);
  EXPECT_EQ(o.transition->to, State::backup);
  EXPECT_EQ(o.transition->reason, Reason::startup);
  o = m.on_timer(at(3609));
  ASSERT_TRUE(o.transition);
  EXPECT_EQ(o.transition->reason, Reason::peer_lost);
  o = m.on_advert(adv(200), at(3700));
  ASSERT_TRUE(o.transition);
  EXPECT_EQ(o.transition->reason, Reason::higher_priority_seen);
  EXPECT_EQ(m.master_address(), ip("198.18.0.2"));
  o = m.on_advert(adv(0), at(4000));
  EXPECT_FALSE(o.transition);
  o = m.on_timer(at(4000 + 609));
  ASSERT_TRUE(o.transition);
  EXPECT_EQ(o.transition->reason, Reason::priority_zero_seen);
}

TEST(VrrpStateMachine, ShutdownFromMasterSendsPriorityZero) {
  StateMachine m(base(255));
  m.start(at(0));
  Output o = m.shutdown();
  EXPECT_TRUE(o.send_advert);
  EXPECT_EQ(o.advert_priority, 0);
  EXPECT_EQ(m.state(), State::stop);
  EXPECT_FALSE(m.next_deadline());
  StateMachine b(base(100));
  b.start(at(0));
  EXPECT_FALSE(b.shutdown().send_advert);
}

TEST(VrrpStateMachine, ForcedMovesForSyncGroupsAndSplitBrain) {
  StateMachine m(base(100));
  m.start(at(0));
  Output o = m.force(State::master, Reason::sync_group, at(10));
  EXPECT_EQ(m.state(), State::master);
  EXPECT_TRUE(o.send_advert);
  o = m.force(State::backup, Reason::split_brain, at(20));
  EXPECT_EQ(m.state(), State::backup);
  ASSERT_TRUE(o.transition);
  EXPECT_EQ(o.transition->reason, Reason::split_brain);
  // Evidence of another master (split-brain probe answered) keeps a backup waiting.
  m.on_master_evidence(at(3000));
  EXPECT_EQ(*m.next_deadline(), at(3000 + 3609));
  // A FAULT from our own tracking is not overridden by the group.
  m.set_tracking(100, true, Reason::link_down, at(3100));
  m.force(State::master, Reason::sync_group, at(3200));
  EXPECT_EQ(m.state(), State::fault);
}

}  // namespace
}  // namespace xlb::vrrp
