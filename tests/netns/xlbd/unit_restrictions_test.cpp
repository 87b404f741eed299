// xlbd under its own systemd unit's restrictions: the capability bounding set, the absence of
// ambient and inheritable capabilities, NoNewPrivileges and the Limit* rlimits, read from
// packaging/xlbd.service (not repeated here) and applied with setpriv and prlimit to both xlbd
// of the two-node lab (tools/lab/xlb-lab.sh, XLB_LAB_XLBD_WRAP). xlbd must start, forward real
// requests, reload on SIGHUP and stop on SIGTERM. The unit's filesystem, namespace and system
// call sandboxing need systemd itself and are not applied here.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/shell.hpp"

namespace {

using xlb::test::binary_dir;
using xlb::test::run;
using xlb::test::source_dir;
using xlb::test::wait_for;
using Json = nlohmann::json;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// What the [Service] section of the unit restricts that a process can be given without systemd.
struct UnitRestrictions {
  std::set<std::string> caps;                  // capsh names: cap_bpf, cap_net_admin, ...
  std::map<std::string, std::string> limits;   // prlimit resource (memlock, nofile, ...) -> value
  bool no_new_privileges = false;
  bool ambient_empty = true;
  std::string error;                           // a directive this test cannot apply faithfully
};

UnitRestrictions read_unit(const std::string& path) {
  UnitRestrictions u;
  std::ifstream in(path);
  if (!in) {
    u.error = "cannot read " + path;
    return u;
  }
  bool service = false;
  for (std::string line; std::getline(in, line);) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      service = line == "[Service]";
      continue;
    }
    const auto eq = line.find('=');
    if (!service || eq == std::string::npos) continue;
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (key == "CapabilityBoundingSet") {
      // systemd: an empty assignment resets, a leading ~ inverts; this unit lists what it keeps.
      if (value.empty()) u.caps.clear();
      if (!value.empty() && value[0] == '~') u.error = "CapabilityBoundingSet=~... is not handled";
      std::istringstream words(value);
      for (std::string w; words >> w;) u.caps.insert(lower(w));
    } else if (key == "AmbientCapabilities") {
      u.ambient_empty = value.empty();
    } else if (key == "NoNewPrivileges") {
      u.no_new_privileges = value == "yes" || value == "true" || value == "1";
    } else if (key.rfind("Limit", 0) == 0) {
      // LimitMEMLOCK=infinity -> prlimit --memlock=unlimited; plain numbers pass as they are.
      std::string v = value == "infinity" ? "unlimited" : value;
      if (v != "unlimited" && v.find_first_not_of("0123456789:") != std::string::npos) {
        u.error = key + "=" + value + ": units and suffixes are not handled";
      }
      u.limits[lower(key.substr(5))] = v;
    }
  }
  if (u.caps.empty()) u.error = "no CapabilityBoundingSet in " + path;
  return u;
}

std::set<std::string> decode_caps(const std::string& hex) {
  // capsh --decode=MASK prints 0x...=cap_a,cap_b
  const auto r = run("capsh --decode=" + hex);
  std::set<std::string> out;
  const auto eq = r.out.find('=');
  if (eq == std::string::npos) return out;
  std::istringstream names(trim(r.out.substr(eq + 1)));
  for (std::string n; std::getline(names, n, ',');) out.insert(n);
  return out;
}

std::string status_field(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return trim(line.substr(field.size() + 1));
  }
  return "";
}

std::string limit_line(int pid, const std::string& description) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(description, 0) == 0) return line;
  }
  return "";
}

std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ",") + x;
  return out;
}

// The command prefix that gives xlbd what the unit gives it, less `without`.
struct Wrap {
  std::string command;
  std::set<std::string> caps;                 // what xlbd will hold
  std::map<std::string, std::string> limits;  // prlimit resource -> value applied
};

Wrap unit_wrap(const UnitRestrictions& unit, const std::set<std::string>& without) {
  Wrap w;
  // A bounding set only shrinks: what xlbd can hold is the unit's set within this shell's.
  const std::set<std::string> ours = decode_caps(status_field(::getpid(), "CapBnd"));
  std::string setpriv_caps = "-all";
  for (const auto& cap : unit.caps) {
    if (without.count(cap)) continue;
    if (ours.count(cap)) {
      w.caps.insert(cap);
      setpriv_caps += ",+" + cap.substr(4);
    } else {
      std::printf("note: %s is in the unit's bounding set but not in this shell's; xlbd runs without it\n",
                  cap.c_str());
    }
  }
  // Limits the unit raises beyond what this shell may set (raising a hard limit needs
  // CAP_SYS_RESOURCE) are applied at this shell's hard limit instead: stricter than the unit.
  std::string prlimit_args;
  for (const auto& [resource, value] : unit.limits) {
    std::string v = value;
    if (run("prlimit --" + resource + "=" + v + " true").status != 0) {
      v = trim(run("prlimit --noheadings --raw --output HARD --" + resource).out);
      if (v.empty()) v = "unlimited";
      std::printf("note: the unit's %s limit %s cannot be set from this shell; applied at its hard limit %s\n",
                  resource.c_str(), value.c_str(), v.c_str());
    }
    w.limits[resource] = v;
    prlimit_args += " --" + resource + "=" + v;
  }
  w.command = "prlimit" + prlimit_args + " -- setpriv --bounding-set=" + setpriv_caps +
              " --inh-caps=-all --ambient-caps=-all" + (unit.no_new_privileges ? " --no-new-privs" : "") + " --";
  return w;
}

