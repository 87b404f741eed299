// xlb-realserver: makes this host a real server of an xlb lb_kind TUN service without the
// ipip, ip6_tunnel or fou modules: a tc ingress program on the interface takes the tunnel
// headers off (bpf/decap.bpf.c), the VIPs go on lo, and ARP stays quiet about them (as for
// DR); `down` undoes each step, restoring the sysctls it changed.
#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "xlb/decap.skel.h"

namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t kHandle = 0x71b;  // our filter's handle and priority on the ingress hook
constexpr std::uint32_t kPriority = 0x71b;

// What `up` changes, so that `down` can restore it: one state file per interface and network
// namespace (/run is shared by every namespace, and each has its own eth0).
fs::path state_file(const std::string& dev) {
  struct stat ns {};
  if (::stat("/proc/self/ns/net", &ns) != 0) throw std::runtime_error("reading /proc/self/ns/net");
  return fs::path("/run/xlb-realserver") / (dev + "@net" + std::to_string(ns.st_ino) + ".state");
}
// The state file's line for "up created the clsact qdisc", beside the sysctls' original values.
constexpr const char* kCreatedQdisc = "clsact";

std::vector<std::string> sysctls(const std::string& dev) {
  std::vector<std::string> out;
  for (const std::string c : {"all", dev.c_str()}) {
    out.push_back("net/ipv4/conf/" + c + "/arp_ignore");
    out.push_back("net/ipv4/conf/" + c + "/arp_announce");
    // Decapsulated packets come from clients whose route may leave by another interface.
    out.push_back("net/ipv4/conf/" + c + "/rp_filter");
  }
  return out;
}

std::string read_sysctl(const std::string& key) {
  std::ifstream in("/proc/sys/" + key);
  std::string v;
  if (!(in >> v)) throw std::runtime_error("reading /proc/sys/" + key);
  return v;
}

void write_sysctl(const std::string& key, const std::string& value) {
  std::ofstream out("/proc/sys/" + key);
  if (!(out << value << '\n') || !out.flush()) throw std::runtime_error("writing /proc/sys/" + key);
}

std::string wanted(const std::string& key) {
  if (key.ends_with("arp_ignore")) return "1";
  if (key.ends_with("arp_announce")) return "2";
  return "0";
}

// ip(8) for the addresses on lo: the VIP is the operator's to see there, as in every DR guide.
void ip(const std::vector<std::string>& args, bool tolerate_failure) {
  std::string cmd = "ip";
  for (const auto& a : args) cmd += " '" + a + "'";
  const int rc = std::system((cmd + (tolerate_failure ? " 2>/dev/null" : "")).c_str());
  if (!tolerate_failure && (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0)) {
    throw std::runtime_error("failed: " + cmd);
  }
}

std::string host_prefix(const std::string& vip) {
  in6_addr a{};
  if (::inet_pton(AF_INET6, vip.c_str(), &a) == 1) return vip + "/128";
  in_addr b{};
  if (::inet_pton(AF_INET, vip.c_str(), &b) == 1) return vip + "/32";
  throw std::invalid_argument("not an IP address: " + vip);
}

bpf_tc_hook ingress_hook(int ifindex) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = BPF_TC_INGRESS;
  return hook;
}

