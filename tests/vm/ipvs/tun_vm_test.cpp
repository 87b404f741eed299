// lb_kind TUN against Linux's own decapsulation, in the VM lab (the 6.1 kernel has ipip,
// ip6_tunnel, ip_gre, fou and IPVS; this machine's kernel has none of them). The lab is
// tools/lab/tun-topology.sh with `native` reals (tunl0, ip6tnl0 in mode any, gre0, and
// `ip fou add port 6080 gue` for both families; VIPs on lo). xlbd serves the same services
// (kServices: IPIP, GUE, GRE, IPv4 in IPv6, IPv6 in IPv6, GUE over IPv6) once with
// `lb_backend ipvs` (the kernel's IPVS TUN: the reference) and once with `lb_backend auto`
// (XDP, and IPVS for gre). The reals capture what arrives; the inner packets of the same crafted
// client packets must be byte-identical under both (and equal to what the client sent), the
// outer headers must agree where the two are meant to, and real TCP requests and uploads must
// succeed both ways.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ctrl/dataplane/ipvs/choose_backend.hpp"
#include "dr_lab.hpp"
#include "tests/netns/dataplane/lab.hpp"
#include "tun_packets.hpp"

namespace xlb::vmtest {
namespace {

constexpr int kCrafted = 6;  // per service: two full wrr rounds of weights 2 and 1
constexpr int kUploadBytes = 200000;

// The lab's services, each served through both runs. gre stays on IPVS (the XDP program does not
// build GRE), so under `lb_backend auto` the "xdp" run hands it to IPVS too.
struct TunService {
  const char* name;
  bool vip6;          // IPv6 VIP (else IPv4)
  bool real6;         // IPv6 reals (else IPv4)
  int port;
  const char* method;
  const char* outer;  // Outer::kind the reals must see
  bool ipvs_only;
};
constexpr TunService kServices[] = {
    {"ipip", false, false, 80, "lvs_method TUN type ipip", "ipip", false},
    {"gue", false, false, 8080, "lvs_method TUN type gue port 6080", "gue", false},
    {"gre", false, false, 8081, "lvs_method TUN type gre", "gre", true},
    {"ip4ip6", false, true, 8082, "lvs_method TUN type ipip", "ip4ip6", false},
    {"ip6ip6", true, true, 80, "lvs_method TUN type ipip", "ip6ip6", false},
    {"gue6", true, true, 8080, "lvs_method TUN type gue port 6080", "gue6", false},
};
constexpr int kServiceCount = sizeof kServices / sizeof kServices[0];
std::uint32_t crafted_seq(int service, int i) { return kSeqBase + 0x20 * service + i; }
std::uint16_t crafted_sport(int service, int i) { return static_cast<std::uint16_t>(41000 + 10 * service + i); }
std::uint8_t crafted_tos(int i) { return i == 1 ? 0x28 : 0; }

// The rows of an ipvsadm -Ln style listing as "service real forward [weight]", sorted: the
// counters and health columns, and the order IPVS hashes services in, are not compared.
std::set<std::string> rows(const std::string& listing, bool with_weight) {
  std::set<std::string> out;
  std::istringstream in(listing);
  std::string line, service;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string a, b, c, d;
    words >> a >> b >> c >> d;
    if (a == "TCP" || a == "UDP") service = a + " " + b + " " + c;
    if (a == "->" && b.find(':') != std::string::npos && b != "RemoteAddress:Port")
      out.insert(service + " " + b + " " + c + (with_weight ? " " + d : ""));
  }
  return out;
}

class TunVm : public ::testing::Test {
 protected:
  void SetUp() override {
    // Outside the VM lab there is no IPVS to compare with: the lab is unavailable, a skip.
    if (!dataplane::ipvs_available()) GTEST_SKIP() << "no IPVS in this kernel: run through tools/vm/run.sh";
    // Inside it the initramfs loads every tunnel module (tools/vm/mkinitramfs.sh): one missing
    // is a broken lab, not a kernel short of a feature, so it fails.
    for (const char* dev : {"tunl0", "ip6tnl0", "gre0"})
      ASSERT_EQ(run(std::string("ip link show ") + dev).status, 0)
          << "no " << dev << ": the VM lab loads ipip, ip6_tunnel and ip_gre (tools/vm/mkinitramfs.sh)";
    ASSERT_TRUE(std::filesystem::exists("/sys/module/fou")) << "no fou module: the VM lab loads it";
    build_ = std::getenv("XLB_BINARY_DIR") ? std::getenv("XLB_BINARY_DIR") : ".";
    step("lab up");
    lab_.emplace("tun-topology.sh", build_ + "/bpf/pass.bpf.o native");
    step("lab ready");
    state_ = at("LAB_STATE");
  }
  void TearDown() override { lab_.reset(); }
  std::string at(const std::string& k) const { return (*lab_)[k]; }
  std::string in(const std::string& ns_key, const std::string& command) const {
    return "ip netns exec " + at(ns_key) + " " + command;
  }
  std::string vip(const TunService& s) const { return at(s.vip6 ? "LAB_VIP6" : "LAB_VIP"); }
  std::string client(const TunService& s) const { return at(s.vip6 ? "LAB_CLIENT_IP6" : "LAB_CLIENT_IP"); }
  std::string real(const TunService& s, const std::string& rs) const {
    return at("LAB_" + std::string(rs == "rs1" ? "RS1" : "RS2") + "_IP" + (s.real6 ? "6" : ""));
  }
  std::string conf(const std::string& which) const { return state_ + "/xlbd-" + which + ".conf"; }

