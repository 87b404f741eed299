#include "alert_scheduler.hpp"

#include <ctime>

namespace xlb::notify {

namespace {

int local_minute_of_day(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  return tm.tm_hour * 60 + tm.tm_min;
}

}  // namespace

AlertScheduler::AlertScheduler(std::chrono::seconds digest_window, std::optional<QuietHours> quiet,
                               MinuteOfDay minute_of_day)
    : window_(digest_window), quiet_(quiet), minute_of_day_(minute_of_day ? std::move(minute_of_day) : local_minute_of_day) {}

bool AlertScheduler::quiet_at(TimePoint t) const { return quiet_ && quiet_->contains(minute_of_day_(t)); }

std::size_t AlertScheduler::unreported_open_faults() const {
  std::size_t n = 0;
  for (const auto& [key, seq] : open_)
    if (seq >= first_held_seq_) ++n;
  return n;
}

void AlertScheduler::add(TimedEvent event) {
  const TimePoint now = event.at;
  const std::uint64_t seq = ++seq_;
  FaultEffect fx = fault_effect(event.event);
  if (fx.opens) open_[fx.key] = seq;
  if (fx.closes) open_.erase(fx.key);
  if (held_.empty()) {
    first_held_seq_ = seq;
    send_at_ = now + window_;
    held_for_quiet_ = false;
  }
  held_.push_back(std::move(event));
  if (fx.opens && quiet_at(now)) {
    TimePoint check = now + window_;
    if (!fault_check_at_ || check < *fault_check_at_) fault_check_at_ = check;
  }
}

std::optional<AlertScheduler::Batch> AlertScheduler::due(TimePoint now) {
  if (held_.empty()) return std::nullopt;
  bool reached = now >= send_at_ || (fault_check_at_ && now >= *fault_check_at_);
  if (!reached) return std::nullopt;
  fault_check_at_.reset();
  if (quiet_at(now) && unreported_open_faults() == 0) {
    // Nothing is broken any more (or never was): wait for the end of the quiet window.
    held_for_quiet_ = true;
    auto into_minute = now.time_since_epoch() % std::chrono::minutes(1);
    TimePoint end = now - into_minute + std::chrono::minutes(quiet_->minutes_until_end(minute_of_day_(now)));
    if (end > send_at_) send_at_ = end;
    return std::nullopt;
  }
  Batch b;
  b.events = std::move(held_);
  held_.clear();
  b.open_faults = open_.size();
  b.held_for_quiet_hours = held_for_quiet_;
  held_for_quiet_ = false;
  return b;
}

std::optional<AlertScheduler::TimePoint> AlertScheduler::next_deadline() const {
  if (held_.empty()) return std::nullopt;
  if (fault_check_at_ && *fault_check_at_ < send_at_) return fault_check_at_;
  return send_at_;
}

}  // namespace xlb::notify
