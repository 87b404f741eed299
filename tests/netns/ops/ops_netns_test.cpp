// Operating a running xlbd: every xlbctl command, bad requests on the control socket, drain
// across a reload, the Prometheus page (promtool and a real Prometheus server), bpftool on
// every pinned map, SIGUSR1, and xlbctl list from the pinned maps once xlbd is gone. The lab is
// tools/lab/xlb-lab.sh (client, lb1/lb2 running xlbd, rs1/rs2 HTTP reals), named per run and torn
// down by the fixture also when a test fails.
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/shell.hpp"
#include <nlohmann/json.hpp>

#include "ctrl/api/control_server.hpp"

namespace {

using xlb::test::run;
using xlb::test::wait_for;
using xlb::test::Run;
using xlb::test::source_dir;
using xlb::test::binary_dir;

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;


constexpr const char* kVip = "198.18.0.100";
constexpr const char* kRs1 = "198.18.0.11:80";
constexpr const char* kRs2 = "198.18.0.12:80";
constexpr std::chrono::milliseconds kPatience{20000};

class Lab {
 public:
  Lab() : script_(source_dir() + "/tools/lab/xlb-lab.sh") {
    std::ostringstream s;
    s << "o" << std::hex << (::getpid() & 0xfffffff);
    suffix_ = s.str().substr(0, 8);
    state_ = "/run/xlb-lab-" + suffix_;
  }
  ~Lab() { run(script_ + " down " + suffix_); }
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  Run up() { return run(script_ + " up " + suffix_ + " " + binary_dir()); }
  Run cmd(const std::string& sub, const std::string& args = "") const {
    return run(script_ + " " + sub + " " + suffix_ + (args.empty() ? "" : " " + args));
  }
  Run ctl(int node, const std::string& args) const { return cmd("ctl", std::to_string(node) + " " + args); }
  Json ctl_json(int node, const std::string& args) const {
    const auto r = ctl(node, "--json " + args);
    return r.status == 0 ? Json::parse(r.out, nullptr, false) : Json();
  }
  std::map<std::string, int> requests(int n) const {
    std::map<std::string, int> out;
    std::istringstream in(cmd("requests", std::to_string(n)).out);
    std::string name;
    int count = 0;
    while (in >> name >> count) out[name] = count;
    return out;
  }
  int master() const {
    auto out = cmd("master").out;
    return out.find("lb1") != std::string::npos ? 1 : out.find("lb2") != std::string::npos ? 2 : 0;
  }
  std::string ns(int node) const { return "xlb-lb" + std::to_string(node) + "-" + suffix_; }
  std::string socket(int node) const { return state_ + "/lb" + std::to_string(node) + ".sock"; }
  std::string pin_dir(int node) const { return state_ + "/bpf/lb" + std::to_string(node); }
  int xlbd_pid(int node) const {
    std::ifstream in(state_ + "/xlbd-lb" + std::to_string(node) + ".pid");
    int pid = 0;
    in >> pid;
    return pid;
  }
  const std::string& state() const { return state_; }

 private:
  std::string script_, suffix_, state_;
};

// The real's weight and state as `xlbctl --json list` shows them on lb N.
std::optional<Json> real_entry(const Lab& lab, int node, const std::string& real) {
  const auto services = lab.ctl_json(node, "list");
  if (!services.is_array()) return std::nullopt;
  for (const auto& s : services)
    for (const auto& r : s["reals"])
      if (r.value("address", std::string()) + ":" + std::to_string(r.value("port", 0)) == real ||
          r.value("real", std::string()) == real)
        return r;
  return std::nullopt;
}

// One request line on the control socket as `peer` (a forked child drops to it first);
// returns the reply line, "" when the daemon closed the connection without one.
struct Peer {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

std::string raw_request_as(const std::string& path, const std::string& line, const Peer& peer) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return "pipe failed";
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(pipefd[0]);
    if (peer.uid != 0 && (::setgroups(peer.groups.size(), peer.groups.data()) != 0 || ::setgid(peer.gid) != 0 ||
                          ::setuid(peer.uid) != 0))
      ::_exit(3);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    std::string reply;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      reply = "connect refused";
    } else {
      std::size_t sent = 0;
      while (sent < line.size()) {
        const auto n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
      }
      char buf[4096];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) {
        reply.append(buf, static_cast<std::size_t>(n));
        if (reply.find('\n') != std::string::npos) break;
      }
    }
    (void)!::write(pipefd[1], reply.data(), reply.size());
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(pipefd[0]);
  int st = 0;
  ::waitpid(child, &st, 0);
  return out;
}

