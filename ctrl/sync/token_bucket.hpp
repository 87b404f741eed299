// The flow-sync send budget: datagrams per second with a burst of at most `capacity`, so
// that over any window of T seconds no more than rate * T + capacity datagrams leave. Time is
// passed in (CLOCK_MONOTONIC ns), which keeps the arithmetic testable without a clock.
#pragma once

#include <cstdint>

namespace xlb::sync {

class TokenBucket {
 public:
  // Starts full. rate > 0, capacity >= 1.
  TokenBucket(double rate_per_second, double capacity, std::uint64_t now_ns);

  // Credits the time since the last refill, never beyond capacity.
  void refill(std::uint64_t now_ns);
  // Takes n tokens if there are that many.
  bool take(double n);

  double tokens() const { return tokens_; }
  double rate() const { return rate_; }
  double capacity() const { return capacity_; }

 private:
  double rate_;
  double capacity_;
  double tokens_;
  std::uint64_t last_ns_;
};

}  // namespace xlb::sync
