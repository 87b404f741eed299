#include <gtest/gtest.h>

#include "ctrl/check/checker.hpp"
#include "ctrl/check/resolve.hpp"

namespace xlb::check {
namespace {

// Every attempt lands in the latency histogram, whatever its verdict.
TEST(CheckerLatency, EveryAttemptIsCountedInItsBucket) {
  boost::asio::io_context io;
  CheckSettings settings;
  settings.kind = CheckKind::tcp;
  settings.delay_loop = Millis(1);
  settings.retry = 0;
  settings.delay_before_retry = Millis(1);
  const std::vector<Millis> latencies{Millis(3), Millis(40), Millis(2000)};
  std::size_t next = 0;
  std::shared_ptr<Checker> checker;
  auto probe = [&](const CheckSettings&) -> boost::asio::awaitable<ProbeResult> {
    ProbeResult result;
    result.up = next != 1;
    result.latency = latencies[next % latencies.size()];
    ++next;
    co_return result;
  };
  checker = std::make_shared<Checker>(io.get_executor(), settings, true, probe, [] {});
  checker->start(Millis(0));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (checker->status().runs < latencies.size() && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(100));
  }
  checker->stop();
  const auto& status = checker->status();
  ASSERT_EQ(status.runs, 3u);
  // Bounds: 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 1 5 (cumulative counts).
  const std::array<std::uint64_t, kLatencyBounds.size()> expected{0, 0, 1, 1, 1, 2, 2, 2, 2, 3};
  EXPECT_EQ(status.latency_buckets, expected);
  EXPECT_NEAR(status.latency_sum, 2.043, 1e-9);
}

}  // namespace
}  // namespace xlb::check
