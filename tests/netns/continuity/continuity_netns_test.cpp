// Established connections survive reload, restart and failover: the two-node lab of
// tools/lab/xlb-lab.sh with an extra virtual server VIP:9000 whose reals run echo servers, and
// long-lived streams from the client (100 bytes every 5 ms each, echoed back). Every scenario
// counts streams that broke and bytes that were sent but never echoed.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/support/shell.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace {

using xlb::test::run;
using xlb::test::wait_for;
using xlb::test::Run;

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
constexpr int kStreams = 16;

std::string suffix() {
  std::mt19937 rng(std::random_device{}());
  const char* alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s = "c";
  for (int i = 0; i < 6; ++i) s += alphabet[rng() % 36];
  return s;
}

enum class Mode { wrr_sync, mh_nosync, wrr_nosync };

// The lab, reconfigured for the scenario; `down` in the destructor also on failure.
class Lab {
 public:
  explicit Lab(Mode mode) : suffix_(suffix()), state_("/run/xlb-lab-" + suffix_), mode_(mode) {}
  ~Lab() {
    stop_streams();
    for (auto pid : servers_) {
      ::kill(pid, SIGKILL);
    }
    run(lab("down"));
  }

  std::string lab(const std::string& args) const {
    return std::string(XLB_TEST_SOURCE_DIR) + "/tools/lab/xlb-lab.sh " + first_word(args) + " " + suffix_ +
           rest(args);
  }
  static std::string first_word(const std::string& s) { return s.substr(0, s.find(' ')); }
  static std::string rest(const std::string& s) {
    const auto sp = s.find(' ');
    return sp == std::string::npos ? "" : s.substr(sp);
  }
  const std::string& state() const { return state_; }
  const std::string& suffix_text() const { return suffix_; }

  // Starts the lab, writes both configs with VIP:9000 (and lvs_sync_daemon for wrr_sync),
  // restarts both daemons on them, starts the echo servers.
  std::string up() {
    auto r = run(lab("up " + std::string(XLB_TEST_BINARY_DIR)));
    if (r.status != 0) return "lab up failed:\n" + r.out;
    for (int n : {1, 2}) write_config(n, 1, 1);
    for (int n : {1, 2}) run(lab("lb-kill " + std::to_string(n) + " KILL"));
    for (int n : {1, 2}) {
      r = run(lab("lb-start " + std::to_string(n)));
      if (r.status != 0) return "lb-start failed:\n" + r.out;
    }
    for (const char* rs : {"rs1", "rs2"}) {
      const std::string ns = std::string("xlb-") + rs + "-" + suffix_;
      const pid_t pid = ::fork();
      if (pid == 0) {
        ::execlp("ip", "ip", "netns", "exec", ns.c_str(), "python3",
                 (std::string(XLB_TEST_SOURCE_DIR) + "/tests/netns/continuity/echo_server.py").c_str(), rs, "9000",
                 static_cast<char*>(nullptr));
        ::_exit(127);
      }
      servers_.push_back(pid);
    }
    if (!wait_for([&] { return master() == "lb1"; }, 20s)) return "lb1 did not become master";
    // The checkers must see both echo servers before streams start.
    if (!wait_for([&] { return reals_up(1) == 2; }, 20s)) return "echo servers not up in lb1's checks: " + run(lab("ctl 1 --json list")).out;
    return "";
  }

  // Weights of rs1 and rs2 on VIP:9000; a negative weight leaves that real out of the file.
  void write_config(int n, int w1, int w2, bool broken = false) const {
    const std::string file = state_ + "/lb" + std::to_string(n) + ".conf";
    std::string base = run(lab("conf " + std::to_string(n))).out;  // rewrites file from scratch
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    std::string conf = text.str();
    if (mode_ == Mode::wrr_sync) {
      const auto at = conf.find("router_id");
      conf.insert(conf.find('\n', at) + 1, "   lvs_sync_daemon eth1 VI_1 id 7\n");
    }
    const char* algo = mode_ == Mode::mh_nosync ? "mh" : "wrr";
    conf += "\nvirtual_server 198.18.0.100 9000 {\n    delay_loop 1\n    lb_algo " + std::string(algo) +
            "\n    lb_kind DR\n    protocol TCP\n";
    for (auto [ip, w] : {std::pair{"198.18.0.11", w1}, std::pair{"198.18.0.12", w2}}) {
      if (w < 0) continue;  // not configured
      conf += "    real_server " + std::string(ip) + " 9000 {\n        weight " + std::to_string(w) +
              "\n        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n";
    }
    conf += broken ? "    lb_algo no_such_scheduler\n}\n" : "}\n";
    std::ofstream(file) << conf;
  }

