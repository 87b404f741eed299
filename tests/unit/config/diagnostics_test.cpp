// One test per kind of problem, each with its exact GNU-form line; machine checks through the
// real LinuxSystemProbe; include limits and hostile input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "ctrl/config/config.hpp"

namespace fs = std::filesystem;
using namespace xlb::config;

namespace {

std::vector<std::string> lines(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& d : r.diagnostics) out.push_back(to_string(d));
  return out;
}

std::vector<std::string> check(std::string_view text, const Options& opt = {}) {
  return lines(load_string(text, "t.conf", opt));
}

using V = std::vector<std::string>;

TEST(Diagnostics, UnknownKeywordSuggestsTheNearestOne) {
  EXPECT_EQ(check("vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 1\n  notify_backupr \"/x.sh backup\"\n}\n"),
            V{"t.conf:4:3: error: unknown keyword 'notify_backupr' in vrrp_instance VI_1; did you mean 'notify_backup'?"});
  EXPECT_EQ(check("global_defs {\n  router_idd x\n  zzzz\n}\n"),
            (V{"t.conf:2:3: error: unknown keyword 'router_idd' in global_defs; did you mean 'router_id'?",
               "t.conf:3:3: error: unknown keyword 'zzzz' in global_defs"}));
  EXPECT_EQ(check("virtual_server 198.18.0.1 80 {\n real_server 198.18.1.1 80 {\n  http_get {\n  }\n }\n}\n"),
            V{"t.conf:3:3: error: unknown keyword 'http_get' in real_server 198.18.1.1 80; did you mean 'HTTP_GET'?"});
}

TEST(Diagnostics, SpaceForUnderscoreIsRecognised) {
  EXPECT_EQ(check("vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 1\n    unicast src_ip 10.1.1.2\n}\n"),
            V{"t.conf:4:5: error: unknown keyword 'unicast' in vrrp_instance VI_1; did you mean 'unicast_src_ip'?"});
}

TEST(Diagnostics, ValuesOutOfRange) {
  EXPECT_EQ(check("vrrp_instance A {\n interface eth0\n virtual_router_id 256\n priority 0\n}\n"),
            (V{"t.conf:3:20: error: virtual_router_id 256 is out of range (1-255)",
               "t.conf:4:11: error: priority 0 is out of range (1-255)"}));
}

TEST(Diagnostics, MissingRequiredValues) {
  EXPECT_EQ(check("vrrp_instance A {\n priority 10\n}\n"),
            (V{"t.conf:1:15: error: vrrp_instance A has no 'interface'",
               "t.conf:1:15: error: vrrp_instance A has no 'virtual_router_id'"}));
}

TEST(Diagnostics, AdvertIntDependsOnVersion) {
  EXPECT_EQ(check("vrrp_instance A {\n interface eth0\n virtual_router_id 1\n advert_int 0.5\n}\n"),
            V{"t.conf:4:2: error: advert_int 0.5 is out of range for VRRP version 2 (whole seconds 1-255)"});
  EXPECT_EQ(check("vrrp_instance A {\n interface eth0\n virtual_router_id 1\n advert_int 41\n version 3\n}\n"),
            V{"t.conf:4:2: error: advert_int 41 is out of range for VRRP version 3 (0.01-40.95 seconds)"});
  // The global version applies when the instance does not say.
  EXPECT_EQ(check("global_defs {\n vrrp_version 3\n}\nvrrp_instance A {\n interface eth0\n virtual_router_id 1\n advert_int 0.05\n}\n"), V{});
  EXPECT_EQ(check("vrrp_instance A {\n interface eth0\n virtual_router_id 1\n version 3\n advert_int 40.95\n}\n"), V{});
}

TEST(Diagnostics, WrongAddressFamily) {
  EXPECT_EQ(check("vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  2001:db8::1\n }\n}\n"),
            V{"t.conf:5:3: error: virtual_ipaddress 2001:db8::1 is IPv6; VRRP version 2 carries only IPv4 (use version 3)"});
  EXPECT_EQ(check("vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  198.18.0.1\n }\n"
                  " unicast_peer {\n  2001:db8::2\n }\n}\n"),
            V{"t.conf:8:3: error: unicast_peer 2001:db8::2 is IPv6 but vrrp_instance A is IPv4"});
}

