// What the namespace tests share to drive the lab scripts and tools: run a shell command and
// collect its output, and find the source and build trees.
#pragma once

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

namespace xlb::test {

struct Run {
  int status = -1;  // exit status; -1 when the command could not run or was killed
  std::string out;  // stdout and stderr together
};

inline Run run(const std::string& command) {
  Run r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  while (std::fgets(buf, sizeof(buf), p) != nullptr) r.out += buf;
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

// Polls `done` until it holds or `limit` passes; the seconds it took, or nullopt.
template <typename F>
std::optional<double> wait_for(F done, std::chrono::milliseconds limit) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  for (;;) {
    if (done()) return std::chrono::duration<double>(Clock::now() - start).count();
    if (Clock::now() - start >= limit) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// ctest sets XLB_SOURCE_DIR / XLB_BINARY_DIR; the compile-time paths serve a binary run by hand.
#ifdef XLB_TEST_SOURCE_DIR
inline std::string source_dir() { return env_or("XLB_SOURCE_DIR", XLB_TEST_SOURCE_DIR); }
#endif
#ifdef XLB_TEST_BINARY_DIR
inline std::string binary_dir() { return env_or("XLB_BINARY_DIR", XLB_TEST_BINARY_DIR); }
#endif

}  // namespace xlb::test
