// IPv6 through xlbd end to end: the lab of tools/lab/xlb-lab6.sh (client, balancer, rs1, rs2 and
// a sorry server on 2001:db8:7::/64, real HTTP servers that answer with their names), xlbd
// started on a keepalived-dialect configuration, real connections from the client, xlbctl and
// bpftool reading what xlbd wrote. The lab carries a per-run suffix and the fixture removes it
// (namespaces, processes by pid, the bpffs) also when a test fails.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/shell.hpp"

namespace {

using xlb::test::binary_dir;
using xlb::test::run;
using xlb::test::Run;
using xlb::test::source_dir;
using xlb::test::wait_for;
using Json = nlohmann::json;

constexpr const char* kVip = "2001:db8:7::100";
constexpr const char* kRs1 = "2001:db8:7::21";
constexpr const char* kRs2 = "2001:db8:7::22";
constexpr const char* kVip4 = "198.18.7.100";
constexpr const char* kRs1v4 = "198.18.7.21";
constexpr const char* kRs2v4 = "198.18.7.22";
// Six client addresses in one /64: consecutive wrr picks on one CPU over six connections give
// both reals, so only persistence_granularity 64 keeps them together.
constexpr const char* kSixSources =
    "2001:db8:7::10,2001:db8:7::11,2001:db8:7::12,2001:db8:7::13,2001:db8:7::14,2001:db8:7::15";
constexpr std::chrono::milliseconds kPatience{15000};

std::map<std::string, int> parse_counts(const std::string& text) {
  std::map<std::string, int> out;
  std::istringstream in(text);
  std::string name;
  int count = 0;
  while (in >> name >> count) out[name] = count;
  return out;
}

std::string describe(const std::map<std::string, int>& counts) {
  std::string out;
  for (const auto& [name, n] : counts) out += " " + name + "=" + std::to_string(n);
  return out;
}

int count_of(const std::map<std::string, int>& counts, const std::string& name) {
  const auto it = counts.find(name);
  return it == counts.end() ? 0 : it->second;
}

class Lab6 {
 public:
  Lab6() : script_(source_dir() + "/tools/lab/xlb-lab6.sh") {
    std::ostringstream s;
    s << "v" << std::hex << (::getpid() & 0xfffffff);
    suffix_ = s.str().substr(0, 8);
    state_ = "/run/xlb-lab6-" + suffix_;
  }
  ~Lab6() { down(); }
  Lab6(const Lab6&) = delete;
  Lab6& operator=(const Lab6&) = delete;

