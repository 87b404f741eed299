// Issue 27 item 7 against xlbd itself: the two-node lab with lvs_sync_daemon on the heartbeat
// link. An eavesdropper in lb2's namespace records lb1's sync datagrams while the client makes
// 30 connections; lb2's xlbd is stopped with --detach (its flow table goes) and started again;
// the recorded datagrams are sent again from lb1's namespace. Before the fix the restarted
// backup installed every entry again; now it installs none and counts each datagram as a
// replay.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/shell.hpp"

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
    std::ostringstream s;
    s << "r" << std::hex << (::getpid() & 0xfffffff);
    suffix_ = s.str().substr(0, 8);
    state_ = "/run/xlb-lab-" + suffix_;
    script_ = source_dir() + "/tools/lab/xlb-lab.sh";
    tool_ = source_dir() + "/tests/netns/adversarial/sync_replay.py";
    ::setenv("XLB_LAB_GLOBAL_DEFS", "   lvs_sync_daemon eth1 VI_1 id 7", 1);
  }
  void TearDown() override {
    if (capture_pid_ > 0) {
      ::kill(capture_pid_, SIGKILL);
      run("while kill -0 " + std::to_string(capture_pid_) + " 2>/dev/null; do sleep 0.05; done");
    }
    if (HasFailure() && !state_.empty()) std::printf("%s", run("tail -n 30 " + state_ + "/xlbd-lb2.log").out.c_str());
    if (!suffix_.empty()) run(script_ + " down " + suffix_);
    ::unsetenv("XLB_LAB_GLOBAL_DEFS");
  }
  xlb::test::Run lab(const std::string& sub, const std::string& args = "") const {
    return run(script_ + " " + sub + " " + suffix_ + (args.empty() ? "" : " " + args));
  }
  Json ctl(int node, const std::string& what) const {
    const auto r = lab("ctl", std::to_string(node) + " --json " + what + " 2>/dev/null");
    if (r.status != 0) return Json();
    return Json::parse(r.out, nullptr, false);
  }
  Json sync_status(int node) const {
    const auto s = ctl(node, "status");
    return s.is_object() && s.contains("flow_sync") ? s["flow_sync"] : Json::object();
  }
  std::size_t client_flows(int node) const {
    const auto flows = ctl(node, "flows --client " + std::string(kClient));
    return flows.is_array() ? flows.size() : 0;
  }
  std::size_t captured() const {
    std::ifstream in(state_ + "/sync.hex");
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) n += !line.empty();
    return n;
  }

  std::string suffix_, state_, script_, tool_;
  int capture_pid_ = 0;
};

TEST_F(SyncReplay, DatagramsRecordedBeforeABackupRestartInstallNothingAfterIt) {
  const auto up = lab("up", binary_dir());
  ASSERT_EQ(up.status, 0) << up.out;
  ASSERT_TRUE(wait_for([&] { return lab("master").out == "lb1\n"; }, 15s));
  ASSERT_TRUE(wait_for([&] { return sync_status(2).value("role", "") == "backup"; }, 15s)) << ctl(2, "status").dump();

  capture_pid_ = std::stoi(run("ip netns exec xlb-lb2-" + suffix_ + " " + tool_ + " capture eth1 198.19.0.1 8848 " + state_ +
                               "/sync.hex 60 >/dev/null 2>&1 & echo $!")
                               .out);
  std::this_thread::sleep_for(500ms);  // the capture socket is open
  const auto answered = lab("requests", "30").out;
  ASSERT_TRUE(wait_for([&] { return client_flows(2) >= 30; }, 15s))
      << answered << "lb2 holds " << client_flows(2) << " of the client's flows";
  // Idle flows are not sent again (only entries used since the last scan are): two quiet
  // scans and the recording is complete.
  std::this_thread::sleep_for(2500ms);
  ::kill(capture_pid_, SIGKILL);
  run("while kill -0 " + std::to_string(capture_pid_) + " 2>/dev/null; do sleep 0.05; done");
  capture_pid_ = 0;
  const std::size_t recorded = captured();
  ASSERT_GE(recorded, 2u);
  const auto installed_before = sync_status(2).value("entries_installed", 0);
  std::printf("recorded %zu datagrams; lb2 had installed %d entries\n", recorded, installed_before);

  // Restart the backup: stop --detach drops its flow table.
  ASSERT_EQ(lab("ctl", "2 stop --detach").status, 0);
  ASSERT_TRUE(wait_for([&] { return lab("ctl", "2 status >/dev/null 2>&1; echo $?").out != "0\n"; }, 10s));
  run("while [ -e " + state_ + "/run-xlbd-lb2.pid ] && kill -0 $(cat " + state_ +
      "/run-xlbd-lb2.pid) 2>/dev/null; do sleep 0.05; done");
  ASSERT_EQ(lab("lb-start", "2").status, 0) << run("tail -n 20 " + state_ + "/xlbd-lb2.log").out;
  ASSERT_TRUE(wait_for([&] { return sync_status(2).value("role", "") == "backup"; }, 15s));
  ASSERT_EQ(client_flows(2), 0u) << "the restarted backup kept flows";

  const auto replayed = run("ip netns exec xlb-lb1-" + suffix_ + " " + tool_ + " replay " + state_ + "/sync.hex 198.19.0.2 8848");
  ASSERT_EQ(replayed.out, "replayed " + std::to_string(recorded) + "\n") << replayed.out;
  ASSERT_TRUE(wait_for([&] { return sync_status(2).value("rejected_replay", 0) >= static_cast<int>(recorded); }, 5s))
      << sync_status(2).dump();
  const auto after = sync_status(2);
  std::printf("after the replay: %s\n", after.dump().c_str());
  EXPECT_EQ(after.value("rejected_replay", 0), static_cast<int>(recorded));
  EXPECT_EQ(after.value("entries_installed", -1), 0);
  EXPECT_EQ(client_flows(2), 0u);
}

}  // namespace
