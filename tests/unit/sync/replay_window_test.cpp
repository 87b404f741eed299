#include "ctrl/sync/replay_window.hpp"
#include "ctrl/sync/freshness.hpp"

#include <gtest/gtest.h>

namespace xlb::sync {
namespace {

TEST(ReplayWindow, AcceptsEachSequenceOnce) {
  ReplayWindow w;
  EXPECT_TRUE(w.accept(1, 100, 1));
  EXPECT_FALSE(w.accept(1, 100, 1));
  EXPECT_TRUE(w.accept(1, 100, 2));
  EXPECT_FALSE(w.accept(1, 100, 2));
}

TEST(ReplayWindow, ToleratesLossAndReorderingInsideTheWindow) {
  ReplayWindow w;
  EXPECT_TRUE(w.accept(1, 100, 10));
  EXPECT_TRUE(w.accept(1, 100, 15));  // 11..14 lost or late
  EXPECT_TRUE(w.accept(1, 100, 12));
  EXPECT_FALSE(w.accept(1, 100, 12));
  EXPECT_TRUE(w.accept(1, 100, 11));
  EXPECT_FALSE(w.accept(1, 100, 10));
}

TEST(ReplayWindow, RefusesWhatFellOutOfTheWindow) {
  ReplayWindow w;
  EXPECT_TRUE(w.accept(1, 100, 1));
  EXPECT_TRUE(w.accept(1, 100, 1 + ReplayWindow::width));
  EXPECT_FALSE(w.accept(1, 100, 1));
  EXPECT_TRUE(w.accept(1, 100, 2));  // still inside: highest - 63
  EXPECT_TRUE(w.accept(1, 100, 1000));
  EXPECT_FALSE(w.accept(1, 100, 1000 - ReplayWindow::width));
}

TEST(ReplayWindow, NewEpochRestartsOldEpochIsRefused) {
  ReplayWindow w;
  EXPECT_TRUE(w.accept(1, 100, 500));
  EXPECT_TRUE(w.accept(1, 200, 1));   // the sender restarted
  EXPECT_FALSE(w.accept(1, 100, 501)); // a datagram of its previous run, replayed
  EXPECT_TRUE(w.accept(1, 200, 2));
}

TEST(ReplayWindow, SendersAreIndependent) {
  ReplayWindow w;
  EXPECT_TRUE(w.accept(1, 100, 5));
  EXPECT_TRUE(w.accept(2, 100, 5));
  EXPECT_FALSE(w.accept(2, 100, 5));
}

}  // namespace
using std::chrono::seconds;
using Verdict = Freshness::Verdict;

TEST(Freshness, ADatagramSealedBeforeTheReceiverStartedIsAReplay) {
  const Freshness f(1'000'000, seconds(30));
  EXPECT_EQ(f.check(999'999, 1'000'100), Verdict::before_start);
  EXPECT_EQ(f.check(1'000'000, 1'000'100), Verdict::fresh);
  EXPECT_EQ(f.check(1'000'050, 1'000'100), Verdict::fresh);
}

TEST(Freshness, FarFromTheReceiversClockEitherWayIsStale) {
  const Freshness f(1'000'000, seconds(30));
  const std::uint64_t now = 5'000'000;
  EXPECT_EQ(f.check(now - 30'000, now), Verdict::fresh);
  EXPECT_EQ(f.check(now - 30'001, now), Verdict::stale);
  EXPECT_EQ(f.check(now + 30'000, now), Verdict::fresh);  // the sender's clock is ahead
  EXPECT_EQ(f.check(now + 30'001, now), Verdict::stale);
  EXPECT_EQ(f.check(0, now), Verdict::stale);
}

}  // namespace xlb::sync