  Run up() { return run(script_ + " up " + suffix_ + " " + binary_dir()); }
  void down() { run(script_ + " down " + suffix_); }
  Run cmd(const std::string& sub, const std::string& args = "") const {
    return run(script_ + " " + sub + " " + suffix_ + (args.empty() ? "" : " " + args));
  }
  std::map<std::string, int> requests(int n, const std::string& sources = "") const {
    return parse_counts(cmd("requests", std::to_string(n) + (sources.empty() ? "" : " " + sources)).out);
  }
  Json services() const {
    const auto r = cmd("ctl", "--json list");
    return r.status == 0 ? Json::parse(r.out, nullptr, false) : Json();
  }
  Json real(const std::string& address) const {
    const auto svc = services();
    if (!svc.is_array() || svc.empty()) return Json();
    for (const auto& r : svc[0]["reals"]) {
      if (r["address"] == address) return r;
    }
    return Json();
  }
  std::string health(const std::string& address) const {
    const auto r = real(address);
    return r.is_object() ? r["health"].get<std::string>() : "";
  }
  std::string ns(const std::string& role) const { return "xlb6-" + role + "-" + suffix_; }
  std::string in(const std::string& role, const std::string& command) const {
    return run("ip netns exec " + ns(role) + " " + command).out;
  }
  // eth0's MAC in a namespace, as `ip -j link` reports it.
  std::string mac_of(const std::string& role) const {
    const auto links = Json::parse(run("ip -n " + ns(role) + " -j link show eth0").out, nullptr, false);
    return links.is_array() && !links.empty() ? links[0]["address"].get<std::string>() : "";
  }
  // The pinned "reals" map's entry for `address` (its key is the real's id), as bpftool prints
  // it with the field names from BTF; null when there is none.
  Json real_entry(const std::string& address) const {
    const auto dump = Json::parse(run("bpftool -j map dump pinned " + state_ + "/bpf/lb/reals").out, nullptr, false);
    const bool v6 = address.find(':') != std::string::npos;
    unsigned char want[16] = {};
    if (!dump.is_array() || ::inet_pton(v6 ? AF_INET6 : AF_INET, address.c_str(), want) != 1) return Json();
    for (const auto& entry : dump) {
      const auto& v = entry["formatted"]["value"];
      if (!v.is_object() || v["family"].get<int>() != (v6 ? 6 : 4)) continue;
      // addr[] holds network-order words (one for IPv4); bpftool prints each as a host-order number.
      unsigned char got[16] = {};
      for (int i = 0; i < (v6 ? 4 : 1); ++i) {
        const auto word = v["addr"][i].get<std::uint32_t>();
        std::memcpy(got + 4 * i, &word, 4);
      }
      if (std::memcmp(got, want, v6 ? 16 : 4) == 0) return entry["formatted"];
    }
    return Json();
  }
  // The destination MAC that xlbd wrote for `address`.
  std::string mapped_mac(const std::string& address) const {
    const auto entry = real_entry(address);
    if (!entry.is_object()) return "";
    const auto& m = entry["value"]["dst_mac"];
    char mac[18];
    std::snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0].get<int>(), m[1].get<int>(),
                  m[2].get<int>(), m[3].get<int>(), m[4].get<int>(), m[5].get<int>());
    return mac;
  }
  // New flows the dataplane scheduled to `address`, per CPU (the per-CPU real_stats map).
  std::vector<std::int64_t> new_flows_per_cpu(const std::string& address) const {
    std::vector<std::int64_t> out;
    const auto entry = real_entry(address);
    if (!entry.is_object()) return out;
    const auto id = entry["key"].get<unsigned>();
    const auto stats = Json::parse(run("bpftool -j map lookup pinned " + state_ + "/bpf/lb/real_stats key " +
                                       std::to_string(id & 0xff) + " " + std::to_string((id >> 8) & 0xff) + " " +
                                       std::to_string((id >> 16) & 0xff) + " " + std::to_string(id >> 24))
                                       .out,
                                   nullptr, false);
    if (!stats.is_object()) return out;
    for (const auto& cpu : stats["formatted"]["values"]) out.push_back(cpu["value"]["new_flows"].get<std::int64_t>());
    return out;
  }
  std::string log() const {
    std::ifstream in(state_ + "/xlbd.log");
    std::deque<std::string> lines;
    for (std::string line; std::getline(in, line);) {
      lines.push_back(std::move(line));
      if (lines.size() > 40) lines.pop_front();
    }
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
  const std::string& state() const { return state_; }

 private:
  std::string script_;
  std::string suffix_;
  std::string state_;
};

