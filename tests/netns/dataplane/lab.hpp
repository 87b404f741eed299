// Test helpers for root tests: a private bpffs mount, commands, and a per-run suffix.
#pragma once

#include <sys/mount.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
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

inline std::string read_command(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof(buf), p)) out += buf;
    ::pclose(p);
  }
  return out;
}

// A lab of tools/lab/SCRIPT (up SUFFIX ARGS... / down SUFFIX), whose names `up` prints as
// KEY=VALUE words; torn down by the script also when a test fails.
class ScriptLab {
 public:
  ScriptLab(const std::string& script, const std::string& args) : suffix_("t" + run_suffix().substr(0, 7)) {
    const std::string src = std::getenv("XLB_SOURCE_DIR") ? std::getenv("XLB_SOURCE_DIR") : ".";
    script_ = src + "/tools/lab/" + script;
    const std::string out = read_command(script_ + " up " + suffix_ + " " + args);
    std::istringstream words(out);
    std::string word;
    while (words >> word) {
      if (auto eq = word.find('='); eq != std::string::npos) env_[word.substr(0, eq)] = word.substr(eq + 1);
    }
    if (!env_.count("LAB_LB")) {
      sh(script_ + " down " + suffix_);  // the destructor does not run for a throwing constructor
      throw std::runtime_error("lab setup failed: " + out);
    }
  }
  ~ScriptLab() { sh(script_ + " down " + suffix_); }
  ScriptLab(const ScriptLab&) = delete;
  ScriptLab& operator=(const ScriptLab&) = delete;
  const std::string& operator[](const std::string& k) const { return env_.at(k); }
  // `SCRIPT COMMAND SUFFIX ARGS`: the script's other commands; returns the exit status.
  int call(const std::string& command, const std::string& args = "") const {
    return sh(script_ + " " + command + " " + suffix_ + (args.empty() ? "" : " " + args));
  }

 private:
  std::string suffix_;
  std::string script_;
  std::map<std::string, std::string> env_;
};

inline std::string binary_dir() { return std::getenv("XLB_BINARY_DIR") ? std::getenv("XLB_BINARY_DIR") : "."; }

}  // namespace xlb::dataplane::test
