#include "dr_lab.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace xlb::vmtest {

CommandResult run(const std::string& command) {
  CommandResult r;
  std::string full = command + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string must(const std::string& command) {
  CommandResult r = run(command);
  if (r.status != 0) throw std::runtime_error("`" + command + "` failed: " + r.output);
  return r.output;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    execvp(args[0], args.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int st;
  waitpid(pid_, &st, 0);
}

DrLab::DrLab() {
  const std::string s = std::to_string(getpid() % 100000);
  sw_ = "xsw" + s;
  client_ = "xcl" + s;
  rs1_ = "xr1" + s;
  rs2_ = "xr2" + s;
  director_if_ = "xd" + s;
  dir_ = "/tmp/xlb-vm-" + s;
  try {
    build();
  } catch (...) {
    teardown();
    throw;
  }
}

DrLab::~DrLab() { teardown(); }

void DrLab::build() {
  for (const auto& ns : {sw_, client_, rs1_, rs2_}) {
    must("ip netns add " + ns);
    must("ip -n " + ns + " link set lo up");
  }
  must("ip -n " + sw_ + " link add br0 type bridge");
  must("ip -n " + sw_ + " link set br0 up");
  auto plug = [&](const std::string& ns, const std::string& port) {
    must("ip -n " + sw_ + " link add " + port + " type veth peer name eth0 netns " + ns);
    must("ip -n " + sw_ + " link set " + port + " master br0 up");
    must("ip -n " + ns + " link set eth0 up");
  };
  plug(client_, "pcl");
  plug(rs1_, "pr1");
  plug(rs2_, "pr2");
  // The director is the namespace the test runs in: IPVS is programmed here.
  must("ip link add " + director_if_ + " type veth peer name pd netns " + sw_);
  must("ip -n " + sw_ + " link set pd master br0 up");
  must("ip addr add 198.18.0.2/24 dev " + director_if_);
  must("ip addr add " + std::string(kVip) + "/32 dev " + director_if_);
  must("ip link set " + director_if_ + " up");
  // Real servers: VIP on lo, and they neither answer nor announce ARP for it.
  for (auto [ns, addr] : {std::pair{rs1_, kReal1}, std::pair{rs2_, kReal2}}) {
    must("ip -n " + ns + " addr add " + std::string(addr) + "/24 dev eth0");
    must("ip -n " + ns + " addr add " + std::string(kVip) + "/32 dev lo");
    for (const char* dev : {"all", "eth0"}) {
      must("ip netns exec " + ns + " sysctl -qw net.ipv4.conf." + dev + ".arp_ignore=1");
      must("ip netns exec " + ns + " sysctl -qw net.ipv4.conf." + dev + ".arp_announce=2");
    }
  }
  std::filesystem::create_directories(dir_);
  start_server(rs1_, "rs1");
  start_server(rs2_, "rs2");
}

void DrLab::start_server(const std::string& ns, const std::string& name) {
  const std::string root = dir_ + "/" + name;
  std::filesystem::create_directories(root);
  std::ofstream(root + "/index.html") << name << "\n";
  servers_.emplace_back(name, std::nullopt);
  servers_.back().second.emplace(std::vector<std::string>{"ip", "netns", "exec", ns, "busybox",
                                                          "httpd", "-f", "-p", "80", "-h", root});
  // Readiness, not timing: poll until the server answers on its own loopback.
  for (int i = 0; i < 100; ++i) {
    if (run("ip netns exec " + ns + " busybox wget -q -O - http://127.0.0.1/").output ==
        name + "\n")
      return;
    usleep(100 * 1000);
  }
  throw std::runtime_error("HTTP server " + name + " did not come up");
}

std::string DrLab::client_address(int host) {
  const std::string a = "198.18.0." + std::to_string(host);
  must("ip -n " + client_ + " addr add " + a + "/24 dev eth0");
  return a;
}

std::string DrLab::fetch_from(const std::string& source) {
  CommandResult r = run("ip netns exec " + client_ + " curl -s --max-time 10 --interface " +
                        source + " http://" + kVip + "/");
  if (r.status != 0) return "";
  while (!r.output.empty() && (r.output.back() == '\n' || r.output.back() == '\r'))
    r.output.pop_back();
  return r.output;
}

void DrLab::stop_server(const std::string& name) {
  for (auto& [n, server] : servers_)
    if (n == name) server.reset();
}

void DrLab::teardown() noexcept {
  servers_.clear();
  run("ip link del " + director_if_);
  for (const auto& ns : {sw_, client_, rs1_, rs2_})
    if (!ns.empty()) run("ip netns del " + ns);
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

}  // namespace xlb::vmtest