class Ipv6Lab : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    lab_ = std::make_unique<Lab6>();
    const auto r = lab_->up();
    up_ok_ = r.status == 0;
    if (!up_ok_) up_log_ = r.out + "\n--- xlbd:\n" + lab_->log();
  }
  static void TearDownTestSuite() { lab_.reset(); }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: network namespaces, XDP, bpffs";
    ASSERT_TRUE(up_ok_) << "the IPv6 lab did not come up:\n" << up_log_;
    // Every test starts from both reals serving and up in xlbd's view.
    ASSERT_TRUE(wait_for([] { return lab_->health(kRs1) == "up" && lab_->health(kRs2) == "up"; }, kPatience))
        << lab_->services().dump();
  }
  void TearDown() override {
    if (HasFailure() && lab_) std::printf("last lines of xlbd's log:\n%s", lab_->log().c_str());
  }
  // N new connections, answered rs1 and rs2 in the wrr sequence's exact shares. XDP runs on
  // the CPU that receives a frame and each CPU walks the sequence (rs1 rs2 rs1) from its own
  // position: the client is pinned to one CPU, and when the kernel still handles a SYN on the
  // other one (the receiving NAPI was already running there), the per-CPU counters say so. On
  // every CPU, its n_c new flows hold rs1 floor or ceil of 2 n_c / 3 times, exactly.
  static std::map<std::string, int> two_to_one(int n, const std::string& sources = "", const char* rs1 = kRs1,
                                               const char* rs2 = kRs2) {
    const auto rs1_before = lab_->new_flows_per_cpu(rs1);
    const auto rs2_before = lab_->new_flows_per_cpu(rs2);
    const auto counts = lab_->requests(n, sources);
    const auto rs1_after = lab_->new_flows_per_cpu(rs1);
    const auto rs2_after = lab_->new_flows_per_cpu(rs2);
    EXPECT_EQ(count_of(counts, "rs1") + count_of(counts, "rs2"), n) << describe(counts);
    const std::size_t cpus = rs1_after.size();
    EXPECT_TRUE(cpus > 0 && rs1_before.size() == cpus && rs2_before.size() == cpus && rs2_after.size() == cpus);
    if (::testing::Test::HasFailure() || cpus == 0) return counts;
    std::int64_t sum1 = 0, sum2 = 0;
    std::string per_cpu;
    for (std::size_t c = 0; c < cpus; ++c) {
      const auto d1 = rs1_after[c] - rs1_before[c];
      const auto d2 = rs2_after[c] - rs2_before[c];
      sum1 += d1;
      sum2 += d2;
      if (d1 + d2 == 0) continue;
      per_cpu += " cpu" + std::to_string(c) + ": " + std::to_string(d1) + ":" + std::to_string(d2);
      EXPECT_LE(std::abs(3 * d1 - 2 * (d1 + d2)), 2) << "cpu " << c << " sent " << d1 << " to rs1, " << d2 << " to rs2";
    }
    // The dataplane's counts are the answers the client got.
    EXPECT_EQ(sum1, count_of(counts, "rs1"));
    EXPECT_EQ(sum2, count_of(counts, "rs2"));
    if (sum1 != count_of(counts, "rs1") || sum2 != count_of(counts, "rs2")) {
      std::printf("client's connections:\n%s\nflows:\n%s\n",
                  run("tail -n " + std::to_string(n) + " " + lab_->state() + "/requests.log").out.c_str(),
                  lab_->cmd("ctl", "flows").out.c_str());
    }
    std::printf("%d connections:%s; new flows per CPU (rs1:rs2):%s\n", n, describe(counts).c_str(), per_cpu.c_str());
    return counts;
  }

  static std::unique_ptr<Lab6> lab_;
  static bool up_ok_;
  static std::string up_log_;
};

std::unique_ptr<Lab6> Ipv6Lab::lab_;
bool Ipv6Lab::up_ok_ = false;
std::string Ipv6Lab::up_log_;

// issue 26: the service starts; before the fix, xlbd refused both reals ("not on a directly
// connected network") because the connected /64 has scope global.
TEST_F(Ipv6Lab, StartsWithBothIpv6RealsUp) {
  const auto svc = lab_->services();
  // The IPv6 service, and the IPv4 one that shares its reals (MixedFamiliesOnOneNode).
  ASSERT_TRUE(svc.is_array() && svc.size() == 2u) << svc.dump();
  EXPECT_EQ(svc[0]["address"], kVip);
  EXPECT_EQ(svc[0]["scheduler"], "wrr");
  EXPECT_EQ(lab_->real(kRs1)["weight"], 2);
  EXPECT_EQ(lab_->real(kRs2)["weight"], 1);
  // The listing a user reads.
  const auto listing = lab_->cmd("ctl", "list");
  EXPECT_NE(listing.out.find(std::string("[") + kVip + "]:80"), std::string::npos) << listing.out;
  EXPECT_NE(listing.out.find(std::string("[") + kRs1 + "]:80"), std::string::npos) << listing.out;
  EXPECT_EQ(lab_->log().find("directly connected"), std::string::npos) << lab_->log();
}