  std::string master() const { return trim(run(lab("master")).out); }
  int reals_up(int n) const {
    auto r = run(lab("ctl " + std::to_string(n) + " --json list"));
    try {
      for (const auto& svc : nlohmann::json::parse(r.out)) {
        if (svc.value("port", 0) != 9000) continue;
        int up = 0;
        for (const auto& real : svc.at("reals")) {
          if (real.value("weight", 0) > 0) ++up;
        }
        return up;
      }
    } catch (const std::exception&) {
    }
    return 0;
  }
  nlohmann::json status(int n) const {
    try {
      return nlohmann::json::parse(run(lab("ctl " + std::to_string(n) + " --json status")).out);
    } catch (const std::exception&) {
      return {};
    }
  }
  pid_t xlbd_pid(int n) const {
    std::ifstream in(state_ + "/run-xlbd-lb" + std::to_string(n) + ".pid");
    pid_t pid = 0;
    in >> pid;
    return pid;
  }
  // bpftool's id for each pinned map of lb n: a recreated map gets a new id.
  std::map<std::string, int> map_ids(int n) const {
    std::map<std::string, int> ids;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(state_ + "/bpf/lb" + std::to_string(n), ec)) {
      auto r = run("bpftool -j map show pinned " + e.path().string());
      try {
        ids[e.path().filename()] = nlohmann::json::parse(r.out).at("id").get<int>();
      } catch (const std::exception&) {
      }
    }
    return ids;
  }

  std::string ns(int n) const { return "xlb-lb" + std::to_string(n) + "-" + suffix_; }
  bool xdp_attached(int n) const { return run("ip -n " + ns(n) + " link show eth0").out.find(" xdp") != std::string::npos; }
  std::string xlbd_log(int n) const {
    std::ifstream in(state_ + "/xlbd-lb" + std::to_string(n) + ".log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  bool exited(pid_t pid) const {
    return wait_for([&] { return ::kill(pid, 0) != 0; }, 10s).has_value();
  }
  // The first word of the pinned settings entry, which is its ABI version.
  std::string settings_path(int n) const { return state_ + "/bpf/lb" + std::to_string(n) + "/settings"; }

  void start_streams() {
    ready_ = state_ + "/streams.ready";
    stop_ = state_ + "/streams.stop";
    fs::remove(ready_);
    fs::remove(stop_);
    const std::string cmd = "ip netns exec xlb-cl-" + suffix_ + " python3 " + XLB_TEST_SOURCE_DIR +
                            "/tests/netns/continuity/stream_client.py 198.18.0.100 9000 " + std::to_string(kStreams) +
                            " " + ready_ + " " + stop_ + " > " + state_ + "/streams.json 2>&1";
    streams_ = ::fork();
    if (streams_ == 0) {
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  bool streams_ready() const { return wait_for([&] { return fs::exists(ready_); }, 30s).has_value(); }
  nlohmann::json stop_streams() {
    if (streams_ <= 0) return {};
    std::ofstream(stop_).put('\n');
    int st = 0;
    bool done = wait_for([&] { return ::waitpid(streams_, &st, WNOHANG) == streams_; }, 60s).has_value();
    if (!done) {
      ::kill(streams_, SIGKILL);
      ::waitpid(streams_, &st, 0);
    }
    streams_ = -1;
    std::ifstream in(state_ + "/streams.json");
    std::string line, last;
    while (std::getline(in, line)) last = line;
    try {
      return nlohmann::json::parse(last);
    } catch (const std::exception&) {
      return {{"unparsed", last}};
    }
  }

  static std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

 private:
  std::string suffix_;
  std::string state_;
  Mode mode_;
  std::vector<pid_t> servers_;
  pid_t streams_ = -1;
  std::string ready_, stop_;
};

void report(const char* scenario, const nlohmann::json& r) {
  std::printf("%s: %d streams, %d broken, %lld bytes sent, %lld echoed, %lld lost\n", scenario,
              r.value("conns", 0), r.value("broken", 0), r.value("sent", 0LL), r.value("received", 0LL),
              r.value("sent", 0LL) - r.value("received", 0LL));
}

void require_root() {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, XDP)";
}

// The master is SIGKILLed while streams run; lb2 takes the VIP over and must send every
// established stream to the real it was on.
nlohmann::json failover(Mode mode, const char* name) {
  Lab lab(mode);
  const auto problem = lab.up();
  EXPECT_EQ(problem, "") << problem;
  if (!problem.empty()) return {};
  lab.start_streams();
  EXPECT_TRUE(lab.streams_ready()) << "streams did not open";
  std::this_thread::sleep_for(3s);  // a few sync scans
  EXPECT_EQ(::kill(lab.xlbd_pid(1), SIGKILL), 0);
  if (!wait_for([&] { return lab.master() == "lb2"; }, 20s)) {
    ADD_FAILURE() << "lb2 did not take over";
    return {};
  }
  std::this_thread::sleep_for(4s);  // streams keep going through lb2
  const auto r = lab.stop_streams();
  report(name, r);
  if (mode == Mode::wrr_sync) {
    std::printf("lb2 flow sync: %s\n", lab.status(2).value("flow_sync", nlohmann::json{}).dump().c_str());
    // What lb2 received as backup shows on its Prometheus page, which stays well-formed.
    const std::string page_file = lab.state() + "/metrics-lb2.txt";
    const auto fetch = run("ip netns exec " + lab.ns(2) + " curl -sf http://127.0.0.1:9780/metrics -o " + page_file);
    EXPECT_EQ(fetch.status, 0) << fetch.out;
    std::ifstream in(page_file);
    const std::string page((std::istreambuf_iterator<char>(in)), {});
    const auto at = page.find("\nxlb_sync_entries_installed_total ");
    EXPECT_NE(at, std::string::npos) << page;
    if (at != std::string::npos) {
      EXPECT_GT(std::stod(page.substr(at + 34)), 0.0) << page.substr(at, 60);
    }
    EXPECT_NE(page.find("xlb_sync_problems_total{reason=\"rejected_auth\"} 0"), std::string::npos);
    if (run("command -v promtool").status == 0) {
      const auto check = run("promtool check metrics < " + page_file);
      EXPECT_EQ(check.status, 0) << check.out;
    }
  }
  EXPECT_EQ(r.value("conns", 0), kStreams) << r.dump();
  EXPECT_GT(r.value("received", 0LL), 0) << r.dump();
  return r;
}

TEST(Continuity, WrrWithFlowSyncKeepsStreamsOnMasterKill) {
  require_root();
  const auto r = failover(Mode::wrr_sync, "wrr + lvs_sync_daemon, master SIGKILL");
  EXPECT_EQ(r.value("broken", -1), 0) << r.dump();
}

TEST(Continuity, MaglevWithoutSyncKeepsStreamsOnMasterKill) {
  require_root();
  const auto r = failover(Mode::mh_nosync, "mh without sync, master SIGKILL");
  EXPECT_EQ(r.value("broken", -1), 0) << r.dump();
}

// The control: the same failover with wrr and no sync must break streams (the new master
// schedules mid-stream packets afresh), or the two tests above prove nothing.
TEST(Continuity, WrrWithoutSyncBreaksStreamsOnMasterKill) {
  require_root();
  const auto r = failover(Mode::wrr_nosync, "wrr without sync (control), master SIGKILL");
  EXPECT_GT(r.value("broken", 0), 0) << r.dump();
}

// On the master: SIGHUP with changed weights, a quiesced and restored real, a removed and
// re-added real, an invalid file.
// No stream breaks, no map is recreated, the invalid file is refused with its errors.
TEST(Continuity, ReloadKeepsStreamsAndMaps) {
  require_root();
  Lab lab(Mode::wrr_sync);
  const auto problem = lab.up();
  ASSERT_EQ(problem, "") << problem;
  const auto maps_before = lab.map_ids(1);
  ASSERT_FALSE(maps_before.empty()) << "no pinned maps under " << lab.state() << "/bpf/lb1";
  lab.start_streams();
  ASSERT_TRUE(lab.streams_ready()) << "streams did not open";

  auto step = [](const char* what) {
    std::printf("%.1f %s\n", std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(), what);
  };
  auto hup = [&](int w1, int w2, bool broken = false) {
    step(broken ? "SIGHUP invalid" : "SIGHUP");
    lab.write_config(1, w1, w2, broken);
    ASSERT_EQ(::kill(lab.xlbd_pid(1), SIGHUP), 0);
    std::this_thread::sleep_for(2s);
  };
  hup(3, 1);  // weights
  hup(0, 1);  // rs1 quiesced: its streams stay, new ones go to rs2
  hup(1, 1);
  hup(1, -1);  // rs2 removed from the file: its streams drain, new ones go to rs1
  EXPECT_EQ(lab.reals_up(1), 1) << "rs2 still takes new flows after its removal";
  hup(1, 1);   // and added again
  const auto reloads = lab.status(1).value("reloads", 0);
  EXPECT_GE(reloads, 5) << lab.status(1).dump();
  hup(1, 1, true);  // invalid: nothing changes
  const auto st = lab.status(1);
  EXPECT_EQ(st.value("reloads_refused", 0), 1) << st.dump();
  EXPECT_FALSE(st.value("last_reload_errors", nlohmann::json::array()).empty()) << st.dump();
  EXPECT_EQ(lab.map_ids(1), maps_before) << "a reload recreated a map";

  const auto r = lab.stop_streams();
  report("SIGHUP x6 (one invalid)", r);
  if (r.value("broken", 0) != 0) std::printf("lb1's xlbd log:\n%s\n", lab.xlbd_log(1).c_str());
  EXPECT_EQ(r.value("conns", 0), kStreams) << r.dump();
  EXPECT_EQ(r.value("broken", -1), 0) << r.dump();
}

}  // namespace