std::string raw_request(const std::string& path, const std::string& line, uid_t uid = 0) {
  return raw_request_as(path, line, Peer{uid, uid, {}});
}

class OpsLab : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    lab_ = new Lab();
    const auto r = lab_->up();
    up_ok_ = r.status == 0;
    if (!up_ok_) up_log_ = r.out;
  }
  static void TearDownTestSuite() {
    delete lab_;
    lab_ = nullptr;
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: network namespaces, XDP, bpffs";
    ASSERT_TRUE(up_ok_) << "the lab did not come up:\n" << up_log_;
    master_ = lab_->master();
    ASSERT_NE(master_, 0);
  }
  static Lab* lab_;
  static bool up_ok_;
  static std::string up_log_;
  int master_ = 0;
};
Lab* OpsLab::lab_ = nullptr;
bool OpsLab::up_ok_ = false;
std::string OpsLab::up_log_;

// --socket-group: members of the group may use the socket, as their primary group or as a
// supplementary one; everyone else is kept out. A real ControlServer, real clients dropped to
// nobody in forked children.
TEST(ControlSocketGroup, AdmitsGroupMembersOnly) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: setuid/setgroups in the clients";
  const group* daemon_group = ::getgrnam("daemon");
  const passwd* nobody = ::getpwnam("nobody");
  if (daemon_group == nullptr || nobody == nullptr) GTEST_SKIP() << "no group daemon or user nobody";
  const fs::path dir = "/run/xlb-ops-" + std::to_string(::getpid());
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  struct RemoveDir {
    fs::path dir;
    ~RemoveDir() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } remove_dir{dir};
  const auto path = (dir / "ctl.sock").string();
  boost::asio::io_context io;
  xlb::api::ControlServer server(io, {.path = path, .group = "daemon"});
  int calls = 0;
  server.add("touch", [&](const Json&) { return Json(++calls); });
  server.start();
  std::thread runner([&] { io.run(); });
  const std::string request = R"({"command":"touch","args":{}})" "\n";
  const gid_t member = daemon_group->gr_gid;
  const auto supplementary = raw_request_as(path, request, Peer{nobody->pw_uid, nobody->pw_gid, {member}});
  const auto primary = raw_request_as(path, request, Peer{nobody->pw_uid, member, {}});
  const auto outsider = raw_request_as(path, request, Peer{nobody->pw_uid, nobody->pw_gid, {}});
  io.stop();
  runner.join();
  EXPECT_TRUE(Json::parse(supplementary, nullptr, false).value("ok", false)) << supplementary;
  EXPECT_TRUE(Json::parse(primary, nullptr, false).value("ok", false)) << primary;
  EXPECT_EQ(outsider, "connect refused");
  EXPECT_EQ(calls, 2);
}