// `xlbd -t` in the balancer's namespace asks the same question as the start: the reals on the
// /64 pass; a real that a more specific route sends through a gateway is named, at its line.
TEST_F(Ipv6Lab, ConfigTestDecidesByTheLongestPrefix) {
  const auto xlbd = binary_dir() + "/ctrl/xlbd";
  const auto good = lab_->in("lb", xlbd + " -t -f " + lab_->state() + "/lb.conf 2>&1; echo exit=$?");
  EXPECT_NE(good.find("exit=0"), std::string::npos) << good;
  EXPECT_EQ(good.find("directly connected"), std::string::npos) << good;

  const auto conf = lab_->state() + "/gateway.conf";
  std::ofstream(conf) << "virtual_server 2001:db8:7::100 8080 {\n"
                         "    lb_algo wrr\n"
                         "    lb_kind DR\n"
                         "    real_server 2001:db8:7::21 8080 {\n"
                         "    }\n"
                         "    real_server 2001:db8:7::85 8080 {\n"
                         "    }\n"
                         "}\n";
  ASSERT_EQ(run("ip -n " + lab_->ns("lb") + " -6 route add 2001:db8:7::80/122 via " + kRs2).status, 0);
  const auto bad = lab_->in("lb", xlbd + " -t -f " + conf + " 2>&1");
  run("ip -n " + lab_->ns("lb") + " -6 route del 2001:db8:7::80/122");
  EXPECT_NE(bad.find(conf + ":6:5: warning: real server 2001:db8:7::85 is not on a directly connected network"),
            std::string::npos)
      << bad;
  EXPECT_EQ(bad.find("real server 2001:db8:7::21 is not"), std::string::npos) << bad;
}

TEST_F(Ipv6Lab, WrrSplitsNewConnectionsExactlyTwoToOne) {
  const auto before = lab_->services()[0]["stats"]["conns"].get<std::uint64_t>();
  const auto counts = two_to_one(30);
  RecordProperty("split", describe(counts));
  EXPECT_GE(lab_->services()[0]["stats"]["conns"].get<std::uint64_t>(), before + 30);
  // The reals kept quiet about the VIP on their lo: the client reaches it through the balancer.
  const auto neigh = run("ip -n " + lab_->ns("cl") + " -6 neigh show " + kVip).out;
  EXPECT_NE(neigh.find(lab_->mac_of("lb")), std::string::npos) << neigh;
  // Six source addresses, no persistence: every connection is scheduled on its own.
  two_to_one(30, kSixSources);
}

TEST_F(Ipv6Lab, PersistenceGranularityIsAnIpv6Prefix) {
  struct PlainConfigAfterwards {
    ~PlainConfigAfterwards() {
      lab_->cmd("conf");
      lab_->cmd("ctl", "reload");
    }
  } restore;
  ASSERT_EQ(lab_->cmd("conf", "persist").status, 0);
  const auto reload = lab_->cmd("ctl", "reload");
  ASSERT_EQ(reload.status, 0) << reload.out;
  ASSERT_TRUE(wait_for([] { return lab_->services()[0]["persistence"] == 50; }, kPatience));
  const auto svc = lab_->services();
  EXPECT_EQ(svc[0]["persistence_prefix"], 64);
  EXPECT_NE(lab_->cmd("ctl", "list").out.find("persistent 50 mask /64"), std::string::npos);
  // Six addresses of one /64, in turn: one client to persistence_granularity 64.
  const auto counts = lab_->requests(30, kSixSources);
  std::printf("30 connections from 6 addresses of one /64 with persistence_granularity 64:%s\n",
              describe(counts).c_str());
  ASSERT_EQ(counts.size(), 1u) << "one /64 went to several reals (or failed):" << describe(counts);
  EXPECT_TRUE(counts.count("rs1") || counts.count("rs2")) << describe(counts);
}

