// lb_kind TUN against Linux's own decapsulation, in the VM lab (the 6.1 kernel has ipip, fou and
// IPVS; this machine's kernel has none of them). The lab is tools/lab/tun-topology.sh with
// `native` reals (tunl0 and `ip fou add port 6080 gue`, VIP on lo); xlbd serves the same two
// services once with `lb_backend ipvs` (the kernel's IPVS TUN: the reference) and once with
// `lb_backend xdp`. The reals capture what arrives; the inner packets of the same crafted client
// packets must be byte-identical under both backends (and equal to what the client sent), and
// real TCP requests must succeed both ways.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ctrl/dataplane/ipvs/choose_backend.hpp"
#include "dr_lab.hpp"
#include "tests/netns/dataplane/lab.hpp"

namespace xlb::vmtest {
namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr std::uint16_t kGuePort = 6080;
constexpr int kCrafted = 6;  // per service: two full wrr rounds of weights 2 and 1
constexpr std::uint32_t kSeqBase = 0x786c6200;  // "xlb\0": marks the crafted SYNs

std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}
std::uint32_t add_words(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (n & 1) sum += p[n - 1] << 8;
  return sum;
}

// A TCP SYN with everything fixed (IP id, TTL, TOS, sequence, window, one MSS option) and both
// checksums computed, so that what the client sends is known byte for byte.
Bytes crafted_syn(const std::string& src, const std::string& dst, std::uint16_t sport,
                  std::uint16_t dport, std::uint32_t seq, std::uint8_t tos) {
  Bytes p(20 + 24, 0);
  p[0] = 0x45;
  p[1] = tos;
  p[3] = static_cast<std::uint8_t>(p.size());
  p[4] = 0x51;  // id 0x5100 + low byte of the source port
  p[5] = static_cast<std::uint8_t>(sport);
  p[6] = 0x40;  // DF
  p[8] = 61;
  p[9] = 6;
  inet_pton(AF_INET, src.c_str(), &p[12]);
  inet_pton(AF_INET, dst.c_str(), &p[16]);
  const std::uint16_t ipsum = fold(add_words(p.data(), 20));
  p[10] = ipsum >> 8;
  p[11] = ipsum & 0xff;
  std::uint8_t* t = &p[20];
  t[0] = sport >> 8, t[1] = sport & 0xff, t[2] = dport >> 8, t[3] = dport & 0xff;
  for (int i = 0; i < 4; ++i) t[4 + i] = static_cast<std::uint8_t>(seq >> (24 - 8 * i));
  t[12] = 6 << 4;  // 24-byte header
  t[13] = 0x02;    // SYN
  t[14] = 0x72, t[15] = 0x10;  // window 29200
  t[20] = 2, t[21] = 4, t[22] = 0x05, t[23] = 0xb4;  // MSS 1460
  std::uint32_t sum = add_words(&p[12], 8) + 6 + 24;
  const std::uint16_t tcpsum = fold(add_words(t, 24, sum));
  t[16] = tcpsum >> 8;
  t[17] = tcpsum & 0xff;
  return p;
}

// The packet as a router forwards it: TTL - 1, header checksum updated.
Bytes ttl_decremented(Bytes p) {
  --p[8];
  p[10] = p[11] = 0;
  const std::uint16_t sum = fold(add_words(p.data(), 20));
  p[10] = sum >> 8;
  p[11] = sum & 0xff;
  return p;
}

std::string hex(const Bytes& b) {
  std::string s;
  char buf[3];
  for (std::uint8_t c : b) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    s += buf;
  }
  return s;
}

// What a real received for one encapsulated packet.
struct Arrival {
  std::string real;       // "rs1" / "rs2"
  std::string outer;      // outer header summary: protocol, addresses, TTL, TOS, DF
  Bytes inner;            // the packet inside, as the client sent it
};