TEST(Diagnostics, DuplicateVridAndVip) {
  EXPECT_EQ(check("vrrp_instance A {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n  198.18.0.1\n }\n}\n"
                  "vrrp_instance B {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n  198.18.0.1/24\n }\n}\n"),
            (V{"t.conf:10:2: error: virtual_router_id 7 on interface eth0 is already used by vrrp_instance A (t.conf:3:2)",
               "t.conf:12:3: error: virtual IP 198.18.0.1 is already configured in vrrp_instance A (t.conf:5:3)"}));
}

TEST(Diagnostics, NopreemptNeedsStateBackup) {
  EXPECT_EQ(check("vrrp_instance A {\n state MASTER\n interface eth0\n virtual_router_id 1\n nopreempt\n}\n"),
            V{"t.conf:5:2: error: nopreempt requires 'state BACKUP' (vrrp_instance A is MASTER)"});
}

TEST(Diagnostics, InvalidState) {
  EXPECT_EQ(check("vrrp_instance A {\n    state SLAVE\n    interface eth0\n    virtual_router_id 1\n}\n"),
            V{"t.conf:2:11: error: state 'SLAVE' is not valid (expected BACKUP or MASTER)"});
}

TEST(Diagnostics, UnicastWithVrrpStrict) {
  EXPECT_EQ(check("global_defs {\n vrrp_strict\n}\nvrrp_instance A {\n interface eth0\n virtual_router_id 1\n"
                  " unicast_peer {\n  198.18.0.2\n }\n}\n"),
            V{"t.conf:8:3: error: unicast_peer cannot be used with vrrp_strict (set at t.conf:2:2)"});
}

TEST(Diagnostics, NatAndGreTunnelsNeedIpvs) {
  EXPECT_EQ(check("global_defs {\n lb_backend xdp\n}\nvirtual_server 198.18.0.1 80 {\n lb_algo rr\n lb_kind NAT\n}\n"),
            V{"t.conf:6:2: error: lb_kind NAT is not supported by the XDP backend, which forwards DR and TUN; use lb_backend ipvs"});
  EXPECT_EQ(check("virtual_server 198.18.0.1 80 {\n lb_backend xdp\n lb_algo lc\n lb_kind TUN\n}\n"),
            (V{"t.conf:3:2: error: lb_algo lc is not supported by the XDP backend (rr, wrr, sh, mh); use lb_backend ipvs"}));
  EXPECT_EQ(check("virtual_server 198.18.0.1 80 {\n lb_backend xdp\n lb_algo rr\n lvs_method TUN type gre csum\n}\n"),
            (V{"t.conf:4:17: error: lb_kind TUN type gre csum is not done by the XDP backend (ipip and gue without remcsum "
               "are); use lb_backend ipvs"}));
  EXPECT_EQ(check("virtual_server 198.18.0.1 80 {\n lb_backend xdp\n lb_algo rr\n lb_kind TUN type gue port 6080 remcsum\n}\n"),
            (V{"t.conf:4:14: error: lb_kind TUN type gue port 6080 remcsum is not done by the XDP backend (ipip and gue "
               "without remcsum are); use lb_backend ipvs"}));
  // auto picks IPVS for NAT: not an error here.
  EXPECT_EQ(check("virtual_server 198.18.0.1 80 {\n lb_algo rr\n lb_kind NAT\n}\n"), V{});
}