// TCP_CHECK over IPv6 drives the dataplane: rs1's server stopped, every new connection goes to
// rs2; restarted, the 2:1 split is back.
TEST_F(Ipv6Lab, HealthCheckMovesTrafficAndBringsItBack) {
  using Clock = std::chrono::steady_clock;
  const auto stopped = Clock::now();
  ASSERT_EQ(lab_->cmd("rs-stop", "rs1").status, 0);
  ASSERT_TRUE(wait_for([] { return lab_->health(kRs1) == "down"; }, kPatience)) << lab_->services().dump();
  std::printf("rs1 down in xlbd %.2f s after its server stopped\n",
              std::chrono::duration<double>(Clock::now() - stopped).count());
  EXPECT_EQ(lab_->real(kRs1)["weight"], 0);
  const auto down = lab_->requests(30);
  std::printf("rs1 down:%s\n", describe(down).c_str());
  EXPECT_EQ(count_of(down, "rs2"), 30) << describe(down);

  ASSERT_EQ(lab_->cmd("rs-start", "rs1").status, 0);
  const auto back = wait_for([] { return lab_->health(kRs1) == "up" && lab_->real(kRs1)["weight"] == 2; }, kPatience);
  ASSERT_TRUE(back) << "rs1 did not come back: " << lab_->services().dump();
  std::printf("rs1 back %.2f s after its server restarted\n", *back);
  two_to_one(30);
}

// The neighbour resolver over NDP: the reals map holds each real's MAC; when rs1's MAC changes
// (it announces the change with an unsolicited NA), xlbd writes the new one and rs1 keeps
// getting its share. Frames to the old MAC would reach nobody.
TEST_F(Ipv6Lab, NdpResolutionFillsAndFollowsTheRealsMac) {
  const auto rs1_mac = lab_->mac_of("rs1");
  ASSERT_FALSE(rs1_mac.empty());
  EXPECT_EQ(lab_->mapped_mac(kRs1), rs1_mac);
  EXPECT_EQ(lab_->mapped_mac(kRs2), lab_->mac_of("rs2"));

  const std::string changed = "02:00:5e:10:00:21";
  ASSERT_NE(changed, rs1_mac);
  ASSERT_EQ(run("ip -n " + lab_->ns("rs1") + " link set eth0 address " + changed).status, 0);
  const auto followed = wait_for([&] { return lab_->mapped_mac(kRs1) == changed; }, kPatience);
  ASSERT_TRUE(followed) << "the reals map still says " << lab_->mapped_mac(kRs1);
  std::printf("rs1's new MAC in the reals map %.2f s after the change\n", *followed);
  two_to_one(30);
}

TEST_F(Ipv6Lab, BothRealsDownSendsToTheIpv6SorryServer) {
  ASSERT_EQ(lab_->cmd("rs-stop", "rs1").status, 0);
  ASSERT_EQ(lab_->cmd("rs-stop", "rs2").status, 0);
  ASSERT_TRUE(wait_for([] { return lab_->health(kRs1) == "down" && lab_->health(kRs2) == "down"; }, kPatience));
  const auto counts = lab_->requests(30);
  std::printf("both reals down:%s\n", describe(counts).c_str());
  EXPECT_EQ(count_of(counts, "sorry"), 30) << describe(counts);
  ASSERT_EQ(lab_->cmd("rs-start", "rs1").status, 0);
  ASSERT_EQ(lab_->cmd("rs-start", "rs2").status, 0);
  ASSERT_TRUE(wait_for([] { return lab_->health(kRs1) == "up" && lab_->health(kRs2) == "up"; }, kPatience));
  ASSERT_TRUE(wait_for([] { return lab_->services()[0]["active"] == true; }, kPatience)) << lab_->services().dump();
  two_to_one(30);
}

