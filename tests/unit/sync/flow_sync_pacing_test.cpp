// The send budget end to end on loopback: master -> relay -> backup, with real sockets and
// the FlowSync pacing timer. Datagrams are counted at the relay; wall-clock time is asserted
// only as a generous deadline.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "ctrl/sync/flow_sync.hpp"
#include "sync_fixture.hpp"

namespace xlb::sync {
namespace {

using namespace test;
using namespace std::chrono_literals;

struct Paced : ::testing::Test {
  // master -> relay -> backup; master scans only when the test says. The interval outlasts
  // every test here, and stays below the uptime of a freshly booted machine: a takeover counts
  // as recent what was created within an interval of now, which on a machine up for less than
  // the interval would be every flow, even the ones the tests make as old (created at 1 ns).
  explicit Paced(std::uint32_t rate = default_sync_rate)
      : backup_port(free_port()),
        relay(io, backup_port),
        master(io, with_rate(node_settings(free_port(), relay.port(), "pw", 30s), rate)),
        backup(io, node_settings(backup_port, free_port(), "pw", 30s)) {
    master.sync.set_master(true);
    master.sync.start();
    backup.sync.start();
  }
  static FlowSyncSettings with_rate(FlowSyncSettings s, std::uint32_t rate) {
    s.max_datagrams_per_second = rate;
    return s;
  }
  void settle() { io.run_for(100ms); }
  // Most datagrams the relay saw inside any window of the given length.
  std::size_t peak(std::chrono::milliseconds window) const {
    std::size_t best = 0, j = 0;
    const auto& t = relay.arrivals;
    for (std::size_t i = 0; i < t.size(); ++i) {
      while (t[i] - t[j] >= window) ++j;
      best = std::max(best, i - j + 1);
    }
    return best;
  }
  asio::io_context io;
  std::uint16_t backup_port;
  Relay relay;
  Node master;
  Node backup;
};

TEST_F(Paced, ANewMastersWholeTableLeavesInPacedSlicesAndAllOfItArrives) {
  constexpr std::uint32_t flows = 100'000;
  for (std::uint32_t i = 0; i < flows; ++i) master.table.push_back(flow(i, 1));
  master.sync.scan_now();
  const auto& c = master.sync.counters();
  // 20,000 datagrams/s in 10 ms slices: 200 datagrams (4,000 entries) per slice.
  EXPECT_EQ(c.packets_sent, 200u) << "the scan's own slice sends one slice's worth, no more";
  EXPECT_EQ(master.sync.backlog(), flows - 4000u);
  ASSERT_TRUE(run_until(io, [&] { return backup.installed.size() >= flows; }))
      << "installed " << backup.installed.size() << " of " << flows << ", backlog " << master.sync.backlog()
      << ", relay saw " << relay.arrivals.size() << ", backup received " << backup.sync.counters().packets_received
      << ", master sent " << c.packets_sent << " errors " << c.send_errors << " (stale " << backup.sync.counters().rejected_stale << ", replay " << backup.sync.counters().rejected_replay
      << ")";
  settle();
  EXPECT_EQ(c.packets_sent, 5000u);
  EXPECT_EQ(c.entries_sent, flows);
  EXPECT_EQ(c.slices, 25u) << "every later slice waited a full pace_interval, so each one is full";
  EXPECT_EQ(c.entries_deferred, flows - 4000u);
  EXPECT_EQ(c.entries_dropped, 0u);
  EXPECT_EQ(c.send_errors, 0u);
  EXPECT_EQ(master.sync.backlog(), 0u);
  // Nothing lost on the way: every datagram reached the relay and the backup, every flow once.
  EXPECT_EQ(relay.arrivals.size(), 5000u);
  EXPECT_EQ(backup.sync.counters().packets_received, 5000u);
  EXPECT_EQ(backup.installed.size(), flows);
  EXPECT_EQ(backup.installed_ids().size(), flows);
  // The budget, at the receiving end: in 50 ms at most 1,000 datagrams plus one slice (200),
  // with a quarter more for delivery jitter. Sent unpaced, all 5,000 arrive within a few ms.
  const std::size_t peak50 = peak(50ms);
  std::printf("peak datagrams in 50 ms: %zu (budget 1,000 + one slice of 200)\n", peak50);
  EXPECT_LE(peak50, 1450u);
  EXPECT_LE(peak(1000ms), 20'000u + 200u);
}

struct SlowPaced : Paced {
  SlowPaced() : Paced(2000) {}  // 20 datagrams per slice
};

TEST_F(SlowPaced, NewFlowsGoAheadOfATakeoverTableStillQueued) {
  for (std::uint32_t i = 0; i < 10'000; ++i) master.table.push_back(flow(i, 1));
  master.sync.scan_now();  // 20 datagrams leave, 9,600 entries wait
  EXPECT_EQ(master.sync.counters().entries_sent, 400u);
  const std::uint64_t now = monotonic_ns();
  for (std::uint32_t i = 50'000; i < 50'100; ++i) master.table.push_back(flow(i, now));
  master.sync.scan_now();  // no budget left in this slice: the new flows queue in front
  EXPECT_EQ(master.sync.counters().refreshes_postponed, 1u) << "the table is still queued";
  ASSERT_TRUE(run_until(io, [&] { return backup.installed.size() >= 10'100; }));
  ASSERT_EQ(backup.installed.size(), 10'100u);
  for (std::size_t i = 0; i < 400; ++i) EXPECT_LT(backup.installed[i].client_port, 400) << "position " << i;
  for (std::size_t i = 400; i < 500; ++i) {
    EXPECT_GE(id_of(backup.installed[i]), id_of(flow(50'000, 0))) << "position " << i << " is not a new flow";
  }
  EXPECT_EQ(master.sync.counters().entries_dropped, 0u);
  EXPECT_EQ(backup.installed_ids().size(), 10'100u);
}

TEST_F(SlowPaced, LosingMastershipDropsTheBacklogAndCountsIt) {
  for (std::uint32_t i = 0; i < 1000; ++i) master.table.push_back(flow(i, 1));
  master.sync.scan_now();
  EXPECT_EQ(master.sync.backlog(), 600u);
  master.sync.set_master(false);
  EXPECT_EQ(master.sync.backlog(), 0u);
  EXPECT_EQ(master.sync.counters().entries_dropped, 600u);
  settle();
  EXPECT_EQ(master.sync.counters().entries_sent, 400u) << "a backup sends nothing more";
  EXPECT_EQ(master.sync.describe().at("entries_dropped"), 600u);
}

TEST(FlowSyncBacklog, PastItsCapacityEntriesAreDroppedAndCounted) {
  asio::io_context io;
  const auto backup_port = free_port();
  auto s = node_settings(free_port(), backup_port, "pw", 1h);
  s.max_backlog = 1000;
  Node master(io, s);
  Node backup(io, backup_port, free_port(), "pw", 1h);
  master.sync.set_master(true);
  master.sync.start();
  backup.sync.start();
  for (std::uint32_t i = 0; i < 5000; ++i) master.table.push_back(flow(i, 1));
  master.sync.scan_now();
  io.run_for(100ms);
  EXPECT_EQ(master.sync.counters().entries_dropped, 4000u);
  EXPECT_EQ(master.sync.counters().entries_sent, 1000u);
  EXPECT_EQ(backup.installed.size(), 1000u);
}

// A datagram lost on the way costs its 20 entries and nothing else, until their refresh.
TEST_F(Paced, ALostDatagramCostsOnlyItsEntriesAndTheRefreshRepairsThem) {
  constexpr std::uint32_t flows = 400;  // 20 datagrams; refresh_scans = 4
  const std::uint64_t active = ~std::uint64_t{0} / 2;
  for (std::uint32_t i = 0; i < flows; ++i) {
    auto f = flow(i, 1);
    f.last_seen_ns = active;  // every flow stays in use
    master.table.push_back(f);
  }
  relay.lose = {7};
  master.sync.scan_now();
  settle();
  ASSERT_EQ(relay.lost.size(), 1u);
  std::error_code ec;
  const auto lost = decode(relay.lost.front(), derive_key("pw"), ec);
  ASSERT_TRUE(lost.has_value()) << ec.message();
  ASSERT_EQ(lost->entries.size(), 20u);
  std::set<std::uint64_t> lost_ids;
  for (const auto& e : lost->entries) lost_ids.insert(id_of(e));

  std::set<std::uint64_t> missing;
  const auto have = backup.installed_ids();
  for (const auto& f : master.table)
    if (!have.count(id_of(f))) missing.insert(id_of(f));
  EXPECT_EQ(missing, lost_ids) << "exactly the lost datagram's entries are missing";
  EXPECT_EQ(backup.installed.size(), flows - 20u);
  EXPECT_EQ(backup.sync.counters().rejected_replay, 0u) << "a gap in sequence numbers is not a replay";

  // One refresh cycle (refresh_scans scans) sends every active entry once more.
  const std::size_t before = backup.installed.size();
  for (int i = 0; i < 4; ++i) {
    master.sync.scan_now();
    settle();
  }
  std::map<std::uint64_t, int> refreshed;
  for (std::size_t i = before; i < backup.installed.size(); ++i) ++refreshed[id_of(backup.installed[i])];
  for (const auto id : lost_ids) EXPECT_EQ(refreshed[id], 1) << "lost entry " << id << " repaired once";
  EXPECT_EQ(backup.installed_ids().size(), flows) << "nothing missing after the refresh cycle";
  EXPECT_EQ(refreshed.size(), flows) << "every active entry is refreshed once per cycle";
}

}  // namespace
}  // namespace xlb::sync