TEST(Diagnostics, TunnelOptionsAsKeepalivedTakesThem) {
  const std::string head = "virtual_server 198.18.0.1 80 {\n lb_algo rr\n ";
  EXPECT_EQ(check(head + "lb_kind TUN type ipip\n}\n"), V{});
  EXPECT_EQ(check(head + "lb_kind TUN type gre\n}\n"),
            V{"t.conf:3:14: warning: lb_kind TUN type gre runs on IPVS (the XDP backend does ipip and gue without "
              "remcsum)"});
  EXPECT_EQ(check(head + "lvs_method TUN type gue port 6080 csum\n}\n"), V{});
  EXPECT_EQ(check(head + "lvs_method TUN port 6080 type gue\n}\n"), V{});
  EXPECT_EQ(check(head + "lb_kind TUN type gue\n}\n"), V{"t.conf:3:10: error: a gue tunnel needs 'port N'"});
  EXPECT_EQ(check(head + "lb_kind TUN type ipip port 5\n}\n"), V{"t.conf:3:24: error: only gue tunnels take a port"});
  EXPECT_EQ(check(head + "lb_kind TUN type ipip csum\n}\n"), V{"t.conf:3:24: error: ipip tunnels have no checksum option"});
  EXPECT_EQ(check(head + "lb_kind TUN type gre remcsum\n}\n"),
            V{"t.conf:3:23: error: gre tunnels have no remote checksum option"});
  EXPECT_EQ(check(head + "lb_kind DR type ipip\n}\n"), V{"t.conf:3:13: error: tunnel options need TUN, not DR"});
  EXPECT_EQ(check(head + "lb_kind TUN type vxlan\n}\n").size(), 1u);
  EXPECT_EQ(check(head + "lb_kind TUN type gue port 0\n}\n").size(), 1u);
  EXPECT_EQ(check(head + "lb_kind TUN type\n}\n"), V{"t.conf:3:14: error: 'type' needs a value"});
  EXPECT_EQ(check(head + "lb_kind TUN\n tunnel_source 198.18.2.0/24\n tunnel_source 2001:db8:2::/64\n}\n"), V{});
  EXPECT_EQ(check(head + "lb_kind TUN\n tunnel_source 198.18.2.0/24\n tunnel_source 198.18.3.0/24\n}\n"),
            V{"t.conf:5:16: error: tunnel_source for IPv4 was already given at t.conf:4:16"});
  EXPECT_EQ(check(head + "lb_kind TUN\n tunnel_source 198.18.2.0/4\n}\n").size(), 1u);
  // IPv4 in IPv6 is the program's; IPv6 in IPv4 only IPVS's.
  EXPECT_EQ(check(head + "lb_kind TUN\n real_server 2001:db8::7 80 {\n }\n}\n"), V{});
  EXPECT_EQ(check("virtual_server 2001:db8::1 80 {\n lb_algo rr\n lb_kind TUN\n real_server 198.18.0.7 80 {\n }\n}\n"),
            V{"t.conf:4:2: error: real_server 198.18.0.7 is IPv4 but virtual_server 2001:db8::1 80 is IPv6"});
  EXPECT_EQ(check("virtual_server 2001:db8::1 80 {\n lb_algo wlc\n lb_kind TUN\n real_server 198.18.0.7 80 {\n }\n}\n"),
            V{});
}

TEST(Diagnostics, KnownButUnimplementedIsNeverSilent) {
  EXPECT_EQ(check("global_defs {\n enable_snmp_vrrp\n}\nstatic_routes {\n}\n"),
            (V{"t.conf:2:2: warning: 'enable_snmp_vrrp' is not implemented by xlb and has no effect (no SNMP; use metrics_listen)",
               "t.conf:4:1: error: 'static_routes' is not supported by xlb: xlb does not manage static routes"}));
}

TEST(Diagnostics, AllProblemsAreCollected) {
  const auto r = load_string("vrrp_instance A {\n priority 0\n bogus\n state X\n}\nwat\n", "t.conf");
  EXPECT_GE(r.error_count(), 5u);  // priority, bogus, state, wat, missing interface/vrid
  EXPECT_FALSE(r.ok());
}

