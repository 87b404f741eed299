// Test helpers for root tests: a private bpffs mount, commands, and a per-run suffix.
#pragma once

#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

namespace xlb::dataplane::test {

inline std::string run_suffix() {
  std::random_device rd;
  return std::to_string(::getpid() % 100000) + std::to_string(rd() % 1000);
}

inline int sh(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

inline void must(const std::string& cmd) {
  if (sh(cmd) != 0) throw std::runtime_error("command failed: " + cmd);
}

// A bpffs outside /sys (visible from every `ip netns exec`), unmounted and removed at the end.
class BpffsMount {
 public:
  explicit BpffsMount(const std::string& suffix) : path_("/run/xlb-test-bpf-" + suffix) {
    std::filesystem::create_directories(path_);
    if (::mount("bpf", path_.c_str(), "bpf", 0, nullptr) != 0) {
      std::filesystem::remove(path_);
      throw std::runtime_error("mount -t bpf " + path_.string() + " failed");
    }
  }
  ~BpffsMount() {
    ::umount2(path_.c_str(), MNT_DETACH);
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  BpffsMount(const BpffsMount&) = delete;
  BpffsMount& operator=(const BpffsMount&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline bool is_root() { return ::geteuid() == 0; }

}  // namespace xlb::dataplane::test
