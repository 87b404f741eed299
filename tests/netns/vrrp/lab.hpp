// Namespace lab for the VRRP tests: namespaces, links, processes and files that are all
// removed again, also when a test fails (RAII). Names carry a per-run suffix.
#pragma once
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace xlb::vrrp::lab {

using namespace std::chrono_literals;

int run(const std::string& cmd);             // shell command, exit status
void check(const std::string& cmd);          // throws on non-zero exit
std::string capture(const std::string& cmd);  // stdout
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);
bool is_root();
bool have(const std::string& program);

// A child process (ip netns exec NS argv...) with stdout+stderr in a log file.
class Process {
 public:
  Process(const std::string& ns, const std::vector<std::string>& argv, std::string log);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  void signal(int sig);
  bool wait_exit(std::chrono::milliseconds timeout);
  bool running();
  std::string log() const;
  bool wait_log(const std::string& needle, std::chrono::milliseconds timeout) const;
  pid_t pid() const { return pid_; }
  // Extra pids to kill on destruction (keepalived's VRRP child, read from its pid file).
  void also_kill_pidfile(std::string path) { pidfiles_.push_back(std::move(path)); }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string log_;
  std::vector<std::string> pidfiles_;
};

// Namespaces "<tag><suffix>" joined by veth pairs; a private temp directory.
class Lab {
 public:
  Lab();
  ~Lab();
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  std::string add_ns(const std::string& tag, bool ipv6_nodad = false);
  // veth a:ifa <-> b:ifb, with optional addresses "198.18.0.1/24".
  void link(const std::string& a, const std::string& ifa, const std::string& addr_a,
            const std::string& b, const std::string& ifb, const std::string& addr_b);
  void wait_links_up();
  const std::string& dir() const { return dir_; }
  std::string file(const std::string& name) const { return dir_ + "/" + name; }
  const std::string& suffix() const { return suffix_; }

 private:
  std::string suffix_;
  std::string dir_;
  std::vector<std::string> namespaces_;
  std::vector<std::pair<std::string, std::string>> links_;
  int veth_seq_ = 0;
};

bool has_vip(const std::string& ns, const std::string& vip);

// The node binary built next to the tests.
std::string vrrp_node_path();

// keepalived 2.2.7 with --vrrp in a namespace; conf is the vrrp_instance body.
std::unique_ptr<Process> start_keepalived(Lab& lab, const std::string& ns, const std::string& name,
                                          const std::string& instance_body);

}  // namespace xlb::vrrp::lab
