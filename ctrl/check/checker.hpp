// One running probe: a coroutine that attempts the check, feeds CheckState and sleeps for
// what it says (delay_loop, or delay_before_retry while failures are being confirmed).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ctrl/check/check_state.hpp"
#include "ctrl/check/probes.hpp"

namespace xlb::check {

// Upper bounds (seconds) of the check-latency histogram buckets; +Inf is implicit.
inline constexpr std::array<double, 10> kLatencyBounds{0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,  0.1,    0.25,  1.0,  5.0};

struct CheckStatus {
  bool up = false;
  std::optional<std::uint32_t> weight;
  Millis last_latency{0};
  std::array<std::uint64_t, kLatencyBounds.size()> latency_buckets{};  // cumulative, per attempt
  double latency_sum = 0;  // seconds, over all attempts (count: runs)
  std::string last_error;  // of the last failed attempt
  std::uint64_t runs = 0;
  std::uint64_t failures = 0;
};

class Checker : public std::enable_shared_from_this<Checker> {
 public:
  using ProbeFn = std::function<boost::asio::awaitable<ProbeResult>(const CheckSettings&)>;

  // `resolved` comes from resolve_check(). `on_change` runs on the executor after the
  // verdict or the dynamic weight changed, and once at the first verdict (settled()), never
  // after stop().
  Checker(boost::asio::any_io_executor ex, CheckSettings resolved, bool start_up, ProbeFn probe,
          std::function<void()> on_change);

  void start(Millis initial_delay);
  // Ends the loop at its next wake-up; an attempt in flight finishes within connect_timeout.
  void stop();

  const CheckSettings& settings() const { return settings_; }
  bool up() const { return state_.up(); }
  std::optional<std::uint32_t> weight() const { return state_.weight(); }
  // The first verdict is in (CheckState::settled); until then up() is the starting assumption.
  bool settled() const { return state_.settled(); }
  const CheckStatus& status() const { return status_; }

 private:
  boost::asio::awaitable<void> run(Millis initial_delay);

  boost::asio::any_io_executor ex_;
  CheckSettings settings_;
  CheckState state_;
  ProbeFn probe_;
  std::function<void()> on_change_;
  boost::asio::steady_timer timer_;
  CheckStatus status_;
  bool stopped_ = false;
};

}  // namespace xlb::check