// Reads a pcap file (Ethernet) and returns, per crafted sequence number, what arrived.
void read_capture(const std::string& path, const std::string& real, std::map<std::uint32_t, Arrival>& out) {
  std::ifstream f(path, std::ios::binary);
  Bytes data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::size_t at = 24;  // global header (native byte order: written on this machine)
  while (at + 16 <= data.size()) {
    std::uint32_t caplen;
    std::memcpy(&caplen, &data[at + 8], 4);
    const std::uint8_t* fr = &data[at + 16];
    at += 16 + caplen;
    if (at > data.size() || caplen < 14 + 20 || fr[12] != 0x08 || fr[13] != 0x00) continue;
    const std::uint8_t* ip = fr + 14;
    const std::size_t ihl = (ip[0] & 0x0f) * 4;
    const std::size_t total = (ip[2] << 8) | ip[3];
    if (14 + total > caplen) continue;
    std::size_t skip = ihl;
    std::string kind = "ipip";
    if (ip[9] == 17) {
      skip += 8 + 4;  // UDP + the 4-byte GUE header (version 0, no options)
      kind = "gue";
    } else if (ip[9] != 4) {
      continue;
    }
    if (total < skip + 40) continue;
    const std::uint8_t* in = ip + skip;
    const std::size_t in_len = (in[2] << 8) | in[3];
    if (in[9] != 6 || skip + in_len > total) continue;
    const std::uint8_t* tcp = in + (in[0] & 0x0f) * 4;
    const std::uint32_t seq = (tcp[4] << 24) | (tcp[5] << 16) | (tcp[6] << 8) | tcp[7];
    if ((seq & 0xffffff00) != kSeqBase || tcp[13] != 0x02) continue;
    char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, ip + 12, src, sizeof src);
    inet_ntop(AF_INET, ip + 16, dst, sizeof dst);
    std::ostringstream outer;
    outer << kind << " " << src << " > " << dst << " ttl " << int(ip[8]) << " tos " << int(ip[1])
          << ((ip[6] & 0x40) ? " DF" : "");
    if (kind == "gue") {
      const std::uint8_t* udp = ip + ihl;
      outer << " udp dport " << ((udp[2] << 8) | udp[3]) << " csum " << (((udp[6] << 8) | udp[7]) ? "set" : "0");
    }
    out[seq] = Arrival{real, outer.str(), Bytes(in, in + in_len)};
  }
}

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
    if (!dataplane::ipvs_available()) GTEST_SKIP() << "no IPVS in this kernel: run through tools/vm/run.sh";
    // The ipip module makes the fallback device tunl0 in every namespace.
    if (run("ip link show tunl0").status != 0)
      GTEST_SKIP() << "no ipip module in this kernel: the real servers cannot decapsulate natively";
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

  // xlbd with the two TUN services: VIP:80 over IPIP (HTTP), VIP:8080 over GUE (upload server).
  // Its socket is LAB_STATE/BACKEND.sock, its pins LAB_BPFFS/BACKEND.
  bool start_xlbd(const std::string& backend) {
    const std::string conf = state_ + "/xlbd-" + backend + ".conf";
    std::ofstream(conf) << "global_defs {\n  router_id xlb-vm\n  lb_backend " << backend << "\n}\n"
                        << service(80, "lvs_method TUN type ipip") << service(8080, "lvs_method TUN type gue port 6080");
    return lab_->call("xlbd", build_ + " " + conf + " " + backend + " --detach-on-exit") == 0;
  }
  std::string service(int port, const std::string& method) const {
    std::ostringstream s;
    s << "virtual_server " << at("LAB_VIP") << " " << port << " {\n  lb_algo wrr\n  " << method
      << "\n  protocol TCP\n"
      << "  real_server " << at("LAB_RS1_IP") << " " << port << " { weight 2 }\n"
      << "  real_server " << at("LAB_RS2_IP") << " " << port << " { weight 1 }\n}\n";
    return s.str();
  }
  std::string log(const std::string& backend) const { return run("tail -n 30 " + state_ + "/xlbd-" + backend + ".log").output; }
  void stop_xlbd(const std::string& backend) { lab_->call("xlbd-kill", backend + " TERM"); }

  std::string http_get() const {
    auto r = run(in("LAB_CLIENT", "curl -s -m 5 http://" + at("LAB_VIP") + "/"));
    return r.status == 0 ? r.output : "";
  }
  // A 200 kB upload to the GUE service; the real answers with the byte count.
  std::string upload() const {
    return run(in("LAB_CLIENT", "timeout 20 python3 -c 'import socket; s = socket.create_connection((\"" +
                                    at("LAB_VIP") + "\", 8080), 10); s.sendall(bytes(200000)); "
                                                    "s.shutdown(socket.SHUT_WR); print(s.recv(64).decode(), end=\"\")'"))
        .output;
  }

  // Progress with the guest's uptime: where the VM's (emulated, slow) time goes.
  void step(const char* what) const {
    std::string up = run("cut -d' ' -f1 /proc/uptime").output;
    if (!up.empty()) up.pop_back();
    std::printf("[%ss] %s\n", up.c_str(), what);
    std::fflush(stdout);
  }
  // Runs one backend: waits for service, captures on both reals while the crafted SYNs go out,
  // then checks real traffic. Returns the arrivals by sequence number.
  std::map<std::uint32_t, Arrival> exercise(const std::string& backend) {
    step("xlbd start");
    EXPECT_TRUE(start_xlbd(backend)) << log(backend);
    step("xlbd started");
    std::string first;
    for (int i = 0; i < 150 && first.empty(); ++i) {
      first = http_get();
      if (first.empty()) usleep(200 * 1000);
    }
    EXPECT_FALSE(first.empty()) << backend << ": no HTTP answer through the tunnel\n" << log(backend);
    if (backend == "ipvs") {
      tunnel_listing_ = run(in("LAB_LB", "ipvsadm -Ln --tun-info")).output;
      listings_["ipvsadm"] = run(in("LAB_LB", "ipvsadm -Ln")).output;
    } else {
      const std::string ctl = build_ + "/tools/xlbctl/xlbctl";
      listings_["xlbctl"] = run(ctl + " -s " + state_ + "/xdp.sock list").output;
      // Without the daemon, xlbctl reads the pinned maps: the real's flags say Tunnel.
      listings_["pins"] = run(ctl + " -s " + state_ + "/absent.sock --pin-dir " + at("LAB_BPFFS") + "/xdp list").output;
    }

    step("answered");
    std::vector<std::optional<ChildProcess>> dumps;
    for (const char* rs : {"rs1", "rs2"}) {
      const std::string key = std::string("LAB_") + (rs[2] == '1' ? "RS1" : "RS2");
      const std::string pcap = state_ + "/" + backend + "-" + rs + ".pcap";
      dumps.emplace_back(std::vector<std::string>{
          "/bin/sh", "-c",
          "exec " + in(key, "tcpdump -i eth0 -n -U -w " + pcap + " 'ip proto 4 or udp port 6080'") + " 2> " + pcap + ".err"});
    }
    for (const char* rs : {"rs1", "rs2"}) {
      const std::string err = state_ + "/" + backend + "-" + rs + ".pcap.err";
      for (int i = 0; i < 100 && run("grep -q 'listening on' " + err).status != 0; ++i) usleep(100 * 1000);
    }
    step("captures on");
    std::string hexes;
    for (int port : {80, 8080})
      for (int i = 0; i < kCrafted; ++i)
        hexes += " " + hex(crafted_syn(at("LAB_CLIENT_IP"), at("LAB_VIP"), 41000 + port / 80 * 10 + i, port,
                                       kSeqBase + (port == 80 ? 0 : 0x80) + i, i == 1 ? 0x28 : 0));
    const auto sent = run(in("LAB_CLIENT", "python3 -c 'import socket, sys\n"
                                           "s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)\n"
                                           "for h in sys.argv[1:]: s.sendto(bytes.fromhex(h), (\"" +
                                               at("LAB_VIP") + "\", 0))'" + hexes));
    EXPECT_EQ(sent.status, 0) << sent.output;

    // Real traffic while the capture runs: 12 requests (four wrr rounds) and an upload by GUE.
    step("crafted sent");
    std::map<std::string, int> tally;
    for (int i = 0; i < 12; ++i) ++tally[http_get()];
    EXPECT_EQ(tally["rs1\n"], 8) << backend;
    EXPECT_EQ(tally["rs2\n"], 4) << backend;
    step("requests done");
    EXPECT_EQ(upload(), "200000") << backend << ": upload over GUE";
    step("upload done");

    std::map<std::uint32_t, Arrival> arrivals;
    for (int i = 0; i < 50; ++i) {
      arrivals.clear();
      for (const char* rs : {"rs1", "rs2"}) read_capture(state_ + "/" + backend + "-" + rs + ".pcap", rs, arrivals);
      if (arrivals.size() == 2 * kCrafted) break;
      usleep(100 * 1000);
    }
    dumps.clear();
    stop_xlbd(backend);
    step("stopped");
    run(in("LAB_LB", "ipvsadm -C"));
    return arrivals;
  }

  std::string build_, state_, tunnel_listing_;
  std::map<std::string, std::string> listings_;  // ipvsadm -Ln, xlbctl list (daemon / pins)
  std::optional<dataplane::test::ScriptLab> lab_;
};

