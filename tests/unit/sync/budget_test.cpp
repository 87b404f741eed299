// The pieces of the send budget on their own: the token bucket's arithmetic (time passed in)
// and the backlog's order and bound.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "ctrl/sync/sync_backlog.hpp"
#include "ctrl/sync/token_bucket.hpp"

namespace xlb::sync {
namespace {

constexpr std::uint64_t ms = 1'000'000;

TEST(TokenBucket, StartsWithOneBurstAndRefillsAtTheRate) {
  TokenBucket b(1000, 10, 0);  // 1,000/s, bursts of 10
  int taken = 0;
  while (b.take(1)) ++taken;
  EXPECT_EQ(taken, 10);
  b.refill(4 * ms);
  taken = 0;
  while (b.take(1)) ++taken;
  EXPECT_EQ(taken, 4);
  b.refill(1000 * ms);  // a long pause still credits one burst only
  taken = 0;
  while (b.take(1)) ++taken;
  EXPECT_EQ(taken, 10);
}

TEST(TokenBucket, ASliceThatWaitedItsIntervalGetsItsWholeQuota) {
  // 20,000/s in 10 ms slices: 200 per slice, also where rate * elapsed rounds just below 200.
  TokenBucket b(20000, 200, 0);
  std::uint64_t now = 0;
  for (int slice = 0; slice < 1000; ++slice) {
    int taken = 0;
    while (b.take(1)) ++taken;
    ASSERT_EQ(taken, 200) << "slice " << slice;
    now += 10 * ms + static_cast<std::uint64_t>(slice % 7);  // a few ns late, like a real timer
    b.refill(now);
  }
}

TEST(TokenBucket, NoWindowSeesMoreThanRateTimesItsLengthPlusOneBurst) {
  // Greedy taker polled at irregular times over 10 s of simulated time.
  TokenBucket b(5000, 50, 0);
  std::vector<std::uint64_t> sent;
  std::uint64_t now = 0;
  std::uint64_t step = 1;
  while (now < 10'000 * ms) {
    b.refill(now);
    while (b.take(1)) sent.push_back(now);
    step = (step * 7919 + 13) % (17 * ms);  // 0..17 ms, irregular
    now += step;
  }
  // Also used, not only bounded: polls more than 10 ms apart lose what overflows the burst,
  // which here is about a sixth.
  EXPECT_GT(sent.size(), 40'000u);
  for (std::uint64_t window : {1 * ms, 10 * ms, 100 * ms, 1000 * ms}) {
    std::size_t j = 0;
    for (std::size_t i = 0; i < sent.size(); ++i) {
      while (sent[i] - sent[j] >= window) ++j;
      const double bound = 5000.0 * static_cast<double>(window) / 1e9 + 50;
      ASSERT_LE(static_cast<double>(i - j + 1), bound + 1e-9) << "window " << window / ms << " ms at " << sent[i];
    }
  }
}

SyncEntry entry(std::uint16_t port) {
  SyncEntry e;
  e.vip = boost::asio::ip::make_address("198.18.0.100");
  e.client = boost::asio::ip::make_address("198.19.0.1");
  e.real = boost::asio::ip::make_address("198.18.0.21");
  e.client_port = port;
  return e;
}

TEST(SyncBacklog, NewFlowsLeaveBeforeRefreshesQueuedEarlier) {
  SyncBacklog q(100);
  for (std::uint16_t p = 0; p < 10; ++p) EXPECT_EQ(q.push(entry(p), SyncBacklog::Lane::refresh, 1), 0u);
  for (std::uint16_t p = 100; p < 103; ++p) EXPECT_EQ(q.push(entry(p), SyncBacklog::Lane::fresh, 2), 0u);
  std::vector<SyncEntry> out;
  // Popped in scan 2's own slice: its entries did not wait, scan 1's did.
  EXPECT_EQ(q.pop(5, out, 2), 2u);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].client_port, 100);
  EXPECT_EQ(out[2].client_port, 102);
  EXPECT_EQ(out[3].client_port, 0);
  EXPECT_EQ(out[4].client_port, 1);
  EXPECT_EQ(q.size(), 8u);
  out.clear();
  EXPECT_EQ(q.pop(100, out, 0), 8u);
  EXPECT_TRUE(q.empty());
}

TEST(SyncBacklog, WhenFullNewFlowsEvictRefreshesAndTheRestIsDropped) {
  SyncBacklog q(4);
  for (std::uint16_t p = 0; p < 4; ++p) EXPECT_EQ(q.push(entry(p), SyncBacklog::Lane::refresh, 1), 0u);
  EXPECT_EQ(q.push(entry(4), SyncBacklog::Lane::refresh, 1), 1u) << "no room: dropped";
  EXPECT_EQ(q.push(entry(50), SyncBacklog::Lane::fresh, 2), 1u) << "room made by evicting the newest refresh";
  EXPECT_EQ(q.fresh_size(), 1u);
  EXPECT_EQ(q.refresh_size(), 3u);
  for (std::uint16_t p = 51; p < 54; ++p) EXPECT_EQ(q.push(entry(p), SyncBacklog::Lane::fresh, 2), 1u);
  EXPECT_EQ(q.push(entry(60), SyncBacklog::Lane::fresh, 2), 1u) << "all fresh: the newest is dropped";
  EXPECT_EQ(q.fresh_size(), 4u);
  EXPECT_EQ(q.clear(), 4u);
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace xlb::sync