// Both families on one node: an IPv4 service (198.18.7.100:80) over the same reals, in the
// same XDP program and maps, each split exactly 2:1 on its own, also when the connections of
// the two families alternate (each service walks its own wrr sequence).
TEST_F(Ipv6Lab, MixedFamiliesOnOneNode) {
  const auto svc = lab_->services();
  ASSERT_EQ(svc.size(), 2u) << svc.dump();
  EXPECT_EQ(svc[0]["address"], kVip);
  EXPECT_EQ(svc[1]["address"], kVip4);
  ASSERT_TRUE(wait_for(
      [] {
        const auto s = lab_->services();
        for (const auto& r : s[1]["reals"]) {
          if (r["health"] != "up") return false;
        }
        return true;
      },
      kPatience))
      << lab_->services().dump();
  const auto listing = lab_->cmd("ctl", "list").out;
  EXPECT_NE(listing.find(std::string(kVip4) + ":80"), std::string::npos) << listing;
  EXPECT_NE(listing.find(std::string(kRs1v4) + ":80"), std::string::npos) << listing;
  EXPECT_EQ(lab_->mapped_mac(kRs1v4), lab_->mac_of("rs1"));

  two_to_one(30, "198.18.7.10", kRs1v4, kRs2v4);
  two_to_one(30, "", kRs1, kRs2);
  // Alternating families: 15 connections each, 10:5 per family.
  const auto v4_before = std::make_pair(lab_->new_flows_per_cpu(kRs1v4), lab_->new_flows_per_cpu(kRs2v4));
  const auto v6_before = std::make_pair(lab_->new_flows_per_cpu(kRs1), lab_->new_flows_per_cpu(kRs2));
  const auto counts = lab_->requests(30, "2001:db8:7::10,198.18.7.10");
  std::printf("30 connections, families alternating:%s\n", describe(counts).c_str());
  EXPECT_EQ(count_of(counts, "rs1"), 20) << describe(counts);
  EXPECT_EQ(count_of(counts, "rs2"), 10) << describe(counts);
  const auto total = [](const std::vector<std::int64_t>& after, const std::vector<std::int64_t>& before) {
    std::int64_t n = 0;
    for (std::size_t c = 0; c < after.size() && c < before.size(); ++c) n += after[c] - before[c];
    return n;
  };
  EXPECT_EQ(total(lab_->new_flows_per_cpu(kRs1v4), v4_before.first), 10);
  EXPECT_EQ(total(lab_->new_flows_per_cpu(kRs2v4), v4_before.second), 5);
  EXPECT_EQ(total(lab_->new_flows_per_cpu(kRs1), v6_before.first), 10);
  EXPECT_EQ(total(lab_->new_flows_per_cpu(kRs2), v6_before.second), 5);
}

// ICMPv6 Packet Too Big about a flow, sent to the VIP as a router on the path would send it
// (quoting the real's reply: VIP:80 -> client:port), is forwarded by xlbd's program to the real
// that holds the flow, so that its path-MTU discovery works; the other real never sees it.
TEST_F(Ipv6Lab, PacketTooBigReachesTheFlowsReal) {
  const auto counts = lab_->requests(1);
  ASSERT_EQ(counts.size(), 1u) << describe(counts);
  std::string source, owner;
  int port = 0;
  {
    std::istringstream last(run("tail -n 1 " + lab_->state() + "/requests.log").out);
    last >> source >> port >> owner;
  }
  ASSERT_TRUE(port > 0 && (owner == "rs1" || owner == "rs2")) << source << " " << port << " " << owner;
  const std::string other = owner == "rs1" ? "rs2" : "rs1";
  // A capture on each real's eth0, for 4 s, of the first Packet Too Big (ICMPv6 type 2).
  const auto capture = [&](const std::string& real) { return lab_->state() + "/ptb-" + real + ".txt"; };
  for (const auto& real : {owner, other}) {
    run("(timeout 4 ip netns exec " + lab_->ns(real) + " tcpdump -lni eth0 -c 1 'icmp6 and ip6[40] == 2' >" +
        capture(real) + " 2>&1 &)");
  }
  for (const auto& real : {owner, other}) {
    ASSERT_TRUE(wait_for([&] { return run("cat " + capture(real)).out.find("listening on") != std::string::npos; },
                         std::chrono::milliseconds(3000)))
        << run("cat " + capture(real)).out;
  }
  const auto args = std::string(kVip) + " " + source + " " + std::to_string(port);
  const auto sent = lab_->in("cl", "python3 - " + args + R"( <<'EOF'
import socket, struct, sys
vip, client, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
# The real's reply as the router saw it: VIP:80 -> client:port, a bare ACK.
tcp = struct.pack("!HHIIBBHHH", 80, port, 1, 1, 5 << 4, 0x10, 65535, 0, 0)
inner = struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64)
inner += socket.inet_pton(socket.AF_INET6, vip) + socket.inet_pton(socket.AF_INET6, client) + tcp
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.bind((client, 0))
# Type 2 code 0, MTU 1280; the kernel fills in the checksum of a raw ICMPv6 socket.
s.sendto(struct.pack("!BBHI", 2, 0, 0, 1280) + inner, (vip, 0))
print("sent")
EOF
)");
  ASSERT_NE(sent.find("sent"), std::string::npos) << sent;
  const auto seen = [&](const std::string& real) {
    return run("cat " + capture(real)).out.find("packet too big") != std::string::npos;
  };
  EXPECT_TRUE(wait_for([&] { return seen(owner); }, std::chrono::milliseconds(3500)))
      << owner << " (the flow's real) did not receive it:\n" << run("cat " + capture(owner)).out;
  // Let the other capture run out before saying it saw nothing.
  wait_for([&] { return run("cat " + capture(other)).out.find("packets captured") != std::string::npos; },
           std::chrono::milliseconds(4500));
  EXPECT_FALSE(seen(other)) << other << " received a Packet Too Big about " << owner << "'s flow";
  std::printf("Packet Too Big about %s port %d: reached %s, not %s\n", source.c_str(), port, owner.c_str(),
              other.c_str());
}