TEST(MachineChecks, RealProbeWarnsInTestModeAndFailsAtStart) {
  LinuxSystemProbe probe;
  ASSERT_TRUE(probe.interface_exists("lo"));
  ASSERT_FALSE(probe.interface_exists("xlbnoif0"));
  // 198.51.100.0/24 (TEST-NET-2) is never a connected network on a test machine.
  ASSERT_EQ(probe.reach(*IpAddr::parse("198.51.100.7")), Reach::not_adjacent);
  const std::string text =
      "vrrp_instance A {\n interface xlbnoif0\n virtual_router_id 1\n}\n"
      "virtual_server 198.51.100.1 80 {\n lb_algo rr\n lb_kind DR\n real_server 198.51.100.7 80 {\n }\n}\n";
  Options test_mode{Mode::config_test, &probe, {}};
  EXPECT_EQ(check(text, test_mode),
            (V{"t.conf:2:2: warning: interface 'xlbnoif0' does not exist on this machine",
               "t.conf:8:2: warning: real server 198.51.100.7 is not on a directly connected network; DR forwarding "
               "needs it on this node's own L2 segment"}));
  EXPECT_TRUE(load_string(text, "t.conf", test_mode).ok());
  Options start_mode{Mode::start, &probe, {}};
  const auto r = load_string(text, "t.conf", start_mode);
  EXPECT_EQ(r.error_count(), 2u);
  EXPECT_EQ(check("vrrp_instance A {\n interface lo\n virtual_router_id 1\n}\n", start_mode), V{});
}

// A probe that answers from a list and counts the questions.
class CountingProbe final : public SystemProbe {
 public:
  bool interface_exists(const std::string&) const override { return true; }
  Reach reach(const IpAddr& addr) const override {
    ++asked[addr.to_string()];
    if (addr.is_loopback() || addr.to_string() == "198.51.100.2") return Reach::local;
    return addr.to_string() == "198.51.100.9" ? Reach::not_adjacent : Reach::direct;
  }
  bool readable_file(const std::string& path) const override { return path == "/etc/xlb/present.key"; }
  bool account_exists(const std::string& name, bool) const override { return name != "nobody_here"; }
  std::string script_problem(const std::string& command, bool security) const override {
    if (command.rfind("/apps/missing.sh", 0) == 0) return "/apps/missing.sh: No such file or directory";
    if (security && command == "/tmp/unsafe.sh") return "enable_script_security: /tmp/unsafe.sh is writable by a non-root user";
    return {};
  }
  mutable std::map<std::string, int> asked;
};

// issue 28: a notify script that did not exist passed -t and failed at every transition.
TEST(MachineChecks, ScriptsThatCannotRunAreNamedOnceWithTheReason) {
  CountingProbe probe;
  const Options opt{Mode::config_test, &probe, {}};
  const std::string instance = "vrrp_instance A {\n interface lo\n virtual_router_id 1\n"
                               " notify_master \"/apps/missing.sh MASTER\"\n notify_backup /apps/missing.sh\n"
                               " notify_fault /usr/bin/true\n}\n";
  EXPECT_EQ(check(instance, opt),
            (V{"t.conf:4:2: warning: notify_master '/apps/missing.sh MASTER' cannot run: /apps/missing.sh: No such "
              "file or directory",
              "t.conf:5:2: warning: notify_backup '/apps/missing.sh' cannot run: /apps/missing.sh: No such file or "
              "directory"}));
  const std::string checker = "virtual_server 198.51.100.1 80 {\n lb_kind DR\n real_server 198.51.100.3 80 {\n"
                              "  notify_down /tmp/unsafe.sh\n  MISC_CHECK {\n   misc_path /apps/missing.sh\n  }\n }\n}\n";
  EXPECT_EQ(check(checker, opt).size(), 1u) << "only misc_path: the unsafe script is fine without script security";
  EXPECT_EQ(check("global_defs {\n enable_script_security\n}\n" + checker, opt).size(), 2u);
}

// IPVS's "Local" reals: a real or sorry server at an address of this node is served by its
// own stack, which DR hands the packet unchanged, so its port must be the service's.
TEST(MachineChecks, LocalSorryServerMustUseTheServicePort) {
  CountingProbe probe;
  const Options opt{Mode::config_test, &probe, {}};
  const std::string head = "virtual_server 198.51.100.1 80 {\n lb_algo wrr\n lb_kind DR\n";
  EXPECT_EQ(check(head + " sorry_server 127.0.0.1 80\n}\n", opt), V{});
  EXPECT_EQ(check(head + " sorry_server 198.51.100.2 80\n real_server 198.51.100.2 80 {\n }\n}\n", opt), V{});
  EXPECT_EQ(check(head + " sorry_server 127.0.0.1 8080\n}\n", opt),
            V{"t.conf:4:2: error: sorry_server 127.0.0.1 8080 is an address of this node, so its own stack serves "
              "it, and DR cannot change the port: it must be port 80 (the virtual server's), with a server listening "
              "on the virtual address or on all addresses there"});
  EXPECT_EQ(check(head + " real_server 198.51.100.2 81 {\n }\n}\n", opt).size(), 2u)
      << "the usual 'port has no effect' warning, and the error";
  // A sorry server elsewhere must be adjacent, as a real must.
  EXPECT_EQ(check(head + " sorry_server 198.51.100.9 80\n}\n", opt),
            V{"t.conf:4:2: warning: sorry_server 198.51.100.9 is not on a directly connected network; DR forwarding "
              "needs it on this node's own L2 segment"});
}

