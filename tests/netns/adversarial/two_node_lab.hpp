// The two-node lab of tools/lab/xlb-lab.sh for one adversarial test: named with a per-run
// suffix, driven through the script's sub-commands, with helpers run in the background; the
// destructor kills those helpers (by pid) and removes the lab, also when the test failed.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/shell.hpp"

namespace xlb::test {

class TwoNodeLab {
 public:
  // `tag`: one letter that tells the suites' labs apart in `ip netns list`.
  explicit TwoNodeLab(char tag) : script_(source_dir() + "/tools/lab/xlb-lab.sh") {
    std::ostringstream s;
    s << tag << std::hex << (::getpid() & 0xfffffff);
    suffix_ = s.str().substr(0, 8);
    state_ = "/run/xlb-lab-" + suffix_;
  }
  ~TwoNodeLab() {
    for (int pid : helpers_) stop(pid);
    run(script_ + " down " + suffix_);
  }
  TwoNodeLab(const TwoNodeLab&) = delete;
  TwoNodeLab& operator=(const TwoNodeLab&) = delete;

  Run lab(const std::string& sub, const std::string& args = "") const {
    return run(script_ + " " + sub + " " + suffix_ + (args.empty() ? "" : " " + args));
  }
  // xlbctl --json against lb N, given 5 s at most; null when it got no answer.
  nlohmann::json ctl(int node, const std::string& what) const {
    const auto r = run("timeout 5 " + binary_dir() + "/tools/xlbctl/xlbctl -s " + state_ + "/lb" + std::to_string(node) +
                       ".sock --json " + what + " 2>/dev/null");
    if (r.status != 0) return nlohmann::json();
    return nlohmann::json::parse(r.out, nullptr, false);
  }
  // Starts `command` in the background, its output into `out_file`; returns its pid.
  int spawn(const std::string& command, const std::string& out_file) {
    const int pid = std::stoi(run(command + " >" + out_file + " 2>&1 & echo $!").out);
    helpers_.push_back(pid);
    return pid;
  }
  void stop(int pid) {
    ::kill(pid, SIGKILL);
    run("while kill -0 " + std::to_string(pid) + " 2>/dev/null; do sleep 0.05; done");
  }
  std::string netns(const std::string& node) const { return "xlb-" + node + "-" + suffix_; }
  std::string log_tail(int node, int lines = 30) const {
    return run("tail -n " + std::to_string(lines) + " " + state_ + "/xlbd-lb" + std::to_string(node) + ".log").out;
  }
  const std::string& state() const { return state_; }

 private:
  std::string script_;
  std::string suffix_;
  std::string state_;
  std::vector<int> helpers_;
};

}  // namespace xlb::test
