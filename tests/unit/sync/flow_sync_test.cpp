// Two FlowSync engines over loopback (real UDP sockets); the flow tables behind them are
// plain vectors, since what is under test is selection, batching, sealing and acceptance.
#include "ctrl/sync/flow_sync.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "sync_fixture.hpp"

namespace xlb::sync {
namespace {

using namespace test;

template <int IntervalMs>
struct PairOf : ::testing::Test {
  PairOf()
      : a_port(free_port()),
        b_port(free_port()),
        master(io, a_port, b_port, "pw", std::chrono::milliseconds(IntervalMs)),
        backup(io, b_port, a_port, "pw", std::chrono::milliseconds(IntervalMs)) {
    master.sync.set_master(true);
    backup.sync.set_master(false);
    master.sync.start();
    backup.sync.start();
  }
  void settle() { io.run_for(std::chrono::milliseconds(100)); }
  asio::io_context io;
  std::uint16_t a_port, b_port;
  Node master;
  Node backup;
};

using Pair = PairOf<20>;
using ManualPair = PairOf<3'600'000>;  // scans only when the test says

TEST_F(Pair, MasterReplicatesItsWholeTableInBatches) {
  for (std::uint16_t i = 0; i < 1000; ++i) master.table.push_back(flow(10000 + i, 1));
  master.sync.scan_now();
  settle();
  EXPECT_EQ(master.sync.counters().packets_sent, 50u);  // 20 entries per datagram
  EXPECT_EQ(master.sync.counters().entries_sent, 1000u);
  ASSERT_EQ(backup.installed.size(), 1000u);
  std::set<std::uint16_t> ports;
  for (const auto& f : backup.installed) ports.insert(f.client_port);
  EXPECT_EQ(ports.size(), 1000u);
  EXPECT_EQ(backup.installed[1].real, make_address("198.18.0.21"));
  EXPECT_EQ(backup.sync.counters().rejected_auth, 0u);
}

TEST_F(ManualPair, AfterTheFirstScanOnlyNewEntriesAndARotatingShareAreSent) {
  for (std::uint16_t i = 0; i < 400; ++i) master.table.push_back(flow(10000 + i, 1));
  master.sync.scan_now();  // everything
  settle();
  EXPECT_EQ(master.sync.counters().entries_sent, 400u);
  ASSERT_EQ(backup.installed.size(), 400u);
  // Every flow stays active (last_seen keeps advancing); one new flow appears.
  const std::uint64_t active = ~std::uint64_t{0} / 2;
  for (auto& f : master.table) f.last_seen_ns = active;
  auto fresh = flow(20000, monotonic_ns());
  fresh.last_seen_ns = active;
  master.table.push_back(fresh);
  std::map<std::uint16_t, int> sent;  // client port -> times sent
  std::size_t cursor = backup.installed.size();
  for (int i = 0; i < 4; ++i) {
    master.sync.scan_now();
    settle();
    for (; cursor < backup.installed.size(); ++cursor) ++sent[backup.installed[cursor].client_port];
    if (i == 0) {
      EXPECT_EQ(sent[20000], 1) << "a new flow goes out with the next scan";
      EXPECT_LT(cursor, 400u + 200u) << "refreshes are spread over refresh_scans scans";
    }
  }
  // Over refresh_scans scans every old flow is refreshed exactly once.
  for (std::uint16_t i = 0; i < 400; ++i) EXPECT_EQ(sent[10000 + i], 1) << i;
  // The new flow: once as new, possibly once more as new (the next scan looks back 20 ms for
  // the coarse clock, and it was created just before), and once in its refresh turn.
  EXPECT_LE(sent[20000], 3);
}

TEST_F(Pair, OnlyTheMasterSendsOnItsTimer) {
  master.table.push_back(flow(10000, 1));
  master.sync.set_master(false);
  settle();
  EXPECT_EQ(master.sync.counters().packets_sent, 0u);
  master.sync.set_master(true);
  settle();
  EXPECT_GE(master.sync.counters().packets_sent, 1u);
  EXPECT_GE(backup.installed.size(), 1u);
}

TEST_F(Pair, AMasterDoesNotInstallWhatAPeerClaims) {
  backup.table.push_back(flow(10000, 1));
  backup.sync.scan_now();  // split brain: the other side sends too
  settle();
  EXPECT_TRUE(master.installed.empty());
  EXPECT_EQ(master.sync.counters().packets_received, 1u);
}

TEST_F(Pair, UnknownRealsAreCounted) {
  auto f = flow(10000, 1);
  f.real = make_address("198.18.0.99");
  master.table.push_back(f);
  master.table.push_back(flow(10001, 1));
  master.sync.scan_now();
  settle();
  EXPECT_EQ(backup.sync.counters().entries_installed, 1u);
  EXPECT_EQ(backup.sync.counters().entries_unknown, 1u);
}

TEST(FlowSync, WrongSecretWrongIdAndReplaysAreRejected) {
  asio::io_context io;
  const auto a = free_port(), b = free_port();
  Node backup(io, b, a, "right");
  backup.sync.start();
  asio::ip::udp::socket raw(io, asio::ip::udp::endpoint(asio::ip::udp::v4(), 0));
  const asio::ip::udp::endpoint to(make_address("127.0.0.1"), b);
  SyncPacket p;
  p.header = {3, 77, 1000, 1, realtime_ms()};
  p.entries.push_back(to_entry(flow(10000, 1)));
  raw.send_to(asio::buffer(encode(p, derive_key("wrong"))), to);
  auto cut = encode(p, derive_key("right"));
  cut.resize(cut.size() - 1);
  raw.send_to(asio::buffer(cut), to);  // not a whole datagram: malformed, not a key problem
  raw.send_to(asio::buffer(encode(p, derive_key("right"))), to);
  raw.send_to(asio::buffer(encode(p, derive_key("right"))), to);  // replayed
  p.header.sync_id = 4;
  p.header.sequence = 2;
  raw.send_to(asio::buffer(encode(p, derive_key("right"))), to);
  io.run_for(std::chrono::milliseconds(100));
  const auto& c = backup.sync.counters();
  EXPECT_EQ(c.packets_received, 5u);
  EXPECT_EQ(c.rejected_auth, 1u);
  EXPECT_EQ(c.rejected_malformed, 1u);
  EXPECT_EQ(c.rejected_replay, 1u);
  EXPECT_EQ(c.rejected_sync_id, 1u);
  EXPECT_EQ(backup.installed.size(), 1u);
}

// Issue 27 item 7: datagrams captured before a restart and replayed after it installed
// flows, because the restarted receiver's replay window starts empty.
TEST(FlowSync, DatagramsCapturedBeforeAReceiverRestartInstallNothingAfterIt) {
  asio::io_context io;
  const auto a = free_port(), b = free_port();
  auto backup = std::make_unique<Node>(io, b, a, "pw", std::chrono::hours(1));
  Relay relay(io, b);
  relay.capture = true;
  Node master(io, a, relay.port(), "pw", std::chrono::hours(1));
  master.sync.set_master(true);
  backup->sync.start();
  for (std::uint32_t i = 0; i < 200; ++i) master.table.push_back(flow(10000 + i, 1));
  master.sync.scan_now();
  ASSERT_TRUE(run_until(io, [&] { return backup->installed.size() == 200; }));
  ASSERT_EQ(relay.captured.size(), 10u);

  backup.reset();  // xlbctl stop --detach, and a new start
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // sent_ms has 1 ms steps
  backup = std::make_unique<Node>(io, b, a, "pw", std::chrono::hours(1));
  backup->sync.start();
  asio::ip::udp::socket attacker(io, asio::ip::udp::endpoint(asio::ip::udp::v4(), 0));
  for (const auto& d : relay.captured)
    attacker.send_to(asio::buffer(d), asio::ip::udp::endpoint(make_address("127.0.0.1"), b));
  ASSERT_TRUE(run_until(io, [&] { return backup->sync.counters().packets_received == 10; }));
  EXPECT_EQ(backup->installed.size(), 0u);
  EXPECT_EQ(backup->sync.counters().rejected_replay, 10u);

  // The same master, still running, is heard by the restarted backup.
  master.table = {flow(20000, monotonic_ns())};
  master.sync.scan_now();
  ASSERT_TRUE(run_until(io, [&] { return backup->installed.size() == 1; }));
}

TEST(FlowSync, DatagramsOfARestartedSendersPreviousRunAreRefused) {
  asio::io_context io;
  const auto a = free_port(), b = free_port();
  Node backup(io, b, a, "pw", std::chrono::hours(1));
  backup.sync.start();
  Relay relay(io, b);
  relay.capture = true;
  auto master = std::make_unique<Node>(io, a, relay.port(), "pw", std::chrono::hours(1));
  master->sync.set_master(true);
  for (std::uint32_t i = 0; i < 100; ++i) master->table.push_back(flow(10000 + i, 1));
  master->sync.scan_now();
  ASSERT_TRUE(run_until(io, [&] { return backup.installed.size() == 100; }));
  const auto old_run = relay.captured;

  master = std::make_unique<Node>(io, a, relay.port(), "pw", std::chrono::hours(1));
  master->sync.set_master(true);
  master->table = {flow(30000, 1)};
  master->sync.scan_now();
  ASSERT_TRUE(run_until(io, [&] { return backup.installed.size() == 101; }));  // the new epoch is heard
  asio::ip::udp::socket attacker(io, asio::ip::udp::endpoint(asio::ip::udp::v4(), 0));
  for (const auto& d : old_run) attacker.send_to(asio::buffer(d), asio::ip::udp::endpoint(make_address("127.0.0.1"), b));
  ASSERT_TRUE(run_until(io, [&] { return backup.sync.counters().packets_received == 6 + old_run.size(); }));
  EXPECT_EQ(backup.installed.size(), 101u);
  EXPECT_EQ(backup.sync.counters().rejected_replay, old_run.size());
}

TEST(FlowSync, DatagramsSealedFarFromTheReceiversClockAreStale) {
  asio::io_context io;
  const auto a = free_port(), b = free_port();
  Node backup(io, b, a, "pw");
  backup.sync.start();
  asio::ip::udp::socket raw(io, asio::ip::udp::endpoint(asio::ip::udp::v4(), 0));
  const asio::ip::udp::endpoint to(make_address("127.0.0.1"), b);
  SyncPacket p;
  p.entries.push_back(to_entry(flow(10000, 1)));
  const std::uint64_t skew_ms = 30'000;  // the default sync_max_clock_skew
  p.header = {3, 77, 1000, 1, realtime_ms() - skew_ms - 2000};
  raw.send_to(asio::buffer(encode(p, derive_key("pw"))), to);
  p.header = {3, 78, 1000, 1, realtime_ms() + skew_ms + 2000};
  raw.send_to(asio::buffer(encode(p, derive_key("pw"))), to);
  p.header = {3, 79, 1000, 1, realtime_ms() + 1000};  // a sender a second ahead: fine
  raw.send_to(asio::buffer(encode(p, derive_key("pw"))), to);
  ASSERT_TRUE(run_until(io, [&] { return backup.sync.counters().packets_received == 3; }));
  EXPECT_EQ(backup.sync.counters().rejected_stale, 2u);
  EXPECT_EQ(backup.installed.size(), 1u);
}

TEST(FlowSync, EntriesRoundTripThroughTheWireForm) {
  auto f = flow(4321, 9);
  f.persist = true;
  f.service.port = 0;
  f.vip_port = 0;
  f.client_port = 0;
  f.service.protocol = dataplane::Protocol::udp;
  const auto back = from_entry(to_entry(f));
  EXPECT_EQ(back.persist, true);
  EXPECT_EQ(back.service, f.service);
  EXPECT_EQ(back.client, f.client);
  EXPECT_EQ(back.real, f.real);
  EXPECT_EQ(back.real_port, f.real_port);
}

}  // namespace
}  // namespace xlb::sync