  // xlbd with every service of kServices; the "xdp" run under `lb_backend auto`, as a keepalived
  // user's file would say it (gre then goes to IPVS). Socket LAB_STATE/RUN.sock, pins LAB_BPFFS/RUN.
  bool start_xlbd(const std::string& which) {
    write_conf(which);
    return lab_->call("xlbd", build_ + " " + conf(which) + " " + which + " --detach-on-exit") == 0;
  }
  void write_conf(const std::string& which) const {
    std::ofstream f(conf(which));
    f << "global_defs {\n  router_id xlb-vm\n  lb_backend " << (which == "ipvs" ? "ipvs" : "auto") << "\n}\n";
    for (const auto& s : kServices) {
      f << "virtual_server " << vip(s) << " " << s.port << " {\n  lb_algo wrr\n  " << s.method << "\n  protocol TCP\n";
      f << "  real_server " << real(s, "rs1") << " " << s.port << " { weight 2 }\n"
        << "  real_server " << real(s, "rs2") << " " << s.port << " { weight 1 }\n}\n";
    }
  }
  std::string log(const std::string& which) const { return run("tail -n 30 " + state_ + "/xlbd-" + which + ".log").output; }
  void stop_xlbd(const std::string& which) { lab_->call("xlbd-kill", which + " TERM"); }

  std::string http_get(const std::string& address) const {
    auto r = run(in("LAB_CLIENT", "curl -s -m 5 -g http://" + (address.find(':') != std::string::npos ? "[" + address + "]" : address) + "/"));
    return r.status == 0 ? r.output : "";
  }
  // `rounds` GETs of each VIP from one shell; returns per family ("v4"/"v6") the count per real.
  std::map<std::string, std::map<std::string, int>> http_rounds(int rounds) const {
    std::ostringstream sh;
    sh << "for i in $(seq " << rounds << "); do echo v4 $(curl -s -m 5 http://" << at("LAB_VIP")
       << "/); echo v6 $(curl -s -m 5 -g http://[" << at("LAB_VIP6") << "]/); done";
    std::map<std::string, std::map<std::string, int>> tally;
    std::istringstream out(run(in("LAB_CLIENT", "sh -c '" + sh.str() + "'")).output);
    std::string family, who;
    while (out >> family >> who) ++tally[family][who];
    return tally;
  }
  // A 200 kB upload to every service but port 80, one after the other from one Python: the
  // real answers each with the byte count. Returns "VIP,PORT=answer" words.
  std::string uploads() const {
    std::string targets;
    for (const auto& s : kServices)
      if (s.port != 80) targets += " " + vip(s) + "," + std::to_string(s.port);
    return run(in("LAB_CLIENT", "timeout 60 python3 -c 'import socket, sys\n"
                                "for a in sys.argv[1:]:\n"
                                "    h, p = a.rsplit(\",\", 1); r = b\"\"\n"
                                "    try:\n"
                                "        s = socket.create_connection((h, int(p)), 10); s.settimeout(20)\n"
                                "        s.sendall(bytes(" + std::to_string(kUploadBytes) + ")); s.shutdown(socket.SHUT_WR)\n"
                                "        while True:\n"
                                "            b = s.recv(64)\n"
                                "            if not b: break\n"
                                "            r += b\n"
                                "    except OSError as e: r = str(e).replace(\" \", \"_\").encode()\n"
                                "    print(a + \"=\" + r.decode(), end=\" \")'" + targets))
        .output;
  }

