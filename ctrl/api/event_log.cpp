#include "ctrl/api/event_log.hpp"

#include <cstdio>
#include <ctime>

namespace xlb::api {

std::string iso_utc(std::chrono::system_clock::time_point at) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buffer[40];
  const auto n = std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buffer + n, sizeof(buffer) - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buffer;
}

void EventLog::record(std::string kind, std::string subject, std::string text, bool warning,
                      std::chrono::system_clock::time_point at) {
  if (events_.size() == capacity_) events_.pop_front();
  events_.push_back(Event{next_seq_++, at, std::move(kind), std::move(subject), std::move(text),
                          warning ? "warning" : "info"});
}

nlohmann::json EventLog::newest_first(std::size_t limit, std::uint64_t after) const {
  nlohmann::json out = nlohmann::json::array();
  for (auto it = events_.rbegin(); it != events_.rend() && out.size() < limit; ++it) {
    if (it->seq <= after) break;
    out.push_back({{"seq", it->seq},
                   {"at", iso_utc(it->at)},
                   {"kind", it->kind},
                   {"subject", it->subject},
                   {"severity", it->severity},
                   {"text", it->text}});
  }
  return out;
}

}  // namespace xlb::api
