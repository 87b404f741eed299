// Wall-clock times as xlbctl status shows them: local time with its offset, to the second.
#pragma once

#include <chrono>
#include <ctime>
#include <string>

namespace xlb::daemon {

inline std::string local_time_text(std::chrono::system_clock::time_point t) {
  const auto seconds = std::chrono::system_clock::to_time_t(t);
  std::tm local{};
  ::localtime_r(&seconds, &local);
  char text[64];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S%z", &local);
  return text;
}

}  // namespace xlb::daemon