  // Progress with the guest's uptime: where the VM's (emulated, slow) time goes.
  void step(const char* what) const {
    std::string up = run("cut -d' ' -f1 /proc/uptime").output;
    if (!up.empty()) up.pop_back();
    std::printf("[%ss] %s\n", up.c_str(), what);
    std::fflush(stdout);
  }
  // Runs one xlbd: waits for service, captures on both reals while the crafted SYNs go out,
  // then checks real traffic. Returns the arrivals by sequence number.
  std::map<std::uint32_t, Arrival> exercise(const std::string& name) {
    step("xlbd start");
    if (!start_xlbd(name)) {
      ADD_FAILURE() << name << ": xlbd did not start\n" << log(name);
      return {};
    }
    step("xlbd started");
    // Up to 30 s (emulated, loaded) for the services to answer; curl's own timeout counts in.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (const char* family : {"LAB_VIP", "LAB_VIP6"}) {
      std::string first;
      while ((first = http_get(at(family))).empty() && std::chrono::steady_clock::now() < deadline) usleep(200 * 1000);
      if (first.empty()) {
        ADD_FAILURE() << name << ": no HTTP answer from " << at(family) << " through the tunnel\n" << log(name);
        stop_xlbd(name);
        return {};
      }
    }
    const std::string ctl = build_ + "/tools/xlbctl/xlbctl";
    tunnel_listing_[name] = run(in("LAB_LB", "ipvsadm -Ln --tun-info")).output;
    if (name == "ipvs") {
      listings_["ipvsadm"] = run(in("LAB_LB", "ipvsadm -Ln")).output;
    } else {
      listings_["xlbctl"] = run(ctl + " -s " + state_ + "/xdp.sock list").output;
      // Without the daemon, xlbctl reads the pinned maps: the real's flags say Tunnel.
      listings_["pins"] = run(ctl + " -s " + state_ + "/absent.sock --pin-dir " + at("LAB_BPFFS") + "/xdp list").output;
    }

    step("answered");
    std::vector<std::optional<ChildProcess>> dumps;
    for (const char* rs : {"rs1", "rs2"}) {
      const std::string key = std::string("LAB_") + (rs[2] == '1' ? "RS1" : "RS2");
      const std::string pcap = state_ + "/" + name + "-" + rs + ".pcap";
      dumps.emplace_back(std::vector<std::string>{
          "/bin/sh", "-c",
          "exec " + in(key, "tcpdump -i eth0 -n -U -w " + pcap +
                                " 'ip proto 4 or ip proto 47 or udp port 6080 or ip6 proto 41 or ip6 proto 4'") +
              " 2> " + pcap + ".err"});
    }
    for (const char* rs : {"rs1", "rs2"}) {
      const std::string err = state_ + "/" + name + "-" + rs + ".pcap.err";
      for (int i = 0; i < 100 && run("grep -q 'listening on' " + err).status != 0; ++i) usleep(100 * 1000);
    }
    step("captures on");
    std::string hexes;
    for (int k = 0; k < kServiceCount; ++k)
      for (int i = 0; i < kCrafted; ++i)
        hexes += " " + hex(crafted_syn(client(kServices[k]), vip(kServices[k]), crafted_sport(k, i), kServices[k].port,
                                       crafted_seq(k, i), crafted_tos(i)));
    // IPPROTO_RAW: the header is the caller's (IPV6_HDRINCL is implied for IPv6 too).
    const auto sent = run(in("LAB_CLIENT", "python3 -c 'import socket, sys\n"
                                           "s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)\n"
                                           "s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)\n"
                                           "for h in sys.argv[1:]:\n"
                                           "    if h[0] == \"6\": s6.sendto(bytes.fromhex(h), (\"" +
                                               at("LAB_VIP6") + "\", 0))\n"
                                               "    else: s4.sendto(bytes.fromhex(h), (\"" +
                                               at("LAB_VIP") + "\", 0))'" + hexes));
    EXPECT_EQ(sent.status, 0) << sent.output;