// A script_user that does not exist stops xlbd at start: -t says so, as for a missing interface.
TEST(MachineChecks, MissingScriptUserIsAMachineProblem) {
  CountingProbe probe;
  const auto r = load_string("global_defs {\n script_user nobody_here\n}\n", "t.conf", Options{Mode::config_test, &probe, {}});
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(to_string(r.diagnostics[0]),
            "t.conf:2:2: warning: script_user 'nobody_here' does not exist on this machine; create it (useradd -r -s "
            "/usr/sbin/nologin nobody_here) or remove script_user (scripts then run as keepalived_script where it "
            "exists, else as root)");
  EXPECT_TRUE(r.diagnostics[0].machine);
  EXPECT_EQ(r.machine_count(), 1u);
  EXPECT_EQ(load_string("global_defs {\n script_user nobody_here\n}\n", "t.conf", Options{Mode::start, &probe, {}})
                .error_count(),
            1u);
}

// `xlbd -t` says what xlbd would stop on at start: flow sync without a key.
TEST(MachineChecks, SyncWithoutAKeyIsAnErrorWithTheCommandThatFixesIt) {
  CountingProbe probe;
  const std::string text =
      "global_defs {\n lvs_sync_daemon lo VI_1\n}\nvrrp_instance VI_1 {\n interface lo\n virtual_router_id 1\n}\n";
  const Options missing{Mode::config_test, &probe, {}, "/etc/xlb/missing.key"};
  EXPECT_EQ(check(text, missing),
            V{"t.conf:2:2: error: lvs_sync_daemon: flow sync has no key: /etc/xlb/missing.key is missing and "
              "vrrp_instance VI_1 has no auth_pass; create it with `mkdir -p /etc/xlb && (umask 077; head -c 32 "
              "/dev/urandom > /etc/xlb/missing.key)` and copy that same file to every other node that syncs: they "
              "need the same key"});
  EXPECT_EQ(check(text, Options{Mode::config_test, &probe, {}, "/etc/xlb/present.key"}), V{});
  const std::string with_pass = "global_defs {\n lvs_sync_daemon lo VI_1\n}\nvrrp_instance VI_1 {\n interface lo\n"
                                " virtual_router_id 1\n authentication {\n  auth_type PASS\n  auth_pass secret\n }\n}\n";
  EXPECT_EQ(check(with_pass, missing), V{});
}

// flow_sync_peers has no auth_pass to fall back on: the key file or an error; and one sync only.
TEST(MachineChecks, FlowSyncPeersNeedTheKeyFileAndNoLvsSyncDaemon) {
  CountingProbe probe;
  const std::string text = "global_defs {\n flow_sync_peers lo 127.0.0.2 127.0.0.3\n}\n";
  EXPECT_EQ(check(text, Options{Mode::config_test, &probe, {}, "/etc/xlb/missing.key"}),
            V{"t.conf:2:2: error: flow_sync_peers: flow sync has no key: /etc/xlb/missing.key is missing; create it "
              "with `(umask 077; head -c 32 /dev/urandom > /etc/xlb/missing.key)` and copy that same file to every "
              "peer"});
  const Options present{Mode::config_test, &probe, {}, "/etc/xlb/present.key"};
  EXPECT_EQ(check(text, present), V{});
  const std::string both = "global_defs {\n lvs_sync_daemon lo VI_1\n flow_sync_peers lo 127.0.0.2\n}\n"
                           "vrrp_instance VI_1 {\n interface lo\n virtual_router_id 1\n}\n";
  EXPECT_EQ(check(both, present),
            V{"t.conf:3:2: error: flow_sync_peers and lvs_sync_daemon: a node runs one flow sync; keep one of them"});
}

