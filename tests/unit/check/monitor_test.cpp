// HealthMonitor end to end on loopback: python3 http.server reals die and come back; the
// monitor must change the dataplane spec, flush, run scripts, dedupe shared probes and keep
// state over a reconfigure.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "ctrl/check/health_monitor.hpp"
#include "tests/unit/check/test_support.hpp"

namespace xlb::check {
namespace {

namespace asio = boost::asio;
using test::ChildProcess;

const IpAddress loopback = asio::ip::make_address("127.0.0.1");

std::unique_ptr<ChildProcess> http_server(std::uint16_t port, const std::string& dir) {
  auto p = std::make_unique<ChildProcess>(std::vector<std::string>{
      "/usr/bin/python3", "-m", "http.server", std::to_string(port), "--bind", "127.0.0.1",
      "--directory", dir});
  if (!test::wait_for_tcp(loopback, port)) throw std::runtime_error("http.server did not start");
  return p;
}

bool has_real(const dataplane::ServiceSpec& spec, std::uint16_t port) {
  for (const auto& r : spec.reals)
    if (r.port == port && r.weight > 0) return true;
  return false;
}

class Monitor : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("xlb-monitor-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    p1_ = test::free_port(loopback);
    p2_ = test::free_port(loopback);
    s1_ = http_server(p1_, dir_.string());
    s2_ = http_server(p2_, dir_.string());
    hooks_.apply = [this](const dataplane::ServiceSpec& s) {
      latest_[s.key.port] = s;
      ++applies_;
    };
    hooks_.flush_flows_to = [this](const dataplane::ServiceKey& k, const IpAddress& ip) {
      flushes_.push_back(std::to_string(k.port) + "->" + ip.to_string());
    };
    hooks_.run_script = test::fork_exec_runner;
    hooks_.script_timeout = Millis{5000};
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  CheckSettings http_check() const {
    CheckSettings c;
    c.kind = CheckKind::http_get;
    c.urls.push_back(UrlSettings{"/", {}, {{200, 299}}});
    c.connect_timeout = Millis{1000};
    c.retry = 1;
    c.delay_before_retry = Millis{200};
    return c;
  }
  RealSettings real(std::uint16_t port) const {
    RealSettings r;
    r.address = loopback;
    r.port = port;
    r.checks.push_back(http_check());
    r.notify_down = "/bin/sh -c 'echo down " + std::to_string(port) + " >> " +
                    (dir_ / "notify.log").string() + "'";
    return r;
  }
  std::vector<VirtualServerSettings> config() const {
    VirtualServerSettings a;
    a.name = "a";
    a.spec.key = {asio::ip::make_address("198.18.0.100"), 8001};
    a.spec.sorry_server = dataplane::RealServer{asio::ip::make_address("198.18.0.200"), 80, 1};
    a.delay_loop = Millis{300};
    a.reals = {real(p1_), real(p2_)};
    a.omega = true;
    a.quorum_down = "/bin/sh -c 'echo quorum_down >> " + (dir_ / "notify.log").string() + "'";
    VirtualServerSettings b = a;  // shares the probe of p1 with `a`
    b.name = "b";
    b.spec.key.port = 8002;
    b.spec.sorry_server.reset();
    b.reals = {real(p1_)};
    b.omega = false;
    return {a, b};
  }
  std::string notify_log() const {
    std::ifstream in(dir_ / "notify.log");
    return {std::istreambuf_iterator<char>(in), {}};
  }

  asio::io_context io_;
  std::filesystem::path dir_;
  std::uint16_t p1_ = 0, p2_ = 0;
  std::unique_ptr<ChildProcess> s1_, s2_;
  MonitorHooks hooks_;
  std::map<std::uint16_t, dataplane::ServiceSpec> latest_;
  int applies_ = 0;
  std::vector<std::string> flushes_;
};

TEST_F(Monitor, DeadRealLeavesAndReturnsSharedProbeRunsOnce) {
  HealthMonitor monitor(io_.get_executor(), hooks_);
  monitor.start(config());
  EXPECT_EQ(monitor.probe_count(), 2u);  // p1 is checked once for both services
  ASSERT_EQ(applies_, 2);
  EXPECT_TRUE(has_real(latest_[8001], p1_) && has_real(latest_[8001], p2_));
  ASSERT_TRUE(test::run_until(io_, [&] { return monitor.checks_run() >= 4; }, std::chrono::seconds(20)));

  s1_->kill();
  auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(test::run_until(
      io_, [&] { return !has_real(latest_[8001], p1_) && !has_real(latest_[8002], p1_); },
      std::chrono::seconds(20)));
  auto detection = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - killed);
  std::cout << "detection " << detection.count() << " ms (configured delay_loop 300 + 1 x 200)\n";
  EXPECT_TRUE(has_real(latest_[8001], p2_));
  EXPECT_FALSE(latest_[8001].sorry_server);
  EXPECT_TRUE(latest_[8002].reals.empty());  // b lost its only real; no sorry server there
  EXPECT_NE(std::find(flushes_.begin(), flushes_.end(), "8001->127.0.0.1"), flushes_.end());
  // Both services name this real with a notify_down: one line each, from one probe.
  auto count = [&](const std::string& line) {
    std::string log = notify_log();
    std::size_t n = 0;
    for (auto at = log.find(line); at != std::string::npos; at = log.find(line, at + 1)) ++n;
    return n;
  };
  const std::string line = "down " + std::to_string(p1_);
  ASSERT_TRUE(test::run_until(io_, [&] { return count(line) >= 2; }, std::chrono::seconds(10)));
  EXPECT_EQ(count(line), 2u) << notify_log();

