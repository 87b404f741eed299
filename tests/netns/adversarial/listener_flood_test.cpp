// Issue 27 item 1 against xlbd itself: the two-node lab (tools/lab/xlb-lab.sh) with lb1's and
// lb2's xlbd under 256 descriptors (prlimit, as a unit without LimitNOFILE would give 1,024),
// then 600 idle or slowloris connections to lb1's control socket and 600 to its metrics port.
// Before the fix both accept loops ended at EMFILE for good, VRRP went to FAULT and the checks
// marked the reals down. Now xlbctl and a scrape are answered during the flood, lb1 stays
// master with both reals up, and xlbd closes every flood connection (evicted to make room, or
// timed out).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>

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

constexpr int kFlood = 600;
constexpr const char* kRs1 = "198.18.0.11";
constexpr const char* kRs2 = "198.18.0.12";

class ListenerFlood : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: namespaces, XDP, VRRP";
    // util-linux, Essential in Debian: its absence is a broken machine, not a missing feature.
    ASSERT_EQ(run("command -v prlimit").status, 0) << "prlimit (util-linux) is missing";
    ::setenv("XLB_LAB_XLBD_WRAP", "prlimit --nofile=256:256", 1);
    ::setenv("XLB_LAB_GLOBAL_DEFS",
             "   control_socket_idle_timeout 3\n   control_socket_request_timeout 2\n"
             "   metrics_idle_timeout 3\n   metrics_request_timeout 2",
             1);
    lab_.emplace('f');
  }
  void TearDown() override {
    if (HasFailure() && lab_) std::printf("%s", lab_->log_tail(1).c_str());
    lab_.reset();
    ::unsetenv("XLB_LAB_XLBD_WRAP");
    ::unsetenv("XLB_LAB_GLOBAL_DEFS");
  }
  std::string state_of_lb1() const {
    const auto s = lab_->ctl(1, "status");
    if (!s.is_object() || s["instances"].empty()) return "";
    return s["instances"][0].value("state", "");
  }
  std::string health(const std::string& real) const {
    const auto services = lab_->ctl(1, "list");
    if (!services.is_array() || services.empty()) return "";
    for (const auto& r : services[0]["reals"])
      if (r["address"] == real) return r["health"].get<std::string>();
    return "";
  }
  std::string scrape() const {
    return run("ip netns exec " + lab_->netns("lb1") + " curl -s -m 5 http://127.0.0.1:9780/metrics").out;
  }
  std::string flood_output() const {
    std::ifstream in(lab_->state() + "/flood.out");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::optional<xlb::test::TwoNodeLab> lab_;
};

TEST_F(ListenerFlood, ControlSocketMetricsVrrpAndChecksOutliveAFloodUnder256Descriptors) {
  const auto up = lab_->lab("up", binary_dir());
  ASSERT_EQ(up.status, 0) << up.out << lab_->log_tail(1, 20);
  ASSERT_TRUE(wait_for([&] { return state_of_lb1() == "MASTER"; }, 15s));
  ASSERT_TRUE(wait_for([&] { return health(kRs1) == "up" && health(kRs2) == "up"; }, 15s));
  const auto before = lab_->ctl(1, "status");
  ASSERT_EQ(before["listeners"]["descriptors"].value("limit", 0), 256);

  // The flood runs inside lb1's namespace (the metrics port is lb1's loopback); it holds its
  // connections 12 s, four times the idle timeout.
  lab_->spawn("ip netns exec " + lab_->netns("lb1") + " " + source_dir() + "/tests/netns/adversarial/flood.py " +
                  lab_->state() + "/lb1.sock 127.0.0.1 9780 " + std::to_string(kFlood) + " 12",
              lab_->state() + "/flood.out");
  ASSERT_TRUE(wait_for([&] { return flood_output().find("opened") != std::string::npos; }, 30s)) << flood_output();

  // During the flood.
  const auto t0 = std::chrono::steady_clock::now();
  const auto during = lab_->ctl(1, "status");
  const double answer_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(during.is_object()) << "xlbctl got no answer during the flood";
  std::printf("during the flood: xlbctl status answered in %.3f s; %d descriptors open of %d\n", answer_s,
              during["listeners"]["descriptors"].value("open", 0), during["listeners"]["descriptors"].value("limit", 0));
  EXPECT_LE(during["listeners"]["control"].value("connections", 99), 32);
  EXPECT_NE(scrape().find("xlb_up 1"), std::string::npos) << "no scrape during the flood";
  EXPECT_EQ(state_of_lb1(), "MASTER");
  EXPECT_EQ(health(kRs1), "up");
  EXPECT_EQ(health(kRs2), "up");

  // The flood's connections are all closed by xlbd before it lets go of them.
  ASSERT_TRUE(wait_for([&] { return flood_output().find("closed") != std::string::npos; }, 40s)) << flood_output();
  const std::string out = flood_output();
  std::printf("flood: %s", out.c_str());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(opened (\d+) (\d+)\s+closed (\d+) (\d+))"))) << out;
  EXPECT_EQ(m[1], m[3]) << "control socket connections xlbd left open";
  EXPECT_EQ(m[2], m[4]) << "metrics connections xlbd left open";

  // After it: everything answers; nothing failed over.
  const auto after = lab_->ctl(1, "status");
  ASSERT_TRUE(after.is_object());
  EXPECT_EQ(after["instances"][0].value("state", ""), "MASTER");
  const auto& control = after["listeners"]["control"];
  const auto& metrics = after["listeners"]["metrics"];
  std::printf("control socket: %s\nmetrics: %s\n", control.dump().c_str(), metrics.dump().c_str());
  EXPECT_GT(control["closed"].value("evicted", 0), 0);
  EXPECT_GT(metrics["closed"].value("evicted", 0), 0);
  EXPECT_GT(control["closed"].value("idle_timeout", 0) + control["closed"].value("request_timeout", 0), 0);
  EXPECT_EQ(control["rejected"].value("accept_error", -1), 0);
  const auto page = scrape();
  EXPECT_NE(page.find("xlb_listener_closed_total{listener=\"metrics_endpoint\",reason=\"evicted\"}"), std::string::npos);
  EXPECT_EQ(health(kRs1), "up");
  EXPECT_EQ(health(kRs2), "up");
  const auto lb2 = lab_->ctl(2, "status");
  EXPECT_EQ(lb2["instances"][0].value("state", ""), "BACKUP") << "lb2 took over: " << lb2.dump();
  EXPECT_EQ(run("grep -c 'stopped:' " + lab_->state() + "/xlbd-lb1.log").out, "0\n");
  EXPECT_EQ(run("grep -c 'Too many open files' " + lab_->state() + "/xlbd-lb1.log").out, "0\n");
}

}  // namespace
