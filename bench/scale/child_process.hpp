// A program started with posix_spawn, its output appended to a log file; stopped with
// SIGTERM (SIGKILL after a grace period) when the object goes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace xlb::bench::scale {

class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The exit status once it has ended (non-blocking), nullopt while it runs.
  std::optional<int> exited();
  // SIGTERM, then SIGKILL after `grace`; returns the wait status.
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// The last `lines` lines of a text file.
std::string tail_of(const std::filesystem::path& file, int lines);

}  // namespace xlb::bench::scale