// VRRP v3 over IPv6 through xlbd, keepalived 2.2.7 the peer in both roles. xlbd (priority 100)
// becomes master and holds the VIP deprecated, so its health checks still leave from its own
// address and the service keeps serving; SIGTERM hands the VIP to keepalived (a priority-0
// advert), whose unsolicited NA moves the client's neighbour entry; restarted, xlbd preempts
// and its own unsolicited NA moves the entry back. Last: it changes how the lab holds the VIP.
TEST_F(Ipv6Lab, VrrpV3OverIpv6WithKeepalivedInBothRoles) {
  if (run("command -v keepalived").status != 0) GTEST_SKIP() << "keepalived is not installed";
  using Clock = std::chrono::steady_clock;
  const auto vrrp = lab_->cmd("vrrp");
  ASSERT_EQ(vrrp.status, 0) << vrrp.out;
  const auto addrs = [](const std::string& role) {
    return run("ip -n " + lab_->ns(role) + " -6 addr show dev eth0").out;
  };
  const auto holds_vip = [&](const std::string& role) { return addrs(role).find(kVip) != std::string::npos; };
  const auto client_entry = [] { return run("ip -n " + lab_->ns("cl") + " -6 neigh show " + kVip).out; };
  const auto lb_mac = lab_->mac_of("lb");
  const auto ka_mac = lab_->mac_of("ka");
  ASSERT_FALSE(ka_mac.empty());

  const auto master = wait_for([&] { return holds_vip("lb"); }, kPatience);
  ASSERT_TRUE(master) << "xlbd did not take the VIP; its log:\n" << lab_->log();
  std::printf("xlbd master (VIP on eth0) %.2f s after its start\n", *master);
  EXPECT_FALSE(holds_vip("ka"));
  const auto lb_addrs = addrs("lb");
  const auto vip_line = lb_addrs.substr(lb_addrs.find(kVip));
  EXPECT_NE(vip_line.substr(0, vip_line.find('\n')).find("deprecated"), std::string::npos) << lb_addrs;
  ASSERT_TRUE(wait_for([] { return lab_->health(kRs1) == "up" && lab_->health(kRs2) == "up"; }, kPatience))
      << "health checks fail while xlbd holds the VIP: " << lab_->services().dump();
  // Checks keep passing while the VIP is on eth0: a VIP usable as a source address would take
  // them over (each real answers the VIP itself) within delay_loop + retry x delay_before_retry
  // + connect_timeout = 3 s.
  const auto check_lost = wait_for([] { return lab_->health(kRs1) != "up" || lab_->health(kRs2) != "up"; },
                                   std::chrono::milliseconds(4500));
  EXPECT_FALSE(check_lost) << "a real went down while xlbd held the VIP: " << lab_->services().dump();
  // The dataplane places new flows for the VIP once the master marked it active.
  ASSERT_TRUE(wait_for([] { return lab_->services()[0]["active"] == true; }, kPatience)) << lab_->services().dump();
  two_to_one(30);
  // The client's entry for the VIP, made by that traffic (it is what the NAs below must move).
  EXPECT_NE(client_entry().find(lb_mac), std::string::npos) << client_entry();

  const auto stopped = Clock::now();
  ASSERT_EQ(lab_->cmd("lb-stop").status, 0);
  const auto ka_master = wait_for([&] { return holds_vip("ka"); }, kPatience);
  ASSERT_TRUE(ka_master) << "keepalived did not take the VIP over";
  std::printf("keepalived master %.2f s after SIGTERM to xlbd\n",
              std::chrono::duration<double>(Clock::now() - stopped).count());
  EXPECT_FALSE(holds_vip("lb")) << "xlbd left the VIP behind on SIGTERM";
  EXPECT_TRUE(wait_for([&] { return client_entry().find(ka_mac) != std::string::npos; }, kPatience))
      << "keepalived's unsolicited NA did not move the client's entry: " << client_entry();

  const auto restarted = Clock::now();
  const auto start = lab_->cmd("lb-start");
  ASSERT_EQ(start.status, 0) << start.out;
  const auto back = wait_for([&] { return holds_vip("lb") && !holds_vip("ka"); }, kPatience);
  ASSERT_TRUE(back) << "xlbd did not preempt keepalived; its log:\n" << lab_->log();
  std::printf("xlbd master again %.2f s after its restart\n",
              std::chrono::duration<double>(Clock::now() - restarted).count());
  EXPECT_TRUE(wait_for([&] { return client_entry().find(lb_mac) != std::string::npos; }, kPatience))
      << "xlbd's unsolicited NA did not move the client's entry back: " << client_entry();
  ASSERT_TRUE(wait_for([] { return lab_->health(kRs1) == "up" && lab_->health(kRs2) == "up"; }, kPatience));
  ASSERT_TRUE(wait_for([] { return lab_->services()[0]["active"] == true; }, kPatience)) << lab_->services().dump();
  two_to_one(30);
}

