// The verdict of one check over time, as keepalived decides it: a check that is up goes down
// after 1 + retry consecutive failures (retries spaced by delay_before_retry); one success
// brings it back. Pure logic: the caller owns the clock and sleeps for `next_delay`.
#pragma once

#include <cstdint>
#include <optional>

#include "ctrl/check/settings.hpp"

namespace xlb::check {

class CheckState {
 public:
  CheckState(unsigned retry, Millis delay_loop, Millis delay_before_retry, bool start_up)
      : retry_(retry), delay_loop_(delay_loop), delay_before_retry_(delay_before_retry),
        up_(start_up) {}

  struct Step {
    bool changed = false;  // up/down or weight changed
    Millis next_delay{0};  // until the next attempt
  };

  // `weight` is a misc_dynamic weight; nullopt keeps the previous one.
  Step on_result(bool ok, std::optional<std::uint32_t> weight = std::nullopt) {
    const Step step = next(ok, weight);
    if (failures_ == 0) settled_ = true;
    return step;
  }

  bool up() const { return up_; }
  std::optional<std::uint32_t> weight() const { return weight_; }
  unsigned pending_failures() const { return failures_; }
  // The check has given its first verdict: a success, or the failures that take it down
  // (1 + retry of them when it started up, one when it started down). Until then, `up` is only
  // the starting assumption (keepalived without alpha starts a real up). Stays true.
  bool settled() const { return settled_; }

 private:
  Step next(bool ok, std::optional<std::uint32_t> weight) {
    Step step;
    if (ok) {
      failures_ = 0;
      step.changed = !up_ || (weight && weight != weight_);
      up_ = true;
      if (weight) weight_ = weight;
      step.next_delay = delay_loop_;
      return step;
    }
    ++failures_;
    if (up_ && failures_ <= retry_) {
      step.next_delay = delay_before_retry_;
      return step;
    }
    step.changed = up_;
    up_ = false;
    failures_ = 0;
    step.next_delay = delay_loop_;
    return step;
  }

  unsigned retry_;
  Millis delay_loop_;
  Millis delay_before_retry_;
  bool up_;
  unsigned failures_ = 0;
  bool settled_ = false;
  std::optional<std::uint32_t> weight_;
};

}  // namespace xlb::check