  // A reload with the same configuration keeps verdicts: nothing to apply.
  int before = applies_;
  monitor.reconfigure(config());
  EXPECT_EQ(applies_, before);
  EXPECT_EQ(monitor.probe_count(), 2u);
  auto snap = monitor.snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_FALSE(snap[0].reals[0].up);
  EXPECT_TRUE(snap[0].reals[1].up);
  EXPECT_GT(snap[0].reals[1].checks.at(0).status.runs, 0u);

  s1_ = http_server(p1_, dir_.string());
  ASSERT_TRUE(test::run_until(io_, [&] { return has_real(latest_[8001], p1_) && has_real(latest_[8002], p1_); },
                              std::chrono::seconds(20)));

  // Both reals of `a` die: quorum lost, the sorry server takes new flows.
  s1_->kill();
  s2_->kill();
  ASSERT_TRUE(test::run_until(io_, [&] { return latest_[8001].sorry_server.has_value(); },
                              std::chrono::seconds(20)));
  EXPECT_TRUE(latest_[8001].reals.empty());
  ASSERT_TRUE(test::run_until(io_, [&] { return notify_log().find("quorum_down") != std::string::npos; },
                              std::chrono::seconds(10)));
}

TEST_F(Monitor, AlphaStartsDownAndReconfigureDropsRemovedService) {
  auto cfg = config();
  cfg[0].alpha = true;
  std::vector<dataplane::ServiceKey> removed;
  hooks_.remove = [&](const dataplane::ServiceKey& k) { removed.push_back(k); };
  HealthMonitor monitor(io_.get_executor(), hooks_);
  monitor.start(cfg);
  EXPECT_EQ(monitor.probe_count(), 3u);  // alpha changes the start state, so no sharing
  EXPECT_TRUE(latest_[8001].sorry_server.has_value());
  EXPECT_FALSE(has_real(latest_[8001], p1_));
  ASSERT_TRUE(test::run_until(io_, [&] { return has_real(latest_[8001], p1_) && has_real(latest_[8001], p2_); },
                              std::chrono::seconds(20)));
  EXPECT_FALSE(latest_[8001].sorry_server);

  cfg.pop_back();
  monitor.reconfigure(cfg);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].port, 8002);
  EXPECT_EQ(monitor.probe_count(), 2u);
  // A real the file drops keeps its flows: the daemon drains it; only failed checks flush.
  const auto flushes_before = flushes_.size();
  cfg[0].reals.pop_back();
  monitor.reconfigure(cfg);
  EXPECT_FALSE(has_real(latest_[8001], p2_));
  EXPECT_EQ(flushes_.size(), flushes_before) << "a reconfigure ended the flows of a removed real";
  // omega on shutdown: quorum_down of `a` runs.
  test::run(io_, [&]() -> asio::awaitable<int> {
    co_await monitor.shutdown();
    co_return 0;
  }());
  EXPECT_NE(notify_log().find("quorum_down"), std::string::npos);
}

// vip_route_table waits for every real's first verdict (issue 29): the snapshot says which are
// still open, and verdicts_changed fires when one comes in although no spec changes (a live
// real that starts up stays up).
TEST_F(Monitor, FirstVerdictsAreReportedUntilEveryRealHasOne) {
  int verdict_calls = 0;
  hooks_.verdicts_changed = [&] { ++verdict_calls; };
  auto services = config();
  const auto dead = test::free_port(loopback);  // nobody listens: refused at once
  services[0].reals.push_back(real(dead));
  HealthMonitor monitor(io_.get_executor(), hooks_);
  monitor.start(services);
  auto snap = monitor.snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_TRUE(snap[0].checks_pending);
  EXPECT_TRUE(snap[1].checks_pending);
  EXPECT_TRUE(snap[0].reals[2].up) << "without alpha a real starts up";
  EXPECT_TRUE(snap[0].reals[2].verdict_pending);
  // b's only real answers: its first check settles it; a still waits for the dead one.
  ASSERT_TRUE(test::run_until(io_, [&] { return !monitor.snapshot()[1].checks_pending; }, std::chrono::seconds(10)));
  EXPECT_GE(verdict_calls, 1) << "a first verdict that changes nothing must still be told";
  // The dead real: 1 + retry (1) refusals 200 ms apart, then down, and a's verdicts are all in.
  ASSERT_TRUE(test::run_until(io_, [&] { return !monitor.snapshot()[0].checks_pending; }, std::chrono::seconds(10)));
  snap = monitor.snapshot();
  EXPECT_FALSE(snap[0].reals[2].up);
  EXPECT_FALSE(snap[0].reals[2].verdict_pending);
  EXPECT_TRUE(snap[0].reals[0].up && snap[0].reals[1].up);
  EXPECT_FALSE(has_real(latest_[8001], dead));
}

}  // namespace
}  // namespace xlb::check