// Each question reads the whole routing table: every address is asked once, however many
// services list it, and every listing of an address that is not connected is still reported.
TEST(MachineChecks, EachRealAddressIsAskedOnce) {
  std::string text;
  for (int port = 80; port < 83; ++port) {
    text += "virtual_server 198.51.100.1 " + std::to_string(port) +
            " {\n lb_kind DR\n real_server 198.51.100.7 80 {\n }\n real_server 198.51.100.9 80 {\n }\n}\n";
  }
  CountingProbe probe;
  const auto diagnostics = check(text, Options{Mode::config_test, &probe, {}});
  EXPECT_EQ(probe.asked, (std::map<std::string, int>{{"198.51.100.7", 1}, {"198.51.100.9", 1}}));
  const auto not_connected = std::count_if(diagnostics.begin(), diagnostics.end(), [](const std::string& d) {
    return d.find("198.51.100.9 is not on a directly connected network") != std::string::npos;
  });
  EXPECT_EQ(not_connected, 3) << "one warning per listing of 198.51.100.9";
}

// A connected network read independently of libnl (/proc/net/route: main-table IPv4 routes
// without a gateway) must be reported as connected.
TEST(MachineChecks, RealProbeFindsAConnectedNetwork) {
  std::ifstream routes("/proc/net/route");
  std::string line;
  std::getline(routes, line);
  std::optional<IpAddr> inside;
  while (std::getline(routes, line)) {
    char ifname[32];
    unsigned dst = 0, gw = 0, flags = 0, mask = 0, refcnt, use, metric;
    if (std::sscanf(line.c_str(), "%31s %x %x %x %u %u %u %x", ifname, &dst, &gw, &flags, &refcnt, &use, &metric, &mask) != 8)
      continue;
    if (gw != 0 || mask == 0 || mask == 0xffffffffu) continue;
    IpAddr a;
    const unsigned host = dst | 1u << 24;  // first host in network order: last byte +1
    std::memcpy(a.bytes.data(), &host, 4);
    inside = a;
    break;
  }
  if (!inside) GTEST_SKIP() << "this machine has no IPv4 connected network to test against";
  LinuxSystemProbe probe;
  EXPECT_EQ(probe.reach(*inside), Reach::direct) << inside->to_string();
  EXPECT_EQ(probe.reach(*IpAddr::parse("127.0.0.1")), Reach::local);
  EXPECT_EQ(probe.reach(*IpAddr::parse("::1")), Reach::local);
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/xlb-config-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  fs::path operator/(const std::string& s) const { return path_ / s; }
  void write(const std::string& name, const std::string& text) const {
    fs::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name) << text;
  }

 private:
  fs::path path_;
};

TEST(Includes, DepthIsCapped) {
  TempDir dir;
  for (int i = 0; i < 12; ++i)
    dir.write("f" + std::to_string(i) + ".conf", "include f" + std::to_string(i + 1) + ".conf\n");
  dir.write("f12.conf", "global_defs {\n}\n");
  const auto r = load_file((dir / "f0.conf").string());
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(to_string(r.diagnostics[0]),
            (dir / "f8.conf").string() + ":1:1: error: include 'f9.conf' nests deeper than 8 levels");
}

TEST(Includes, MissingTopFileAndOversizedFile) {
  TempDir dir;
  const auto missing = load_file((dir / "nope.conf").string());
  ASSERT_EQ(missing.diagnostics.size(), 1u);
  EXPECT_EQ(to_string(missing.diagnostics[0]),
            (dir / "nope.conf").string() + ":1:1: error: cannot open '" + (dir / "nope.conf").string() +
                "': No such file or directory");
  dir.write("big.conf", std::string((64u << 20) + 1, '#'));
  dir.write("main.conf", "include big.conf\n");
  const auto big = load_file((dir / "main.conf").string());
  ASSERT_EQ(big.diagnostics.size(), 1u);
  EXPECT_EQ(to_string(big.diagnostics[0]), (dir / "main.conf").string() + ":1:1: error: '" +
                                               (dir / "big.conf").string() +
                                               "' is not a regular file of at most 67108864 bytes");
}