class XlbdUnderItsUnit : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: namespaces, XDP, VRRP";
    for (const char* tool : {"setpriv", "prlimit", "capsh"}) {
      if (run(std::string("command -v ") + tool).status != 0) GTEST_SKIP() << tool << " is not installed";
    }
    std::ostringstream s;
    s << "u" << std::hex << (::getpid() & 0xfffffff);
    suffix_ = s.str().substr(0, 8);
    state_ = "/run/xlb-lab-" + suffix_;
    script_ = source_dir() + "/tools/lab/xlb-lab.sh";
  }
  void TearDown() override {
    if (!suffix_.empty()) run(script_ + " down " + suffix_);
    ::unsetenv("XLB_LAB_XLBD_WRAP");
  }
  xlb::test::Run lab(const std::string& sub, const std::string& args = "") const {
    return run(script_ + " " + sub + " " + suffix_ + (args.empty() ? "" : " " + args));
  }
  int xlbd_pid(int node) const {
    std::ifstream in(state_ + "/xlbd-lb" + std::to_string(node) + ".pid");
    int pid = 0;
    in >> pid;
    return pid;
  }
  int persistence(int node) const {
    const auto r = lab("ctl", std::to_string(node) + " --json list");
    const auto services = Json::parse(r.out, nullptr, false);
    if (!services.is_array() || services.empty()) return -1;
    return services[0].value("persistence", -1);
  }

  std::string suffix_, state_, script_;
};

TEST_F(XlbdUnderItsUnit, StartsForwardsReloadsAndStopsUnderTheUnitsCapabilitiesAndLimits) {
  const UnitRestrictions unit = read_unit(source_dir() + "/packaging/xlbd.service");
  ASSERT_TRUE(unit.error.empty()) << unit.error;
  ASSERT_TRUE(unit.ambient_empty) << "the unit grants ambient capabilities; apply them here too";

  const Wrap w = unit_wrap(unit, {});
  ::setenv("XLB_LAB_XLBD_WRAP", w.command.c_str(), 1);
  const std::set<std::string>& expected = w.caps;
  const std::map<std::string, std::string>& applied = w.limits;
  const std::string& wrap = w.command;

  const auto up = lab("up", binary_dir());
  ASSERT_EQ(up.status, 0) << wrap << "\n" << up.out << run("tail -n 20 " + state_ + "/xlbd-lb1.log").out;

  // Started, and holding exactly what the unit allows.
  for (int node : {1, 2}) {
    const int pid = xlbd_pid(node);
    ASSERT_GT(pid, 0);
    EXPECT_EQ(join(decode_caps(status_field(pid, "CapBnd"))), join(expected)) << "lb" << node;
    EXPECT_EQ(join(decode_caps(status_field(pid, "CapEff"))), join(expected)) << "lb" << node;
    EXPECT_EQ(status_field(pid, "CapAmb"), "0000000000000000");
    if (unit.no_new_privileges) {
      EXPECT_EQ(status_field(pid, "NoNewPrivs"), "1");
    }
    if (applied.count("memlock")) {
      const std::string line = limit_line(pid, "Max locked memory");
      EXPECT_NE(line.find(applied.at("memlock")), std::string::npos) << line;
    }
  }

  // Forwards: every request answered, by both reals of the wrr service.
  std::map<std::string, int> answered;
  {
    std::istringstream in(lab("requests", "30").out);
    std::string name;
    int count = 0;
    while (in >> name >> count) answered[name] = count;
  }
  EXPECT_EQ(answered["rs1"] + answered["rs2"], 30) << Json(answered).dump();
  EXPECT_GT(answered["rs1"], 0);
  EXPECT_GT(answered["rs2"], 0);

  // Reloads on SIGHUP (systemctl reload): a changed file takes effect, the process stays.
  const int pid1 = xlbd_pid(1);
  ASSERT_EQ(lab("conf", "1 persist").status, 0);
  ASSERT_EQ(::kill(pid1, SIGHUP), 0);
  EXPECT_TRUE(wait_for([&] { return persistence(1) == 50; }, std::chrono::seconds(10)))
      << run("tail -n 20 " + state_ + "/xlbd-lb1.log").out;
  EXPECT_EQ(xlbd_pid(1), pid1);
  EXPECT_EQ(::kill(pid1, 0), 0);

  // Stops on SIGTERM (systemctl stop), saying so, within the unit's TimeoutStopSec.
  for (int node : {1, 2}) {
    const int pid = xlbd_pid(node);
    ASSERT_EQ(::kill(pid, SIGTERM), 0);
    EXPECT_TRUE(wait_for([&] { return !std::filesystem::exists("/proc/" + std::to_string(pid) + "/status") ||
                                      status_field(pid, "State").rfind("Z", 0) == 0; },
                         std::chrono::seconds(20)))
        << "lb" << node << " still runs after SIGTERM";
    const auto log = run("cat " + state_ + "/xlbd-lb" + std::to_string(node) + ".log").out;
    EXPECT_NE(log.find("xlbd stopping"), std::string::npos) << log;
  }
}

}  // namespace

namespace {

// The unit keeps CAP_NET_RAW for VRRP; a unit (or container) without it must get a refusal that
// names the socket and the capability, not a bare errno.
TEST_F(XlbdUnderItsUnit, WithoutCapNetRawRefusesToStartAndSaysWhy) {
  const UnitRestrictions unit = read_unit(source_dir() + "/packaging/xlbd.service");
  ASSERT_TRUE(unit.error.empty()) << unit.error;
  ::setenv("XLB_LAB_XLBD_WRAP", unit_wrap(unit, {"cap_net_raw"}).command.c_str(), 1);
  const auto up = lab("up", binary_dir());
  EXPECT_NE(up.status, 0);
  EXPECT_NE(up.out.find("opening the raw VRRP socket (IP protocol 112, IPv4) for eth1 (needs CAP_NET_RAW): "
                        "Operation not permitted"),
            std::string::npos)
      << up.out;
}

}  // namespace