    // Real traffic while the capture runs: 6 requests to each VIP (two wrr rounds), uploads.
    step("crafted sent");
    auto tally = http_rounds(6);
    for (const char* family : {"v4", "v6"}) {
      EXPECT_EQ(tally[family]["rs1"], 4) << name << " " << family;
      EXPECT_EQ(tally[family]["rs2"], 2) << name << " " << family;
    }
    step("requests done");
    const std::string up = uploads();
    for (const auto& s : kServices) {
      if (s.port == 80) continue;
      EXPECT_NE(up.find(vip(s) + "," + std::to_string(s.port) + "=" + std::to_string(kUploadBytes) + " "), std::string::npos)
          << name << ": upload over " << s.name << ": " << up;
    }
    step("uploads done");

    std::map<std::uint32_t, Arrival> arrivals;
    for (int i = 0; i < 50; ++i) {
      arrivals.clear();
      for (const char* rs : {"rs1", "rs2"}) read_capture(state_ + "/" + name + "-" + rs + ".pcap", rs, arrivals);
      if (arrivals.size() == kServiceCount * kCrafted) break;
      usleep(100 * 1000);
    }
    dumps.clear();
    stop_xlbd(name);
    step("stopped");
    run(in("LAB_LB", "ipvsadm -C"));
    return arrivals;
  }

  std::string build_, state_;
  std::map<std::string, std::string> tunnel_listing_;  // ipvsadm -Ln --tun-info per run
  std::map<std::string, std::string> listings_;        // ipvsadm -Ln, xlbctl list (daemon / pins)
  std::optional<dataplane::test::ScriptLab> lab_;
};