namespace {

// xlbd on the master is stopped by `signal` while streams run, then a new xlbd starts on the
// same pins. The attached program and its maps keep forwarding without xlbd (after SIGTERM the
// backup takes the VIP over with the synced flows; after SIGKILL nobody notices); the new xlbd
// replaces the program in place, keeps every map and is master again.
void restart_keeps_streams(const char* signal, bool backup_takes_over, const char* name) {
  Lab lab(Mode::wrr_sync);
  const auto problem = lab.up();
  ASSERT_EQ(problem, "") << problem;
  const auto maps_before = lab.map_ids(1);
  ASSERT_FALSE(maps_before.empty()) << "no pinned maps under " << lab.state() << "/bpf/lb1";
  lab.start_streams();
  ASSERT_TRUE(lab.streams_ready()) << "streams did not open";
  std::this_thread::sleep_for(2s);
  ASSERT_EQ(run(lab.lab(std::string("lb-kill 1 ") + signal)).status, 0);
  EXPECT_TRUE(lab.xdp_attached(1)) << "SIG" << signal << " detached the XDP program";
  EXPECT_EQ(lab.map_ids(1), maps_before) << "SIG" << signal << " removed pinned maps";
  if (backup_takes_over) {
    EXPECT_TRUE(wait_for([&] { return lab.master() == "lb2"; }, 20s)) << "lb2 did not take over";
  }
  std::this_thread::sleep_for(backup_takes_over ? 2s : 1s);
  ASSERT_EQ(run(lab.lab("lb-start 1")).status, 0);
  EXPECT_TRUE(wait_for([&] { return lab.master() == "lb1"; }, 20s)) << "lb1 is not master after restart";
  std::this_thread::sleep_for(3s);
  EXPECT_NE(lab.xlbd_log(1).find("the xlb_balancer left attached by the previous xlbd"), std::string::npos)
      << "the restarted xlbd did not take the program over in place";
  EXPECT_EQ(lab.map_ids(1), maps_before) << "the restarted xlbd recreated a map";
  const auto r = lab.stop_streams();
  report(name, r);
  if (r.value("broken", 0) != 0) {
    for (const char* node : {"lb1", "lb2", "rs1", "rs2"}) {
      std::printf("%s resets sent: %s", node,
                  run("ip netns exec xlb-" + std::string(node) + "-" + lab.suffix_text() + " nstat -az TcpOutRsts | tail -1").out.c_str());
    }
  }
  EXPECT_EQ(r.value("conns", 0), kStreams) << r.dump();
  EXPECT_EQ(r.value("broken", -1), 0) << r.dump();
}

TEST(Continuity, RestartAfterSigkillKeepsStreamsAndMaps) {
  require_root();
  restart_keeps_streams("KILL", false, "xlbd SIGKILL, 1 s without xlbd, new xlbd");
}

TEST(Continuity, SigtermKeepsProgramAndRestartTakesOver) {
  require_root();
  restart_keeps_streams("TERM", true, "xlbd SIGTERM, lb2 master 2 s, xlbd restarted and preempting");
}

// A changed map layout is refused with a clear message and changes nothing; `xlbctl stop
// --detach` takes the program off and removes the pins, so the next start begins afresh.
TEST(Continuity, AbiChangeRefusedAndStopDetachCleansUp) {
  require_root();
  Lab lab(Mode::mh_nosync);
  const auto problem = lab.up();
  ASSERT_EQ(problem, "") << problem;
  const auto maps_before = lab.map_ids(1);
  ASSERT_FALSE(maps_before.empty());

  pid_t pid = lab.xlbd_pid(1);
  auto r = run(lab.lab("ctl 1 stop"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("keeps forwarding"), std::string::npos) << r.out;
  ASSERT_TRUE(lab.exited(pid)) << "xlbd did not exit on xlbctl stop";
  EXPECT_TRUE(lab.xdp_attached(1));
  EXPECT_EQ(lab.map_ids(1), maps_before);

  // Pretend another xlb version wrote the maps: ABI version 99 in the pinned settings.
  const auto lookup = nlohmann::json::parse(run("bpftool -j map lookup pinned " + lab.settings_path(1) + " key 0 0 0 0").out,
                                            nullptr, false);
  ASSERT_TRUE(lookup.is_object() && lookup.contains("value")) << lookup.dump();
  auto bytes = lookup["value"];
  ASSERT_EQ(std::stoi(bytes[0].get<std::string>(), nullptr, 16), lookup["formatted"]["value"]["abi_version"].get<int>())
      << "abi_version is no longer the first field of xlb_settings: " << lookup.dump();
  const auto write_settings = [&](const nlohmann::json& value) {
    std::string hex;
    for (const auto& b : value) hex += " " + b.get<std::string>();
    return run("bpftool map update pinned " + lab.settings_path(1) + " key 0 0 0 0 value hex" + hex).status;
  };
  auto poked = bytes;
  poked[0] = "0x63";
  ASSERT_EQ(write_settings(poked), 0);
  r = run(lab.lab("lb-start 1"));
  EXPECT_NE(r.status, 0) << "xlbd started on maps of another ABI version";
  EXPECT_NE(lab.xlbd_log(1).find("written by ABI version 99"), std::string::npos) << lab.xlbd_log(1);
  EXPECT_TRUE(lab.xdp_attached(1)) << "a refused start changed the attached program";
  EXPECT_EQ(lab.map_ids(1), maps_before) << "a refused start changed the pinned maps";

  ASSERT_EQ(write_settings(bytes), 0);
  r = run(lab.lab("lb-start 1"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(lab.map_ids(1), maps_before);
  EXPECT_TRUE(wait_for([&] { return lab.master() == "lb1"; }, 20s));

  pid = lab.xlbd_pid(1);
  r = run(lab.lab("ctl 1 stop --detach"));
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_TRUE(lab.exited(pid)) << "xlbd did not exit on xlbctl stop --detach";
  EXPECT_FALSE(lab.xdp_attached(1)) << "stop --detach left the program attached";
  EXPECT_TRUE(lab.map_ids(1).empty()) << "stop --detach left pinned maps";

  r = run(lab.lab("lb-start 1"));
  ASSERT_EQ(r.status, 0) << r.out;
  const auto fresh = lab.map_ids(1);
  ASSERT_FALSE(fresh.empty());
  EXPECT_NE(fresh.at("flows"), maps_before.at("flows")) << "after --detach the next start reused the old flows map";
  EXPECT_TRUE(lab.xdp_attached(1));
}

}  // namespace
