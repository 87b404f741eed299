// When to send which events by mail: the digest window (events within N seconds of the first
// go into one mail) and quiet hours (mails due in the window are held and sent as one digest
// when it ends, unless a fault that the held events opened is still open a digest window after
// it opened: then they go at once). Pure logic on an injected time; Notifier drives it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "notify/events.hpp"
#include "notify/mail_settings.hpp"

namespace xlb::notify {

class AlertScheduler {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  // Local minute of the day for a time point; the default uses the process's time zone.
  using MinuteOfDay = std::function<int(TimePoint)>;

  struct Batch {
    std::vector<TimedEvent> events;
    std::size_t open_faults = 0;  // faults open when the batch is sent (any age)
    bool held_for_quiet_hours = false;
  };

  AlertScheduler(std::chrono::seconds digest_window, std::optional<QuietHours> quiet, MinuteOfDay minute_of_day = {});

  void add(TimedEvent event);
  // The batch to mail now, if any. Call after add() and whenever next_deadline() passes.
  std::optional<Batch> due(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  std::size_t held() const { return held_.size(); }
  std::size_t open_faults() const { return open_.size(); }

 private:
  bool quiet_at(TimePoint t) const;
  std::size_t unreported_open_faults() const;

  std::chrono::seconds window_;
  std::optional<QuietHours> quiet_;
  MinuteOfDay minute_of_day_;
  std::vector<TimedEvent> held_;
  TimePoint send_at_{};
  std::optional<TimePoint> fault_check_at_;
  bool held_for_quiet_ = false;
  std::uint64_t seq_ = 0;
  std::uint64_t first_held_seq_ = 0;
  std::map<std::string, std::uint64_t> open_;  // fault key -> sequence number of the event that opened it
};

}  // namespace xlb::notify