TEST_F(TunVm, XdpAndIpvsDeliverTheSameInnerPacketsToNativeIpipAndGueReals) {
  const auto ipvs = exercise("ipvs");
  // The tunnel attributes reached IPVS: ipvsadm lists the GUE destinations with their port.
  // ipvsadm 1.31's TunnelInfo column: "gue:PORT:-c" (no checksum), "ipip".
  EXPECT_NE(tunnel_listing_.find("Tunnel  gue:6080:-c"), std::string::npos) << tunnel_listing_;
  EXPECT_NE(tunnel_listing_.find("Tunnel  ipip"), std::string::npos) << tunnel_listing_;
  const auto xdp = exercise("xdp");
  // xlbctl list names the forwarding method as ipvsadm -Ln does, from xlbd and from the pins
  // (whose weights are ring shares, so only the method is compared there).
  ASSERT_EQ(rows(listings_["ipvsadm"], true).size(), 4u) << listings_["ipvsadm"];
  EXPECT_EQ(rows(listings_["xlbctl"], true), rows(listings_["ipvsadm"], true))
      << listings_["xlbctl"] << "\n" << listings_["ipvsadm"];
  EXPECT_EQ(rows(listings_["pins"], false), rows(listings_["ipvsadm"], false))
      << listings_["pins"] << "\n" << listings_["ipvsadm"];

  ASSERT_EQ(ipvs.size(), 2u * kCrafted) << "every crafted SYN reached a real through IPVS";
  ASSERT_EQ(xdp.size(), 2u * kCrafted) << "every crafted SYN reached a real through XDP";
  std::map<std::string, int> per_real_ipvs, per_real_xdp;
  for (int port : {80, 8080}) {
    for (int i = 0; i < kCrafted; ++i) {
      const std::uint32_t seq = kSeqBase + (port == 80 ? 0 : 0x80) + i;
      const Bytes want = crafted_syn(at("LAB_CLIENT_IP"), at("LAB_VIP"), 41000 + port / 80 * 10 + i, port, seq,
                                     i == 1 ? 0x28 : 0);
      const Arrival& a = ipvs.at(seq);
      const Arrival& b = xdp.at(seq);
      // XDP forwards the client's packet untouched (as DR does). IPVS forwards like a router:
      // it decrements the inner TTL (and so the header checksum); nothing else differs.
      EXPECT_EQ(hex(b.inner), hex(want)) << "XDP changed the inner packet";
      EXPECT_EQ(hex(a.inner), hex(ttl_decremented(want))) << "IPVS changed the inner packet beyond its TTL";
      EXPECT_EQ(a.outer.substr(0, 4), port == 80 ? "ipip" : "gue ");
      EXPECT_EQ(b.outer.substr(0, 4), port == 80 ? "ipip" : "gue ");
      ++per_real_ipvs[a.real];
      ++per_real_xdp[b.real];
      std::printf("seq %08x: ipvs %s [%s] | xdp %s [%s]\n", seq, a.real.c_str(), a.outer.c_str(), b.real.c_str(),
                  b.outer.c_str());
    }
  }
  EXPECT_EQ(per_real_ipvs["rs1"] + per_real_ipvs["rs2"], 2 * kCrafted);
  EXPECT_GE(per_real_xdp["rs2"], 1);
  EXPECT_GE(per_real_ipvs["rs2"], 1);
}

}  // namespace
}  // namespace xlb::vmtest
