#include "lab.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace xlb::vrrp::lab {

int run(const std::string& cmd) {
  int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

void check(const std::string& cmd) {
  if (int rc = run(cmd); rc != 0)
    throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + cmd);
}

std::string capture(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) out.append(buf.data(), n);
  ::pclose(f);
  return out;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

bool is_root() { return ::geteuid() == 0; }
bool have(const std::string& program) { return run("command -v " + program + " >/dev/null 2>&1") == 0; }

Process::Process(const std::string& ns, const std::vector<std::string>& argv, std::string log)
    : log_(std::move(log)) {
  std::vector<std::string> full = {"ip", "netns", "exec", ns};
  full.insert(full.end(), argv.begin(), argv.end());
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> a;
    for (auto& s : full) a.push_back(s.data());
    a.push_back(nullptr);
    ::execvp("ip", a.data());
    ::_exit(127);
  }
}

Process::~Process() {
  for (const auto& pf : pidfiles_) {
    std::ifstream f(pf);
    pid_t p = 0;
    if (f >> p && p > 0) ::kill(p, SIGKILL);
  }
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
  }
}

void Process::signal(int sig) {
  if (!reaped_) ::kill(pid_, sig);
}

bool Process::running() {
  if (reaped_) return false;
  int st;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

bool Process::wait_exit(std::chrono::milliseconds timeout) {
  return wait_until([&] { return !running(); }, timeout);
}

std::string Process::log() const {
  std::ifstream f(log_);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool Process::wait_log(const std::string& needle, std::chrono::milliseconds timeout) const {
  return wait_until([&] { return log().find(needle) != std::string::npos; }, timeout);
}

Lab::Lab() {
  static int seq = 0;
  suffix_ = std::to_string(::getpid() % 100000) + "x" + std::to_string(seq++);
  std::string tmpl = "/tmp/xlb-vrrp-" + suffix_ + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = buf.data();
}

Lab::~Lab() {
  for (const auto& ns : namespaces_) run("ip netns del " + ns + " 2>/dev/null");
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string Lab::add_ns(const std::string& tag, bool ipv6_nodad) {
  std::string ns = "xv" + tag + suffix_;
  check("ip netns add " + ns);
  namespaces_.push_back(ns);
  check("ip -n " + ns + " link set lo up");
  if (ipv6_nodad)
    check("ip netns exec " + ns +
          " sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
  return ns;
}

void Lab::link(const std::string& a, const std::string& ifa, const std::string& addr_a,
               const std::string& b, const std::string& ifb, const std::string& addr_b) {
  std::string ta = "xva" + suffix_ + "_" + std::to_string(veth_seq_);
  std::string tb = "xvb" + suffix_ + "_" + std::to_string(veth_seq_++);
  check("ip link add " + ta + " netns " + a + " type veth peer name " + tb + " netns " + b);
  check("ip -n " + a + " link set " + ta + " name " + ifa);
  check("ip -n " + b + " link set " + tb + " name " + ifb);
  if (!addr_a.empty()) check("ip -n " + a + " addr add " + addr_a + " dev " + ifa);
  if (!addr_b.empty()) check("ip -n " + b + " addr add " + addr_b + " dev " + ifb);
  check("ip -n " + a + " link set " + ifa + " up");
  check("ip -n " + b + " link set " + ifb + " up");
  links_.emplace_back(a, ifa);
  links_.emplace_back(b, ifb);
}

void Lab::wait_links_up() {
  for (const auto& [ns, ifc] : links_) {
    bool up = wait_until(
        [&] {
          return capture("ip netns exec " + ns + " cat /sys/class/net/" + ifc + "/operstate")
                     .find("up") == 0;
        },
        5s);
    if (!up) throw std::runtime_error(ns + ":" + ifc + " did not come up");
  }
}

bool has_vip(const std::string& ns, const std::string& vip) {
  std::string out = capture("ip -n " + ns + " -o addr show 2>/dev/null");
  return out.find(" " + vip + "/") != std::string::npos;
}

std::string vrrp_node_path() { return VRRP_NODE_PATH; }

std::unique_ptr<Process> start_keepalived(Lab& lab, const std::string& ns, const std::string& name,
                                          const std::string& instance_body) {
  std::string conf = lab.file(name + ".conf");
  {
    std::ofstream f(conf);
    f << "global_defs {\n  router_id " << name << lab.suffix() << "\n}\n"
      << "vrrp_instance VI_1 {\n" << instance_body << "\n}\n";
  }
  for (const char* p : {".pid", ".vrrp.pid", ".check.pid"}) std::filesystem::remove(lab.file(name + p));
  auto proc = std::make_unique<Process>(
      ns,
      std::vector<std::string>{"keepalived", "-f", conf, "-p", lab.file(name + ".pid"), "-r",
                               lab.file(name + ".vrrp.pid"), "-c", lab.file(name + ".check.pid"),
                               "-n", "-l", "-D", "--vrrp"},
      lab.file(name + ".log"));
  proc->also_kill_pidfile(lab.file(name + ".vrrp.pid"));
  return proc;
}

}  // namespace xlb::vrrp::lab
