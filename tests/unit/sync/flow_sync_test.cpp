// Two FlowSync engines over loopback (real UDP sockets); the flow tables behind them are
// plain vectors, since what is under test is selection, batching, sealing and acceptance.
#include "ctrl/sync/flow_sync.hpp"

#include <gtest/gtest.h>

#include <time.h>

#include <map>
#include <set>

namespace xlb::sync {
namespace {

namespace asio = boost::asio;
using asio::ip::make_address;
using dataplane::SyncedFlow;

std::uint64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint16_t free_port() {
  asio::io_context io;
  asio::ip::udp::socket s(io, asio::ip::udp::endpoint(asio::ip::udp::v4(), 0));
  return s.local_endpoint().port();
}

SyncedFlow flow(std::uint16_t client_port, std::uint64_t created) {
  SyncedFlow f;
  f.service.address = make_address("198.18.0.100");
  f.service.port = 80;
  f.vip = f.service.address;
  f.vip_port = 80;
  f.client = make_address("198.18.1.7");
  f.client_port = client_port;
  f.real = make_address(client_port % 2 ? "198.18.0.21" : "198.18.0.22");
  f.real_port = 80;
  f.created_ns = created;
  f.last_seen_ns = created;
  return f;
}

struct Node {
  Node(asio::io_context& io, std::uint16_t port, std::uint16_t peer_port, std::string secret,
       std::chrono::milliseconds interval = std::chrono::milliseconds(20))
      : sync(io.get_executor(), settings(port, peer_port, secret, interval), hooks()) {}
  static FlowSyncSettings settings(std::uint16_t port, std::uint16_t peer_port, const std::string& secret,
                                   std::chrono::milliseconds interval) {
    FlowSyncSettings s;
    s.interface = "lo";
    s.instance = "VI_1";
    s.sync_id = 3;
    s.key = derive_key(secret);
    s.peers = {make_address("127.0.0.1")};
    s.port = port;
    s.peer_port = peer_port;
    s.scan_interval = interval;
    s.refresh_scans = 4;
    return s;
  }
  FlowSyncHooks hooks() {
    FlowSyncHooks h;
    h.collect = [this](std::uint64_t since) {
      std::vector<SyncedFlow> out;
      for (const auto& f : table)
        if (f.last_seen_ns >= since) out.push_back(f);
      return out;
    };
    h.install = [this](const SyncedFlow& f) {
      if (f.real == make_address("198.18.0.99")) return false;  // "not configured here"
      installed.push_back(f);
      return true;
    };
    return h;
  }
  std::vector<SyncedFlow> table;
  std::vector<SyncedFlow> installed;
  FlowSync sync;
};

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
  EXPECT_LE(sent[20000], 2);
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
  p.header = {3, 77, 1000, 1};
  p.entries.push_back(to_entry(flow(10000, 1)));
  raw.send_to(asio::buffer(encode(p, derive_key("wrong"))), to);
  raw.send_to(asio::buffer(encode(p, derive_key("right"))), to);
  raw.send_to(asio::buffer(encode(p, derive_key("right"))), to);  // replayed
  p.header.sync_id = 4;
  p.header.sequence = 2;
  raw.send_to(asio::buffer(encode(p, derive_key("right"))), to);
  io.run_for(std::chrono::milliseconds(100));
  const auto& c = backup.sync.counters();
  EXPECT_EQ(c.packets_received, 4u);
  EXPECT_EQ(c.rejected_auth, 1u);
  EXPECT_EQ(c.rejected_replay, 1u);
  EXPECT_EQ(c.rejected_sync_id, 1u);
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
