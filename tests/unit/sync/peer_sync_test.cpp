// flow_sync_peers (issue 29): FlowSync with all_peers over loopback. Every peer sends what it
// makes and installs what the others send; a peer that starts asks for the others' tables and
// counts as synced once one whole table arrived, or when its join wait ends.
#include <gtest/gtest.h>

#include "sync_fixture.hpp"

namespace xlb::sync {
namespace {

using namespace test;
using std::chrono::milliseconds;

FlowSyncSettings peer_settings(std::uint16_t port, std::uint16_t peer_port, milliseconds join_wait = milliseconds(5000)) {
  auto s = node_settings(port, peer_port, "pw", milliseconds(20));
  s.all_peers = true;
  s.join_wait = join_wait;
  return s;
}

TEST(PeerSync, EveryPeerSendsAndInstalls) {
  asio::io_context io;
  const auto pa = free_port(), pb = free_port();
  Node a(io, peer_settings(pa, pb));
  Node b(io, peer_settings(pb, pa));
  a.sync.start();
  b.sync.start();
  ASSERT_TRUE(run_until(io, [&] { return a.sync.synced() && b.sync.synced(); }));
  // Made after both joined: sent as new flows by the regular scans, in both directions.
  const auto now = monotonic_ns();
  a.table.push_back(flow(10000, now));
  b.table.push_back(flow(20000, now));
  ASSERT_TRUE(run_until(io, [&] { return a.installed_ids().size() == 1 && b.installed_ids().size() == 1; }));
  EXPECT_EQ(*b.installed_ids().begin(), id_of(flow(10000, 0)));
  EXPECT_EQ(*a.installed_ids().begin(), id_of(flow(20000, 0)));
  EXPECT_EQ(a.sync.describe()["role"], "peer");
}

TEST(PeerSync, AJoiningPeerGetsTheWholeTableBeforeItCountsAsSynced) {
  asio::io_context io;
  const auto pa = free_port(), pb = free_port();
  Node a(io, peer_settings(pa, pb, milliseconds(300)));
  // Old flows, idle since long before: regular scans would never send them again.
  for (std::uint32_t i = 0; i < 500; ++i) a.table.push_back(flow(10000 + i, 1));
  a.sync.start();
  // a is alone: its join ends when the wait does, not before.
  ASSERT_TRUE(run_until(io, [&] { return a.sync.synced(); }));
  EXPECT_EQ(a.synced_calls, 1);
  io.run_for(milliseconds(100));  // a few regular scans: nothing idle is sent
  const auto sent_before = a.sync.counters().entries_sent;

  Node b(io, peer_settings(pb, pa));
  b.sync.start();
  EXPECT_FALSE(b.sync.synced());
  ASSERT_TRUE(run_until(io, [&] { return b.sync.synced(); }, std::chrono::seconds(4)))
      << "b should have had a's table well within its 5 s join wait";
  EXPECT_EQ(b.synced_calls, 1);
  EXPECT_EQ(b.installed_ids().size(), 500u) << "bulk_done arrived before the table";
  EXPECT_EQ(a.sync.counters().bulk_sends, 1u);
  EXPECT_EQ(a.sync.counters().joins_answered, 1u);
  EXPECT_GE(a.sync.counters().entries_sent - sent_before, 500u);
  // b joined once: a's later scans do not resend the table.
  io.run_for(milliseconds(200));
  EXPECT_EQ(a.sync.counters().bulk_sends, 1u);
}

TEST(PeerSync, NoAnswerEndsTheJoinAtTheWait) {
  asio::io_context io;
  const auto pa = free_port(), nobody = free_port();
  Node a(io, peer_settings(pa, nobody, milliseconds(200)));
  const auto t0 = std::chrono::steady_clock::now();
  a.sync.start();
  io.run_for(milliseconds(100));
  EXPECT_FALSE(a.sync.synced()) << "synced before its join wait with no peer answering";
  ASSERT_TRUE(run_until(io, [&] { return a.sync.synced(); }));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, milliseconds(200));
  EXPECT_EQ(a.synced_calls, 1);
}

// Two nodes that start together ask each other, and each answers with an empty table while
// joining itself: they must not wait the whole join wait (60 s here) for each other.
TEST(PeerSync, PeersStartingTogetherEndTheirJoinsOnEachOthersAnswer) {
  asio::io_context io;
  const auto pa = free_port(), pb = free_port();
  Node a(io, peer_settings(pa, pb, std::chrono::seconds(60)));
  Node b(io, peer_settings(pb, pa, std::chrono::seconds(60)));
  a.sync.start();
  b.sync.start();
  ASSERT_TRUE(run_until(io, [&] { return a.sync.synced() && b.sync.synced(); }, std::chrono::seconds(20)))
      << "a: " << a.sync.describe()["join"] << ", b: " << b.sync.describe()["join"];
  EXPECT_EQ(a.synced_calls, 1);
  EXPECT_EQ(b.synced_calls, 1);
  // The first to end its join may answer the other as synced already: a whole table then.
  const std::string ja = a.sync.describe()["join"], jb = b.sync.describe()["join"];
  for (const auto& j : {ja, jb}) EXPECT_TRUE(j == "peers_joining" || j == "peer_table") << j;
  EXPECT_TRUE(ja == "peers_joining" || jb == "peers_joining") << ja << " " << jb;
  EXPECT_EQ(a.sync.describe()["join_wait"], 60.0);
}

// A joining peer's answer carries no flows it did not make: with another peer listed (which
// may hold the flows, only slower), it does not end the join; the wait does. Here each lists
// the other and 127.0.0.2, which stands for a third node that never answers.
TEST(PeerSync, AJoiningPeersAnswerDoesNotEndAJoinWhileAnotherPeerMayAnswer) {
  asio::io_context io;
  const auto pa = free_port(), pb = free_port();
  auto sa = peer_settings(pa, pb, milliseconds(400));
  auto sb = peer_settings(pb, pa, milliseconds(400));
  sa.peers = sb.peers = {make_address("127.0.0.1"), make_address("127.0.0.2")};
  Node a(io, sa);
  Node b(io, sb);
  a.sync.start();
  b.sync.start();
  ASSERT_TRUE(run_until(io, [&] { return a.sync.synced() && b.sync.synced(); }, std::chrono::seconds(20)));
  EXPECT_EQ(a.sync.describe()["join"], "wait_ended") << "b's empty answer ended a's join with a peer unheard";
  EXPECT_EQ(b.sync.describe()["join"], "wait_ended");
  EXPECT_GE(a.sync.counters().joins_answered, 1u) << "a never heard b's join: the test proves nothing";
  EXPECT_GE(b.sync.counters().joins_answered, 1u);
}

}  // namespace
}  // namespace xlb::sync
