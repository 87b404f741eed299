// The recent events the status page lists, newest first: VRRP transitions, checker verdicts,
// reloads, announce withdrawals. Nothing else in xlbd keeps a history (the model is "now"), so
// this is the one piece of state the views own. It is a ring of fixed capacity: a flapping real
// or a reload loop replaces old entries instead of growing xlbd, and an operator looking at an
// incident wants the last minutes, not the day (the journal keeps the day).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

#include <nlohmann/json.hpp>

namespace xlb::api {

class EventLog {
 public:
  static constexpr std::size_t kDefaultCapacity = 200;

  struct Event {
    std::uint64_t seq = 0;  // 1, 2, ... in order of recording; never reused
    std::chrono::system_clock::time_point at;
    std::string kind;     // "vrrp", "health", "quorum", "reload", "announce"
    std::string subject;  // the instance, real, service or file it is about
    std::string text;     // one line for people
    std::string severity; // "info" or "warning": a warning is news an operator acts on
  };

  explicit EventLog(std::size_t capacity = kDefaultCapacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  void record(std::string kind, std::string subject, std::string text, bool warning = false,
              std::chrono::system_clock::time_point at = std::chrono::system_clock::now());
  // Newest first, at most `limit`, only those with seq > `after`.
  nlohmann::json newest_first(std::size_t limit, std::uint64_t after = 0) const;
  std::size_t size() const { return events_.size(); }
  std::size_t capacity() const { return capacity_; }
  std::uint64_t last_seq() const { return next_seq_ - 1; }

 private:
  std::size_t capacity_;
  std::deque<Event> events_;
  std::uint64_t next_seq_ = 1;
};

// ISO 8601 UTC with milliseconds ("2026-12-07T21:03:04.123Z"): what a browser's Date parses.
std::string iso_utc(std::chrono::system_clock::time_point at);

}  // namespace xlb::api
