// Digest window and quiet hours on an injected clock (UTC minute of day).
#include "notify/alert_scheduler.hpp"

#include <gtest/gtest.h>

namespace xlb::notify {
namespace {

using namespace std::chrono_literals;
using TP = std::chrono::system_clock::time_point;

int utc_minute(TP t) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  return static_cast<int>((s / 60) % 1440);
}

// 2026-11-25 00:00:00 UTC plus hh:mm.
TP at(int hh, int mm, int ss = 0) {
  return TP(std::chrono::seconds(1795564800)) + std::chrono::hours(hh) + std::chrono::minutes(mm) +
         std::chrono::seconds(ss);
}

VrrpTransition vrrp(VrrpState from, VrrpState to, std::string reason = "peer lost") {
  return {"VI_1", false, from, to, 100, std::move(reason)};
}
RealServerChange real(bool up) { return {"198.18.0.10:80 tcp", "198.18.1.1:80", "TCP_CHECK", up, ""}; }

TEST(AlertScheduler, TimeBaseIsMidnight) { EXPECT_EQ(utc_minute(at(0, 0)), 0); EXPECT_EQ(utc_minute(at(2, 5)), 125); }

TEST(AlertScheduler, ZeroWindowMailsEveryEventAtOnce) {
  AlertScheduler s(0s, std::nullopt, utc_minute);
  s.add({at(12, 0), vrrp(VrrpState::backup, VrrpState::master)});
  auto b = s.due(at(12, 0));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->events.size(), 1u);
  EXPECT_FALSE(s.due(at(12, 0)));
  EXPECT_FALSE(s.next_deadline());
}

TEST(AlertScheduler, DigestWindowCollectsEventsIntoOneMail) {
  AlertScheduler s(60s, std::nullopt, utc_minute);
  s.add({at(12, 0, 0), vrrp(VrrpState::backup, VrrpState::master)});
  EXPECT_FALSE(s.due(at(12, 0, 0)));
  s.add({at(12, 0, 20), vrrp(VrrpState::master, VrrpState::backup, "higher priority seen")});
  s.add({at(12, 0, 40), vrrp(VrrpState::backup, VrrpState::master)});
  EXPECT_EQ(*s.next_deadline(), at(12, 1, 0));  // the window runs from the first event
  EXPECT_FALSE(s.due(at(12, 0, 59)));
  auto b = s.due(at(12, 1, 0));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->events.size(), 3u);
  EXPECT_FALSE(b->held_for_quiet_hours);
  // The next event opens a new window.
  s.add({at(12, 5, 0), vrrp(VrrpState::master, VrrpState::backup)});
  EXPECT_EQ(*s.next_deadline(), at(12, 6, 0));
}

TEST(AlertScheduler, QuietHoursHoldAFailoverUntilMorning) {
  AlertScheduler s(60s, QuietHours::parse("22:00-07:00"), utc_minute);
  // 2 a.m.: the node takes over (not a fault), and a real server flaps down and up again.
  s.add({at(2, 0), vrrp(VrrpState::backup, VrrpState::master)});
  s.add({at(2, 0, 10), real(false)});
  s.add({at(2, 0, 30), real(true)});
  EXPECT_FALSE(s.due(at(2, 1)));
  EXPECT_EQ(*s.next_deadline(), at(7, 0));
  EXPECT_FALSE(s.due(at(6, 59, 59)));
  s.add({at(5, 0), vrrp(VrrpState::master, VrrpState::backup, "higher priority seen")});
  EXPECT_FALSE(s.due(at(5, 1)));
  auto b = s.due(at(7, 0));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->events.size(), 4u);
  EXPECT_TRUE(b->held_for_quiet_hours);
  EXPECT_EQ(b->open_faults, 0u);
}

TEST(AlertScheduler, OpenFaultInQuietHoursIsSentAfterTheWindow) {
  AlertScheduler s(60s, QuietHours::parse("22:00-07:00"), utc_minute);
  s.add({at(23, 0), vrrp(VrrpState::backup, VrrpState::master)});
  EXPECT_FALSE(s.due(at(23, 1)));  // held for the morning
  s.add({at(27, 0), real(false)});  // and now a real server is down...
  EXPECT_EQ(*s.next_deadline(), at(27, 1));
  EXPECT_FALSE(s.due(at(27, 0, 59)));
  auto b = s.due(at(27, 1));        // ...still down a window later: everything goes now
  ASSERT_TRUE(b);
  EXPECT_EQ(b->events.size(), 2u);
  EXPECT_EQ(b->open_faults, 1u);
  // Once reported, the open fault no longer overrides quiet hours for later, harmless events.
  s.add({at(28, 0), vrrp(VrrpState::master, VrrpState::backup)});
  EXPECT_FALSE(s.due(at(28, 1)));
  EXPECT_EQ(*s.next_deadline(), at(31, 0));
}

TEST(AlertScheduler, FaultThatClearsWithinTheWindowWaitsForMorning) {
  AlertScheduler s(120s, QuietHours::parse("22:00-07:00"), utc_minute);
  s.add({at(1, 0), vrrp(VrrpState::master, VrrpState::fault, "link down")});
  s.add({at(1, 1), vrrp(VrrpState::fault, VrrpState::backup, "link up")});
  EXPECT_FALSE(s.due(at(1, 2)));
  EXPECT_EQ(*s.next_deadline(), at(7, 0));
  auto b = s.due(at(7, 0));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->events.size(), 2u);
}

TEST(AlertScheduler, WindowThatRunsIntoQuietHoursIsHeld) {
  AlertScheduler s(300s, QuietHours::parse("22:00-07:00"), utc_minute);
  s.add({at(21, 58), vrrp(VrrpState::backup, VrrpState::master)});
  EXPECT_FALSE(s.due(at(22, 3)));
  EXPECT_EQ(*s.next_deadline(), at(31, 0));
}

TEST(AlertScheduler, DaytimeQuietWindow) {
  AlertScheduler s(0s, QuietHours::parse("12:00-13:30"), utc_minute);
  s.add({at(12, 15), vrrp(VrrpState::backup, VrrpState::master)});
  EXPECT_FALSE(s.due(at(12, 15)));
  EXPECT_EQ(*s.next_deadline(), at(13, 30));
  ASSERT_TRUE(s.due(at(13, 30)));
}

}  // namespace
}  // namespace xlb::notify