void up(const std::string& dev, const std::vector<std::string>& vips, std::uint16_t gue_port) {
  const int ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
  if (ifindex == 0) throw std::runtime_error("no interface " + dev);
  for (const auto& v : vips) host_prefix(v);  // all checked before anything changes
  // Sysctls first, recorded once: a second `up` must not record its own values as the originals.
  if (!fs::exists(state_file(dev))) {
    fs::create_directories(state_file(dev).parent_path());
    std::ofstream saved(state_file(dev));
    for (const auto& key : sysctls(dev)) saved << key << ' ' << read_sysctl(key) << '\n';
  }
  for (const auto& key : sysctls(dev)) write_sysctl(key, wanted(key));
  for (const auto& v : vips) ip({"addr", "replace", host_prefix(v), "dev", "lo"}, false);

  xlb_decap* skel = xlb_decap__open();
  if (!skel) throw std::runtime_error("opening the decapsulation program");
  skel->rodata->gue_port = htons(gue_port);
  if (int err = xlb_decap__load(skel); err) {
    xlb_decap__destroy(skel);
    throw std::runtime_error("loading the decapsulation program: " + std::to_string(err));
  }
  bpf_tc_hook hook = ingress_hook(ifindex);
  int err = bpf_tc_hook_create(&hook);
  if (err && err != -EEXIST) {
    xlb_decap__destroy(skel);
    throw std::runtime_error("creating the clsact qdisc on " + dev + ": " + std::to_string(err));
  }
  if (!err) std::ofstream(state_file(dev), std::ios::app) << kCreatedQdisc << " created\n";
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = kHandle;
  opts.priority = kPriority;
  opts.prog_fd = bpf_program__fd(skel->progs.xlb_decap);
  opts.flags = BPF_TC_F_REPLACE;
  err = bpf_tc_attach(&hook, &opts);
  xlb_decap__destroy(skel);  // the filter holds the program
  if (err) throw std::runtime_error("attaching the decapsulation program to " + dev + ": " + std::to_string(err));
  std::cout << "xlb-realserver: " << dev << " decapsulates IPIP, IP6IP6, IPv4 in IPv6"
            << (gue_port ? " and GUE to port " + std::to_string(gue_port) : std::string()) << "; VIPs on lo:";
  for (const auto& v : vips) std::cout << ' ' << v;
  std::cout << '\n';
}

void down(const std::string& dev, const std::vector<std::string>& vips) {
  const int ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
  bool created_qdisc = false;
  std::ifstream saved(state_file(dev));
  std::string key, value;
  while (saved >> key >> value) {
    if (key == kCreatedQdisc) {
      created_qdisc = true;
      continue;
    }
    if (key.find("/" + dev + "/") != std::string::npos && ifindex == 0) continue;  // the interface went
    write_sysctl(key, value);
  }
  if (ifindex != 0) {
    bpf_tc_hook hook = ingress_hook(ifindex);
    bpf_tc_opts opts{};
    opts.sz = sizeof(opts);
    opts.handle = kHandle;
    opts.priority = kPriority;
    bpf_tc_detach(&hook, &opts);  // absent: nothing to undo
    // The qdisc goes only if `up` made it: one that was there holds other programs' filters.
    if (created_qdisc) {
      hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
      bpf_tc_hook_destroy(&hook);
    }
  }
  for (const auto& v : vips) ip({"addr", "del", host_prefix(v), "dev", "lo"}, true);
  fs::remove(state_file(dev));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xlb-realserver: a real server for xlb's lb_kind TUN without tunnel modules"};
  app.require_subcommand(1);
  std::string dev;
  std::vector<std::string> vips;
  std::uint16_t gue_port = 0;
  auto* up_cmd = app.add_subcommand("up", "attach the decapsulation, put the VIPs on lo, set the sysctls");
  up_cmd->add_option("--dev", dev, "the interface the tunnelled packets arrive on")->required();
  up_cmd->add_option("--vip", vips, "a virtual address (repeatable)")->required();
  up_cmd->add_option("--gue-port", gue_port, "also decapsulate GUE to this UDP port (lb_kind TUN type gue port N)");
  auto* down_cmd = app.add_subcommand("down", "undo what up did");
  down_cmd->add_option("--dev", dev, "the interface given to up")->required();
  down_cmd->add_option("--vip", vips, "the virtual addresses given to up");
  CLI11_PARSE(app, argc, argv);
  libbpf_set_print([](libbpf_print_level level, const char* fmt, va_list args) {
    return level == LIBBPF_WARN ? std::vfprintf(stderr, fmt, args) : 0;
  });
  try {
    if (*up_cmd) up(dev, vips, gue_port);
    if (*down_cmd) down(dev, vips);
  } catch (const std::exception& e) {
    std::cerr << "xlb-realserver: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