TEST(Robustness, DeepNestingAndGarbageDoNotCrash) {
  std::string deep(100000, '{');
  const auto r = load_string("x " + deep, "t.conf");
  EXPECT_FALSE(r.ok());
  EXPECT_LE(r.diagnostics.size(), 1001u);
  std::string garbage;
  for (int i = 0; i < 200000; ++i) garbage.push_back(static_cast<char>((i * 7919) % 256));
  EXPECT_FALSE(load_string(garbage, "g.conf").ok());
}

}  // namespace

namespace {

TEST(Diagnostics, MulticastGroupsMustBeMulticast) {
  EXPECT_EQ(check("global_defs {\n vrrp_mcast_group4 198.18.0.1\n vrrp_mcast_group6 2001:db8::1\n}\n"),
            (V{"t.conf:2:20: error: vrrp_mcast_group4 must be an IPv4 multicast address (224.0.0.0/4)",
               "t.conf:3:20: error: vrrp_mcast_group6 must be an IPv6 multicast address (ff00::/8)"}));
}

TEST(Diagnostics, BraceGlobsAndBlocksAreTokenisedApart) {
  // "unicast_peer{" opens a block; "{a,b}" inside a word is an include alternation.
  const auto r = load_string("vrrp_instance A {\n interface eth0\n virtual_router_id 1\n unicast_peer{\n  198.18.0.2\n }\n}\n", "t.conf");
  EXPECT_TRUE(r.ok());
  ASSERT_EQ(r.config.vrrp_instances.at(0).unicast_peer.size(), 1u);
}

}  // namespace

namespace {

TEST(ConfigTestMode, ExitStatusAndOutput) {
  const char* src = std::getenv("XLB_SOURCE_DIR");
  const fs::path corpus = fs::path(src ? src : XLB_DEFAULT_SOURCE_DIR) / "tests/unit/config/corpus";
  std::ostringstream bad;
  EXPECT_EQ(run_config_test((corpus / "seed-slave-state/keepalived.conf").string(), bad), 1);
  EXPECT_NE(bad.str().find("keepalived.conf:4:11: error: state 'SLAVE' is not valid"), std::string::npos) << bad.str();
  // Valid, but this machine may lack eth1: that is a warning under -t, never an error.
  std::ostringstream good;
  EXPECT_EQ(run_config_test((corpus / "seed-ka01/keepalived.conf").string(), good), 0) << good.str();
  EXPECT_EQ(good.str().find(": error: "), std::string::npos) << good.str();
}

}  // namespace

namespace {

TEST(Diagnostics, KeywordInTheWrongSectionSaysWhereItBelongs) {
  EXPECT_EQ(check("vrrp_instance A {\n interface eth0\n virtual_router_id 1\n vrrp_strict\n}\n"
                  "global_defs {\n virtual_server 198.18.0.1 80 {\n }\n}\n"),
            (V{"t.conf:4:2: error: unknown keyword 'vrrp_strict' in vrrp_instance A; it belongs in global_defs",
               "t.conf:7:2: error: unknown keyword 'virtual_server' in global_defs; it belongs in the top level"}));
}

}  // namespace

namespace {

TEST(StatusPage, OnByDefaultAndSwitchedOffByKeyword) {
  EXPECT_TRUE(load_string("global_defs {\n}\n", "t.conf").config.global_defs.status_page.value);
  const auto off = load_string("global_defs {\n status_page off\n}\n", "t.conf");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off.config.global_defs.status_page.value);
  EXPECT_EQ(off.config.global_defs.status_page.loc.line, 2u);
  EXPECT_TRUE(load_string("global_defs {\n status_page on\n}\n", "t.conf").config.global_defs.status_page.value);
  EXPECT_EQ(check("global_defs {\n status_page maybe\n}\n"),
            (V{"t.conf:2:14: error: 'status_page' expects on or off, got 'maybe'"}));
  EXPECT_FALSE(check("global_defs {\n status_page\n}\n").empty()) << "on or off must be said";
}

}  // namespace