// Flow sync over IPv6 between two xlbd: keepalived leaves, a second xlbd (lb2, priority 90)
// joins, both with `lvs_sync_daemon eth0 VI_6` (multicast ff02::81, HMAC key from a file). The
// flows the master places for 30 new connections appear in the backup's flow table, each with
// the real that answered it.
TEST_F(Ipv6Lab, FlowSyncOverIpv6ToTheBackup) {
  const auto sync = lab_->cmd("sync");
  ASSERT_EQ(sync.status, 0) << sync.out;
  const auto holds_vip = [](const std::string& role) {
    return run("ip -n " + lab_->ns(role) + " -6 addr show dev eth0").out.find(kVip) != std::string::npos;
  };
  ASSERT_TRUE(wait_for([&] { return holds_vip("lb") && !holds_vip("lb2"); }, kPatience)) << lab_->log();
  ASSERT_TRUE(wait_for([] { return lab_->health(kRs1) == "up" && lab_->health(kRs2) == "up"; }, kPatience));
  ASSERT_TRUE(wait_for([] { return lab_->services()[0]["active"] == true; }, kPatience)) << lab_->services().dump();
  two_to_one(30);
  // What the client saw: source port -> the real that answered.
  std::map<int, std::string> answered;
  {
    std::istringstream log(run("tail -n 30 " + lab_->state() + "/requests.log").out);
    std::string source, name;
    int port = 0;
    while (log >> source >> port >> name) answered[port] = name == "rs1" ? kRs1 : kRs2;
  }
  ASSERT_EQ(answered.size(), 30u);
  std::size_t matched = 0;
  std::string seen;
  const auto synced = wait_for(
      [&] {
        const auto r = lab_->cmd("ctl2", "--json flows");
        const auto flows = Json::parse(r.out, nullptr, false);
        if (!flows.is_array()) return false;
        matched = 0;
        for (const auto& f : flows) {
          const auto it = answered.find(f.value("client_port", 0));
          if (it != answered.end() && f["vip"] == kVip && f["real"] == it->second) ++matched;
        }
        seen = r.out;
        return matched == answered.size();
      },
      kPatience);
  ASSERT_TRUE(synced) << matched << " of 30 flows on the backup; its flows:\n" << seen.substr(0, 2000);
  std::printf("the backup holds all 30 flows, each with its real, %.2f s after the last request\n", *synced);
  EXPECT_NE(run("cat " + lab_->state() + "/xlbd2.log").out.find("flow sync: instance VI_6 on eth0"), std::string::npos);
}

}  // namespace