TEST_F(OpsLab, StatusListFlowsPersistDump) {
  const auto status = lab_->ctl(master_, "status");
  EXPECT_EQ(status.status, 0) << status.out;
  EXPECT_NE(status.out.find("VI_1"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("MASTER"), std::string::npos) << status.out;
  const auto status_json = lab_->ctl_json(master_, "status");
  EXPECT_FALSE(status_json.is_null());
  // The flag after the subcommand, as users type it.
  const auto after = lab_->ctl(master_, "status --json");
  EXPECT_EQ(after.status, 0) << after.out;
  const auto after_json = Json::parse(after.out, nullptr, false);
  EXPECT_TRUE(after_json.is_object() && after_json.contains("instances")) << after.out;

  const auto counts = lab_->requests(20);
  int answered = 0;
  for (const auto& [name, n] : counts) answered += name == "rs1" || name == "rs2" ? n : 0;
  EXPECT_EQ(answered, 20);

  const auto list = lab_->ctl(master_, "list");
  EXPECT_EQ(list.status, 0) << list.out;
  EXPECT_NE(list.out.find("Prot LocalAddress:Port Scheduler Flags"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(std::string("TCP  ") + kVip + ":80 wrr"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(std::string("-> ") + kRs1), std::string::npos) << list.out;
  const auto stats = lab_->ctl(master_, "list --stats");
  EXPECT_EQ(stats.status, 0);
  EXPECT_NE(stats.out.find("Conns"), std::string::npos) << stats.out;
  EXPECT_NE(stats.out.find("InPkts"), std::string::npos) << stats.out;
  const auto rate = lab_->ctl(master_, "list --rate");
  EXPECT_EQ(rate.status, 0);
  EXPECT_NE(rate.out.find("CPS"), std::string::npos) << rate.out;

  const auto flows = lab_->ctl_json(master_, std::string("flows ") + kVip);
  ASSERT_TRUE(flows.is_array()) << lab_->ctl(master_, "flows").out;
  EXPECT_GE(flows.size(), 20u);
  const auto none = lab_->ctl_json(master_, "flows --client 198.18.0.99");
  ASSERT_TRUE(none.is_array());
  EXPECT_EQ(none.size(), 0u);
  const auto flows_text = lab_->ctl(master_, "flows");
  EXPECT_NE(flows_text.out.find("198.18.0.10"), std::string::npos) << flows_text.out;

  const auto dump = lab_->ctl_json(master_, "dump");
  ASSERT_TRUE(dump.is_object()) << lab_->ctl(master_, "dump").out;
  EXPECT_GE(dump.size(), 3u) << dump.dump();
  std::printf("[ figure ] dump keys:");
  for (const auto& [k, v] : dump.items()) std::printf(" %s", k.c_str());
  std::printf("\n");
}

TEST_F(OpsLab, Sigusr1WritesTheStateAsJson) {
  // The lab starts xlbd with --dump-file under its own state directory.
  const fs::path file = lab_->state() + "/xlbd-lb" + std::to_string(master_) + ".json";
  fs::remove(file);
  ASSERT_EQ(::kill(lab_->xlbd_pid(master_), SIGUSR1), 0);
  const bool written = wait_for([&] { return fs::exists(file) && fs::file_size(file) > 2; }, kPatience).has_value();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::ifstream in(file);
  const auto doc = Json::parse(in, nullptr, false);
  fs::remove(file);
  ASSERT_TRUE(written);
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc.size(), lab_->ctl_json(master_, "dump").size());
}

TEST_F(OpsLab, BadRequestsGetAnErrorAndChangeNothing) {
  const auto before = lab_->ctl_json(master_, "list");
  ASSERT_TRUE(before.is_array());
  const auto sock = lab_->socket(master_);
  auto is_error = [](const std::string& reply) {
    const auto j = Json::parse(reply, nullptr, false);
    return j.is_object() && !j.value("ok", true) && j.contains("error");
  };
  const auto malformed = raw_request(sock, "{\"command\": \"weight\", \"args\": {\"real\": \n");
  EXPECT_TRUE(is_error(malformed)) << malformed;
  const auto unknown = raw_request(sock, R"({"command":"format_disk","args":{}})" "\n");
  EXPECT_TRUE(is_error(unknown)) << unknown;
  const auto bad_args = raw_request(sock, R"({"command":"weight","args":{"real":"198.18.0.11:80","weight":"x"}})" "\n");
  EXPECT_TRUE(is_error(bad_args)) << bad_args;
  // Out of the configuration's range (0-65535): JSON -1, 1e300 and 2^32+1 once became 4294967295, 0 and 1.
  for (const char* w : {"-1", "1e300", "4294967297", "65536", "1.5"}) {
    const auto out_of_range = raw_request(
        sock, std::string(R"({"command":"weight","args":{"real":"198.18.0.11:80","weight":)") + w + "}}\n");
    EXPECT_TRUE(is_error(out_of_range)) << w << ": " << out_of_range;
    EXPECT_NE(out_of_range.find("weight must be a whole number from 0 to 65535"), std::string::npos) << out_of_range;
  }
  const auto no_real = raw_request(sock, R"({"command":"weight","args":{"real":"198.18.0.77:80","weight":0}})" "\n");
  EXPECT_TRUE(is_error(no_real)) << no_real;
  // An oversized line (a weight change hidden in 100 kB): an error, or the connection closed.
  std::string big = R"({"command":"weight","args":{"real":"198.18.0.11:80","weight":0,"pad":")" +
                    std::string(100000, 'a') + "\"}}\n";
  const auto oversized = raw_request(sock, big);
  EXPECT_TRUE(oversized.empty() || is_error(oversized)) << oversized.substr(0, 200);
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  const auto unprivileged =
      raw_request(sock, R"({"command":"weight","args":{"real":"198.18.0.11:80","weight":0}})" "\n", nobody->pw_uid);
  EXPECT_TRUE(unprivileged == "connect refused" || unprivileged.empty() || is_error(unprivileged)) << unprivileged;
  // The daemon still answers, and nothing changed.
  EXPECT_EQ(lab_->ctl_json(master_, "list"), before);
  const auto fine = raw_request(sock, R"({"command":"status","args":{}})" "\n");
  EXPECT_TRUE(Json::parse(fine, nullptr, false).value("ok", false)) << fine;
}

TEST_F(OpsLab, DrainSurvivesReloadUndrainAndWeight) {
  ASSERT_EQ(lab_->ctl(master_, std::string("drain ") + kRs1).status, 0);
  auto counts = lab_->requests(12);
  EXPECT_EQ(counts.count("rs1"), 0u) << "a drained real got new flows";
  EXPECT_EQ(counts.count("rs2") ? counts.at("rs2") : 0, 12);
  EXPECT_NE(lab_->ctl(master_, "list").out.find("drained"), std::string::npos) << lab_->ctl(master_, "list").out;

  const auto reload = lab_->ctl(master_, "reload");
  EXPECT_EQ(reload.status, 0) << reload.out;
  counts = lab_->requests(12);
  EXPECT_EQ(counts.count("rs1"), 0u) << "the reload undid the drain";
  EXPECT_NE(lab_->ctl(master_, "list").out.find("drained"), std::string::npos);

  ASSERT_EQ(lab_->ctl(master_, std::string("undrain ") + kRs1).status, 0);
  EXPECT_TRUE(wait_for([&] { return lab_->requests(6).count("rs1") > 0; }, kPatience)) << "rs1 never came back";

  ASSERT_EQ(lab_->ctl(master_, std::string("weight ") + kRs2 + " 7").status, 0);
  const auto rs2 = real_entry(*lab_, master_, kRs2);
  ASSERT_TRUE(rs2.has_value());
  EXPECT_EQ(rs2->value("weight", 0), 7) << rs2->dump();
  EXPECT_NE(lab_->ctl(master_, "weight 198.18.0.77:80 3").status, 0);
  ASSERT_EQ(lab_->ctl(master_, std::string("undrain ") + kRs2).status, 0);
  EXPECT_EQ(real_entry(*lab_, master_, kRs2)->value("weight", 0), 1);
}

TEST_F(OpsLab, MetricsPassPromtool) {
  if (run("command -v promtool").status != 0) GTEST_SKIP() << "promtool missing (Debian package prometheus)";
  const std::string page_file = lab_->state() + "/metrics.txt";
  const auto fetch = run("ip netns exec " + lab_->ns(master_) + " curl -sf http://127.0.0.1:9780/metrics -o " + page_file);
  ASSERT_EQ(fetch.status, 0) << fetch.out;
  const auto check = run("promtool check metrics < " + page_file);
  EXPECT_EQ(check.status, 0) << check.out;
  EXPECT_EQ(check.out, "") << check.out;
  std::ifstream in(page_file);
  const std::string page((std::istreambuf_iterator<char>(in)), {});
  for (const char* name : {"xlb_up 1", "xlb_vip_packets_total{", "xlb_real_new_flows_total{", "xlb_real_up{",
                           "xlb_vrrp_state{", "xlb_dataplane_packets_total{", "xlb_map_entries{",
                           "xlb_map_max_entries{"}) {
    EXPECT_NE(page.find(name), std::string::npos) << name;
  }
  std::size_t families = 0;
  for (std::size_t p = 0; (p = page.find("# TYPE ", p)) != std::string::npos; ++p) ++families;
  std::printf("[ figure ] metrics page: %zu families, %zu bytes\n", families, page.size());
}

TEST_F(OpsLab, PrometheusScrapesXlbd) {
  if (run("command -v prometheus").status != 0) GTEST_SKIP() << "prometheus missing (Debian package prometheus)";
  const std::string dir = lab_->state() + "/prometheus";
  fs::create_directories(dir + "/data");
  std::ofstream(dir + "/prometheus.yml") << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                         << "scrape_configs:\n  - job_name: xlbd\n    static_configs:\n"
                                         << "      - targets: ['127.0.0.1:9780']\n";
  // Inside the LB's namespace: its loopback is private, so port 9090 is free there.
  const auto started = run("ip netns exec " + lab_->ns(master_) + " prometheus --config.file=" + dir +
                           "/prometheus.yml --storage.tsdb.path=" + dir + "/data --web.listen-address=127.0.0.1:9090 >" +
                           dir + "/log 2>&1 & echo $!");
  const int pid = std::atoi(started.out.c_str());
  ASSERT_GT(pid, 0) << started.out;
  struct Killer {
    int pid;
    ~Killer() {
      ::kill(pid, SIGTERM);
      for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      ::kill(pid, SIGKILL);
    }
  } killer{pid};
  std::string last;
  const auto t0 = Clock::now();
  const bool seen = wait_for(
      [&] {
        last = run("ip netns exec " + lab_->ns(master_) +
                   " curl -sf 'http://127.0.0.1:9090/api/v1/query?query=xlb_up'").out;
        const auto j = Json::parse(last, nullptr, false);
        return j.is_object() && j.value("status", "") == "success" && !j["data"]["result"].empty() &&
               j["data"]["result"][0]["value"][1] == "1";
      },
      std::chrono::milliseconds(60000)).has_value();
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  std::ifstream log(dir + "/log");
  ASSERT_TRUE(seen) << last << "\n" << std::string(std::istreambuf_iterator<char>(log), {});
  std::printf("[ figure ] xlb_up visible in Prometheus after %.1f s\n", took);
  const auto targets = run("ip netns exec " + lab_->ns(master_) + " curl -sf http://127.0.0.1:9090/api/v1/targets").out;
  EXPECT_NE(targets.find("\"health\":\"up\""), std::string::npos) << targets;
}

TEST_F(OpsLab, BpftoolShowsNamedFieldsOnEveryMap) {
  lab_->requests(5);
  std::map<std::string, std::string> expect = {{"vips", "\"vip_id\""},   {"reals", "\"dst_mac\""},
                                               {"ring", "\"real_id\""},  {"flows", "\"real_id\""},
                                               {"vip_stats", "\"packets\""}, {"settings", "\"abi_version\""}};
  std::size_t maps = 0;
  std::vector<std::string> devmaps;
  std::vector<std::string> ringbufs;
  for (const auto& e : fs::directory_iterator(lab_->pin_dir(master_))) {
    if (!e.is_regular_file()) continue;
    const auto name = e.path().filename().string();
    const auto info = run("bpftool map show pinned " + e.path().string() + " -j").out;
    const auto type = Json::parse(info, nullptr, false).value("type", "");
    // The kernel refuses BTF for device maps (map_check_no_btf): tx_ports (ifindex -> ifindex)
    // dumps as raw bytes whatever the BPF source declares.
    if (type == "devmap" || type == "devmap_hash") {
      devmaps.push_back(name);
      continue;
    }
    // A ring buffer (capture_ring, issue 31) has no keys or values to dump: its records are read
    // by `xlbctl capture`, whose format test checks their fields.
    if (type == "ringbuf") {
      ringbufs.push_back(name);
      continue;
    }
    ++maps;
    // The ring holds max_vips * 2 halves of 16-id elements (131,072 elements by default): one
    // element says enough.
    const auto dump = name == "ring" ? run("bpftool map lookup pinned " + e.path().string() + " key 0 0 0 0 -j")
                                     : run("bpftool map dump pinned " + e.path().string() + " -j");
    ASSERT_EQ(dump.status, 0) << name << ": " << dump.out;
    auto j = Json::parse(dump.out, nullptr, false);
    if (j.is_object()) j = Json::array({j});  // a single lookup
    ASSERT_TRUE(j.is_array()) << name << ": " << dump.out.substr(0, 300);
    if (!j.empty()) {
      EXPECT_TRUE(j[0].contains("formatted")) << name << " has no BTF: " << j[0].dump();
    }
    if (expect.count(name)) {
      EXPECT_NE(dump.out.find(expect[name]), std::string::npos) << name << ": " << dump.out.substr(0, 300);
      expect.erase(name);
    }
  }
  EXPECT_TRUE(expect.empty()) << "maps not pinned: " << expect.begin()->first;
  std::printf("[ figure ] %zu pinned maps dumped with BTF field names; %zu device map(s) without BTF, %zu ring "
              "buffer(s)\n",
              maps, devmaps.size(), ringbufs.size());
}

// Puts lb N's plain configuration back and reloads it when a test that changed it ends, also
// when the test fails.
struct PlainConfigAfterwards {
  const Lab* lab;
  int node;
  ~PlainConfigAfterwards() {
    lab->cmd("conf", std::to_string(node));
    lab->ctl(node, "reload");
  }
};

// A truncated (here empty) file would stop every service and give up the VIP: a reload, by
// xlbctl or by SIGHUP, refuses it unless asked (xlbctl reload --allow-empty).
TEST_F(OpsLab, EmptyReloadIsRefusedUnlessAllowed) {
  const auto node = std::to_string(master_);
  const PlainConfigAfterwards restore{lab_, master_};
  std::ofstream(lab_->state() + "/lb" + node + ".conf", std::ios::trunc).flush();
  const auto refused = lab_->ctl(master_, "reload");
  EXPECT_NE(refused.status, 0) << refused.out;
  EXPECT_NE(refused.out.find("no virtual_server and no vrrp_instance left"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("--allow-empty"), std::string::npos) << refused.out;
  ASSERT_EQ(::kill(lab_->xlbd_pid(master_), SIGHUP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto status = lab_->ctl_json(master_, "status");
  ASSERT_TRUE(status.is_object()) << "xlbd did not answer";
  EXPECT_EQ(status["instances"][0]["state"], "MASTER") << status.dump();
  const auto counts = lab_->requests(6);
  int answered = 0;
  for (const auto& [name, n] : counts) answered += name == "rs1" || name == "rs2" ? n : 0;
  EXPECT_EQ(answered, 6) << "the service did not survive the refused reloads";
}

// xlbd's resident memory, from /proc.
long rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// A large file on SIGHUP is read on a worker thread: the master keeps advertising, so the
// backup never takes over, and xlbctl answers throughout. The file ends in an error, so the
// reload is refused after the whole parse, and the memory it took goes back to the system.
TEST_F(OpsLab, LargeReloadKeepsAdvertsAndGivesMemoryBack) {
  const int backup = master_ == 1 ? 2 : 1;
  const auto node = std::to_string(master_);
  const PlainConfigAfterwards restore{lab_, master_};
  const std::string conf = lab_->state() + "/lb" + node + ".conf";
  {
    std::ofstream out(conf, std::ios::app);
    for (int i = 0; i < 100000; ++i) {
      out << "virtual_server 198." << 18 + i / 62500 << "." << i / 250 % 250 << "." << i % 250 + 1 << " 8080 {\n  lb_algo wrr\n  lb_kind DR\n"
          << "  real_server 198.18.0.11 8080 {\n    weight 1\n    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n}\n";
    }
    out << "virtual_server 198.19.255.1 8080 {\n  weigth 1\n}\n";
  }
  const int pid = lab_->xlbd_pid(master_);
  const long rss_before = rss_kib(pid);
  const auto refused_before = lab_->ctl_json(master_, "status").value("reloads_refused", 0);
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  int polls = 0;
  bool finished = false;
  for (const auto end = Clock::now() + std::chrono::seconds(120); Clock::now() < end && !finished; ++polls) {
    const auto status = lab_->ctl_json(master_, "status");
    ASSERT_TRUE(status.is_object()) << "xlbd did not answer during the reload";
    EXPECT_EQ(status["instances"][0]["state"], "MASTER") << status.dump();
    const auto peer = lab_->ctl_json(backup, "status");
    ASSERT_TRUE(peer.is_object());
    EXPECT_EQ(peer["instances"][0]["state"], "BACKUP") << "the backup took over during the reload: " << peer.dump();
    finished = status.value("reloads_refused", 0) > refused_before;
    if (!finished) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(finished) << "the reload did not end";
  EXPECT_GT(polls, 1) << "the reload ended before the first poll: the file is too small to show anything";
  const auto status = lab_->ctl_json(master_, "status");
  const auto errors = status["last_reload_errors"].dump();
  EXPECT_NE(errors.find("weigth"), std::string::npos) << errors.substr(0, 2000);
  const long rss_after = rss_kib(pid);
  EXPECT_LT(rss_after, rss_before + 64 * 1024) << "a refused 100,000-service file left " << rss_after - rss_before
                                                << " KiB behind";
  const auto counts = lab_->requests(6);
  int answered = 0;
  for (const auto& [name, n] : counts) answered += name == "rs1" || name == "rs2" ? n : 0;
  EXPECT_EQ(answered, 6) << "the service did not survive the refused reload";
}

// ipvsadm's columns: a connection the client keeps open is ActiveConn, the closed ones are
// InActConn; both show right after the traffic, not one census (5 s) later.
TEST_F(OpsLab, ListCountsOpenConnectionsActiveAndClosedOnesInactive) {
  auto sums = [&] {
    std::pair<std::uint64_t, std::uint64_t> out{0, 0};
    for (const auto& svc : lab_->ctl_json(master_, "list"))
      for (const auto& r : svc["reals"]) {
        out.first += r.value("active_conns", std::uint64_t{0});
        out.second += r.value("inactive_conns", std::uint64_t{0});
      }
    return out;
  };
  const auto before = sums();
  const auto counts = lab_->requests(20);
  int answered = 0;
  for (const auto& [name, n] : counts) answered += n;
  ASSERT_EQ(answered, 20);
  // One connection held open with a request half sent, for 20 s.
  const std::string client_ns = "xlb-cl-" + lab_->ns(1).substr(std::string("xlb-lb1-").size());
  ASSERT_EQ(run("ip netns exec " + client_ns + " python3 -c \"import socket,time; s=socket.create_connection(('" +
                std::string(kVip) + "',80)); s.send(b'GET / HTTP/1.1\\r\\n'); time.sleep(20)\" >/dev/null 2>&1 &")
                .status,
            0);
  // `list` counts afresh when its count is over a second old and cheap; a loaded machine may
  // make it wait for the census (5 s).
  auto after = sums();
  for (const auto end = Clock::now() + std::chrono::seconds(12); after.first == 0 && Clock::now() < end;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    after = sums();
  }
  EXPECT_GE(after.second, before.second + 20) << "the closed connections are not InActConn";
  EXPECT_GE(after.first, 1u) << "the open connection is not ActiveConn";
  EXPECT_LE(after.first, before.first + 1) << "closed connections counted as active";
}

TEST_F(OpsLab, PersistListsThePersistenceTable) {
  const auto node = std::to_string(master_);
  ASSERT_EQ(lab_->cmd("conf", node + " persist").status, 0);
  const PlainConfigAfterwards restore{lab_, master_};
  const auto reload = lab_->ctl(master_, "reload");
  ASSERT_EQ(reload.status, 0) << reload.out;
  const auto counts = lab_->requests(5);
  ASSERT_EQ(counts.size(), 1u) << "persistence: one client, one real";
  const std::string real = counts.begin()->first == "rs1" ? "198.18.0.11" : "198.18.0.12";
  const auto r = lab_->ctl(master_, "--pin-dir " + lab_->pin_dir(master_) + " --json persist");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto entries = Json::parse(r.out, nullptr, false);
  ASSERT_TRUE(entries.is_array()) << r.out;
  ASSERT_EQ(entries.size(), 1u) << r.out;
  EXPECT_EQ(entries[0].value("client", ""), "198.18.0.10");
  EXPECT_EQ(entries[0].value("vip", ""), kVip);
  EXPECT_EQ(entries[0].value("vip_port", 0), 80);
  EXPECT_EQ(entries[0].value("real", ""), real);
  EXPECT_GE(entries[0].value("idle", -1.0), 0.0);
  const auto text = lab_->ctl(master_, "--pin-dir " + lab_->pin_dir(master_) + " persist");
  EXPECT_NE(text.out.find(real), std::string::npos) << text.out;
}

// Last: stops lb2's xlbd, then lists its services from the pinned maps.
TEST_F(OpsLab, ZzListReadsPinnedMapsWithoutXlbd) {
  const int node = master_ == 1 ? 2 : 1;
  ASSERT_EQ(lab_->cmd("lb-kill", std::to_string(node) + " TERM").status, 0);
  const auto r = run(binary_dir() + "/tools/xlbctl/xlbctl -s " + lab_->socket(node) + " --pin-dir " +
                     lab_->pin_dir(node) + " list --stats");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("reading pinned maps"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::string(kVip) + ":80"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("198.18.0.11:80"), std::string::npos) << r.out;
  const auto persist = run(binary_dir() + "/tools/xlbctl/xlbctl -s " + lab_->socket(node) + " --pin-dir " +
                           lab_->pin_dir(node) + " --json persist");
  EXPECT_EQ(persist.status, 0) << persist.out;
  EXPECT_NE(persist.out.find("reading pinned maps"), std::string::npos) << persist.out;
}

}  // namespace