TEST_F(TunVm, XdpAndIpvsDeliverTheSameInnerPacketsToNativeDecapsulatingReals) {
  const auto ipvs = exercise("ipvs");
  // The tunnel attributes reached IPVS. ipvsadm 1.31's TunnelInfo column: "gue:PORT:-c" (no
  // checksum), "ipip", "gre:-c".
  for (const char* kind : {"Tunnel  gue:6080:-c", "Tunnel  ipip", "Tunnel  gre:-c"})
    EXPECT_NE(tunnel_listing_["ipvs"].find(kind), std::string::npos) << tunnel_listing_["ipvs"];
  // `xlbd -t` says where gre goes under lb_backend auto.
  write_conf("xdp");
  const auto test_mode = run(build_ + "/ctrl/xlbd -t -f " + conf("xdp"));
  EXPECT_NE(test_mode.output.find("lb_kind TUN type gre runs on IPVS"), std::string::npos) << test_mode.output;
  const auto xdp = exercise("xdp");
  // Under lb_backend auto only the gre service is in IPVS.
  const auto in_ipvs = rows(tunnel_listing_["xdp"], false);
  EXPECT_EQ(in_ipvs.size(), 2u) << tunnel_listing_["xdp"];
  EXPECT_NE(tunnel_listing_["xdp"].find("Tunnel  gre:-c"), std::string::npos) << tunnel_listing_["xdp"];
  // xlbctl list names the forwarding method as ipvsadm -Ln does, from xlbd (every service,
  // whichever backend holds it) and from the pins (the XDP services only; their weights are
  // ring shares, so only the method is compared there).
  const auto all = rows(listings_["ipvsadm"], true);
  ASSERT_EQ(all.size(), 2u * kServiceCount) << listings_["ipvsadm"];
  EXPECT_EQ(rows(listings_["xlbctl"], true), all) << listings_["xlbctl"] << "\n" << listings_["ipvsadm"];
  std::set<std::string> xdp_rows;
  for (const auto& r : rows(listings_["ipvsadm"], false))
    if (!in_ipvs.contains(r)) xdp_rows.insert(r);
  EXPECT_EQ(rows(listings_["pins"], false), xdp_rows) << listings_["pins"] << "\n" << listings_["ipvsadm"];

  ASSERT_EQ(ipvs.size(), std::size_t{kServiceCount * kCrafted}) << "every crafted SYN reached a real through IPVS";
  ASSERT_EQ(xdp.size(), std::size_t{kServiceCount * kCrafted}) << "every crafted SYN reached a real through XDP";
  std::map<std::string, std::map<std::string, int>> per_real;  // run -> real -> SYNs
  int xdp_labels = 0;
  for (int k = 0; k < kServiceCount; ++k) {
    const TunService& s = kServices[k];
    for (int i = 0; i < kCrafted; ++i) {
      const std::uint32_t seq = crafted_seq(k, i);
      const Bytes want = crafted_syn(client(s), vip(s), crafted_sport(k, i), s.port, seq, crafted_tos(i));
      const Arrival& a = ipvs.at(seq);
      const Arrival& b = xdp.at(seq);
      std::printf("%-6s seq %08x: ipvs %s [%s] | xdp %s [%s]\n", s.name, seq, a.real.c_str(), a.outer.summary().c_str(),
                  b.real.c_str(), b.outer.summary().c_str());
      // XDP forwards the client's packet untouched (as DR does). IPVS forwards like a router:
      // it decrements the inner TTL / hop limit (and the IPv4 header checksum); nothing else
      // differs. gre goes by IPVS in both runs.
      EXPECT_EQ(hex(b.inner), hex(s.ipvs_only ? hop_decremented(want) : want)) << s.name << ": the inner packet, xdp run";
      EXPECT_EQ(hex(a.inner), hex(hop_decremented(want))) << s.name << ": IPVS changed the inner packet beyond its TTL";
      for (const auto* arrival : {&a, &b}) {
        const bool by_xdp = arrival == &b && !s.ipvs_only;
        const Outer& o = arrival->outer;
        EXPECT_EQ(o.kind, s.outer) << s.name;
        EXPECT_EQ(o.src, at(s.real6 ? "LAB_LB_IP6" : "LAB_LB_IP")) << s.name << ": outer source";
        EXPECT_EQ(o.dst, real(s, arrival->real)) << s.name << ": outer destination";
        // The outer TTL / hop limit is the inner one, as sent (XDP) or as decremented (IPVS),
        // less the router's hop between balancer and reals.
        EXPECT_EQ(o.hop, (by_xdp ? 61 : 60) - 1) << s.name;
        EXPECT_EQ(o.tos, crafted_tos(i)) << s.name << ": TOS / traffic class copied";
        if (!s.real6) {
          EXPECT_TRUE(o.df) << s.name;
        }
        // IPv6 outer: IPVS clears the flow label; XDP puts the flow hash there.
        if (s.real6 && !by_xdp) {
          EXPECT_EQ(o.flow_label, 0u) << s.name;
        }
        if (s.real6 && by_xdp && o.flow_label != 0) ++xdp_labels;
        if (o.kind.starts_with("gue")) {
          EXPECT_EQ(o.udp_dport, 6080);
          // No checksum over IPv4 (neither asked for csum); over IPv6 XDP computes it (zero is
          // not allowed there) while IPVS 6.1 sends zero without `csum` (fou accepts it).
          EXPECT_EQ(o.udp_csum, s.real6 && by_xdp ? "ok" : "0") << s.name << " " << (by_xdp ? "xdp" : "ipvs");
        }
        ++per_real[by_xdp ? "xdp" : "ipvs"][arrival->real];
      }
    }
  }
  EXPECT_GE(xdp_labels, kCrafted) << "XDP's IPv6 outer headers carry the flow hash in the flow label";
  EXPECT_GE(per_real["xdp"]["rs2"], 1);
  EXPECT_GE(per_real["ipvs"]["rs2"], 1);
}

}  // namespace
}  // namespace xlb::vmtest
