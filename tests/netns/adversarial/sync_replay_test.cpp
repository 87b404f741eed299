// Issue 27 item 7 against xlbd itself: the two-node lab with lvs_sync_daemon on the heartbeat
// link. An eavesdropper in lb2's namespace records lb1's sync datagrams while the client makes
// 30 connections; lb2's xlbd is stopped with --detach (its flow table goes) and started again;
// the recorded datagrams are sent again from lb1's namespace. Before the fix the restarted
// backup installed every entry again; now it installs none and counts each datagram as a
// replay.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/netns/adversarial/two_node_lab.hpp"

namespace {

using xlb::test::binary_dir;
using xlb::test::run;
using xlb::test::source_dir;
using xlb::test::wait_for;
using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kClient = "198.18.0.10";

class SyncReplay : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: namespaces, XDP, VRRP";
    ::setenv("XLB_LAB_GLOBAL_DEFS", "   lvs_sync_daemon eth1 VI_1 id 7", 1);
    lab_.emplace('r');
    tool_ = source_dir() + "/tests/netns/adversarial/sync_replay.py";
  }
  void TearDown() override {
    if (HasFailure() && lab_) std::printf("%s", lab_->log_tail(2).c_str());
    lab_.reset();
    ::unsetenv("XLB_LAB_GLOBAL_DEFS");
  }
  Json sync_status(int node) const {
    const auto s = lab_->ctl(node, "status");
    return s.is_object() && s.contains("flow_sync") ? s["flow_sync"] : Json::object();
  }
  std::size_t client_flows(int node) const {
    const auto flows = lab_->ctl(node, "flows --client " + std::string(kClient));
    return flows.is_array() ? flows.size() : 0;
  }
  std::size_t recorded() const {
    std::ifstream in(lab_->state() + "/sync.hex");
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) n += !line.empty();
    return n;
  }

  std::optional<xlb::test::TwoNodeLab> lab_;
  std::string tool_;
};

TEST_F(SyncReplay, DatagramsRecordedBeforeABackupRestartInstallNothingAfterIt) {
  const auto up = lab_->lab("up", binary_dir());
  ASSERT_EQ(up.status, 0) << up.out;
  ASSERT_TRUE(wait_for([&] { return lab_->lab("master").out == "lb1\n"; }, 15s));
  ASSERT_TRUE(wait_for([&] { return sync_status(2).value("role", "") == "backup"; }, 15s)) << lab_->ctl(2, "status").dump();

  const int capture = lab_->spawn("ip netns exec " + lab_->netns("lb2") + " " + tool_ + " capture eth1 198.19.0.1 8848 " +
                                      lab_->state() + "/sync.hex 60",
                                  "/dev/null");
  std::this_thread::sleep_for(500ms);  // the capture socket is open
  const auto answered = lab_->lab("requests", "30").out;
  ASSERT_TRUE(wait_for([&] { return client_flows(2) >= 30; }, 15s))
      << answered << "lb2 holds " << client_flows(2) << " of the client's flows";
  // Idle flows are not sent again (a scan sends only entries used since the previous one):
  // after two quiet scans the recording is complete.
  std::this_thread::sleep_for(2500ms);
  lab_->stop(capture);
  const std::size_t datagrams = recorded();
  ASSERT_GE(datagrams, 2u);
  std::printf("recorded %zu datagrams; lb2 had installed %d entries\n", datagrams,
              sync_status(2).value("entries_installed", 0));

  // Restart the backup: stop --detach drops its flow table.
  ASSERT_EQ(lab_->lab("ctl", "2 stop --detach").status, 0);
  run("while [ -e " + lab_->state() + "/run-xlbd-lb2.pid ] && kill -0 $(cat " + lab_->state() +
      "/run-xlbd-lb2.pid) 2>/dev/null; do sleep 0.05; done");
  ASSERT_EQ(lab_->lab("lb-start", "2").status, 0) << lab_->log_tail(2, 20);
  ASSERT_TRUE(wait_for([&] { return sync_status(2).value("role", "") == "backup"; }, 15s));
  ASSERT_EQ(client_flows(2), 0u) << "the restarted backup kept flows";

  const auto replayed = run("ip netns exec " + lab_->netns("lb1") + " " + tool_ + " replay " + lab_->state() +
                            "/sync.hex 198.19.0.2 8848");
  ASSERT_EQ(replayed.out, "replayed " + std::to_string(datagrams) + "\n") << replayed.out;
  ASSERT_TRUE(wait_for([&] { return sync_status(2).value("packets_received", 0) >= static_cast<int>(datagrams); }, 5s))
      << sync_status(2).dump();
  const auto after = sync_status(2);
  std::printf("after the replay: %s\n", after.dump().c_str());
  EXPECT_EQ(after.value("rejected_replay", 0), static_cast<int>(datagrams));
  EXPECT_EQ(after.value("entries_installed", -1), 0);
  EXPECT_EQ(client_flows(2), 0u);
}

}  // namespace
