// xlbctl capture and trace against a real xlbd forwarding real HTTP traffic in the two-node lab
// (tools/lab/xlb-lab.sh): the SYN as it left for its real, with that real's MAC and a comment
// naming it; a malformed segment recorded as dropped with its reason; filters that keep the
// rest out (and say how much); tcpdump and tshark reading the files; a SIGKILLed capture that
// the program ends by itself; trace lines for a new flow, an established one, a persistence
// hit and the sorry server. The lab is torn down by the fixture, also when a test fails.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/shell.hpp"

namespace {

using xlb::test::binary_dir;
using xlb::test::run;
using Shell = xlb::test::Run;
using xlb::test::source_dir;
using xlb::test::wait_for;

constexpr const char* kVip = "198.18.0.100";
constexpr const char* kClient = "198.18.0.10";
constexpr std::chrono::milliseconds kPatience{15000};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool alive(int pid) { return pid > 0 && ::kill(pid, 0) == 0; }

// tshark's standard output alone (it warns about running as root on stderr).
std::string tshark(const std::string& args) { return run("{ tshark " + args + " 2>/dev/null; }").out; }

class CaptureLab : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    std::ostringstream s;
    s << "c" << std::hex << (::getpid() & 0xfffffff);
    suffix_ = s.str().substr(0, 8);
    state_ = "/run/xlb-lab-" + suffix_;
    const Shell up = lab("up " + suffix_ + " " + binary_dir());
    up_ok_ = up.status == 0;
    up_log_ = up.out;
    if (up_ok_) {
      const auto m = lab("master " + suffix_).out;
      node_ = m.find("lb2") != std::string::npos ? 2 : 1;
    }
  }
  static void TearDownTestSuite() {
    if (!suffix_.empty()) lab("down " + suffix_);
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: network namespaces, XDP, bpffs";
    ASSERT_TRUE(up_ok_) << "the lab did not come up:\n" << up_log_;
  }
  void TearDown() override {
    for (int pid : started_) {
      if (alive(pid)) ::kill(pid, SIGKILL);
    }
    for (const auto& f : files_) std::filesystem::remove(f);
  }

  static Shell lab(const std::string& args) { return run(source_dir() + "/tools/lab/xlb-lab.sh " + args); }
  static std::string ns(const std::string& what) { return "xlb-" + what + "-" + suffix_; }
  static std::string lb_ns() { return ns("lb" + std::to_string(node_)); }

  // xlbctl in the master's namespace (interface names resolve there), on its pins and socket.
  static std::string xlbctl(const std::string& args) {
    const std::string n = std::to_string(node_);
    return "ip netns exec " + lb_ns() + " " + binary_dir() + "/tools/xlbctl/xlbctl -s " + state_ + "/lb" + n +
           ".sock --pin-dir " + state_ + "/bpf/lb" + n + " " + args;
  }

  // Starts xlbctl in the background and waits until it says it captures; its pid.
  int start(const std::string& args, const std::string& tag) {
    const std::string err = file(tag + ".err"), out = file(tag + ".out");
    const Shell r = run("{ " + xlbctl(args) + " >" + out + " 2>" + err + " & echo $! ; }");
    const int pid = std::atoi(r.out.c_str());
    started_.push_back(pid);
    const bool on = wait_for([&] { return slurp(err).find("xlbctl: capturing") != std::string::npos || !alive(pid); },
                             kPatience)
                        .has_value();
    EXPECT_TRUE(on && alive(pid)) << "xlbctl did not start capturing: " << slurp(err);
    return pid;
  }
  // SIGINT, as an operator's ^C: xlbctl reads what is left, reports and switches capture off.
  void interrupt(int pid) {
    ::kill(pid, SIGINT);
    wait_exit(pid);
  }
  void wait_exit(int pid) {
    EXPECT_TRUE(wait_for([&] { return !alive(pid); }, kPatience).has_value()) << "xlbctl did not stop by itself";
  }
  std::string file(const std::string& name) {
    const std::string path = state_ + "/capture-" + name;
    files_.push_back(path);
    return path;
  }
  static std::string mac_of(const std::string& real_ns) {
    auto mac = run("ip netns exec " + real_ns + " cat /sys/class/net/eth0/address").out;
    while (!mac.empty() && (mac.back() == '\n' || mac.back() == ' ')) mac.pop_back();
    return mac;
  }
  // The capture settings the program reads, as bpftool prints them.
  static std::string capture_settings() {
    return run("bpftool -j map dump pinned " + state_ + "/bpf/lb" + std::to_string(node_) + "/capture").out;
  }
  // A segment with SYN+FIN from the client to the VIP (a raw socket: no stack sends one).
  static Shell send_syn_fin() {
    const std::string py =
        "import socket,struct\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_TCP)\n"
        "s.sendto(struct.pack('!HHIIBBHHH',40404,80,1,0,5<<4,0x03,1024,0,0),('" +
        std::string(kVip) + "',0))\n";
    return run("ip netns exec " + ns("cl") + " python3 -c \"" + py + "\"");
  }

  static std::string suffix_, state_, up_log_;
  static bool up_ok_;
  static int node_;
  std::vector<int> started_;
  std::vector<std::string> files_;
};

std::string CaptureLab::suffix_, CaptureLab::state_, CaptureLab::up_log_;
bool CaptureLab::up_ok_ = false;
int CaptureLab::node_ = 1;

TEST_F(CaptureLab, VipCaptureShowsEachSynWithItsRealsMacAndAComment) {
  const std::string pcap = file("vip.pcapng");
  const int pid = start("capture -w " + pcap + " --vip " + kVip + ":80 --duration 20 --arrived", "vip");
  ASSERT_EQ(lab("requests " + suffix_ + " 4").status, 0);
  interrupt(pid);
  const std::string rs1_mac = mac_of(ns("rs1")), rs2_mac = mac_of(ns("rs2"));
  // The SYNs as they left the program (xlb-out): to a real's MAC, and the comment names that
  // real; as they arrived (xlb-in, --arrived): to this node's MAC.
  std::vector<std::string> syns, arrived;
  for (const auto& line : lines_of(tshark("-r " + pcap + " -Y 'tcp.flags.syn==1 && tcp.flags.ack==0' -T fields "
                                          "-e frame.interface_name -e eth.dst -e frame.comment"))) {
    if (line.rfind("xlb-out\t", 0) == 0) syns.push_back(line.substr(8));
    if (line.rfind("xlb-in\t", 0) == 0) arrived.push_back(line.substr(7, 17));
  }
  ASSERT_EQ(syns.size(), 4u) << tshark("-r " + pcap);
  for (const auto& line : syns) {
    const bool to_rs1 = line.rfind(rs1_mac, 0) == 0, to_rs2 = line.rfind(rs2_mac, 0) == 0;
    EXPECT_TRUE(to_rs1 || to_rs2) << line;
    EXPECT_NE(line.find(std::string("new flow, wrr picked ") + (to_rs1 ? "198.18.0.11" : "198.18.0.12")),
              std::string::npos)
        << line;
    EXPECT_NE(line.find("DR to " + (to_rs1 ? rs1_mac : rs2_mac) + " via eth0 (XDP_TX)"), std::string::npos) << line;
  }
  const std::string lb_mac = mac_of(lb_ns());
  ASSERT_EQ(arrived.size(), 4u);
  for (const auto& line : arrived) EXPECT_EQ(line, lb_mac);
  const Shell tcpdump = run("tcpdump -nn -r " + pcap);
  EXPECT_EQ(tcpdump.status, 0) << tcpdump.out;
  EXPECT_NE(tcpdump.out.find(std::string("> ") + kVip + ".80: Flags [S]"), std::string::npos) << tcpdump.out;
}

TEST_F(CaptureLab, MalformedSegmentAppearsAsDroppedWithItsReason) {
  const std::string pcap = file("drop.pcapng");
  const int pid = start("capture -w " + pcap + " --verdict dropped --client " + kClient + " --count 1 --duration 10",
                        "drop");
  ASSERT_EQ(send_syn_fin().status, 0);
  wait_exit(pid);
  // The packet itself is in the file; its comment is the verdict.
  const auto records = lines_of(
      tshark("-r " + pcap + " -T fields -e tcp.srcport -e tcp.flags -e frame.comment"));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0],
            "40404\t0x0003\tdropped: TCP flags no connection sends (none, SYN+FIN, SYN+RST) [drop_bad_tcp_flags]");
}

TEST_F(CaptureLab, FiltersKeepOtherTrafficOutAndSaySo) {
  const std::string pcap = file("none.pcapng");
  const int pid = start("capture -w - --client 198.18.0.99 --duration 1.5", "none");
  ASSERT_EQ(lab("requests " + suffix_ + " 3").status, 0);
  wait_exit(pid);
  const std::string err = slurp(state_ + "/capture-none.err");
  EXPECT_NE(err.find("xlbctl: 0 packets written; the program recorded 0, kept out "), std::string::npos) << err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(err, m, std::regex("kept out ([0-9]+) by the filters"))) << err;
  EXPECT_GE(std::stoul(m[1]), 15u) << "3 HTTP connections are more packets than that";
  // Standard output held a pcapng without packets, which tcpdump reads as such.
  const Shell read = run("tcpdump -nn -r " + state_ + "/capture-none.out 2>/dev/null");
  EXPECT_EQ(read.status, 0);
  EXPECT_EQ(read.out.find("IP "), std::string::npos) << read.out;
}

TEST_F(CaptureLab, SigkilledCaptureIsSwitchedOffAndASecondIsRefusedMeanwhile) {
  const int pid = start("capture -w /dev/null --duration 60", "killed");
  const Shell second = run(xlbctl("capture -w /dev/null --duration 1"));
  EXPECT_EQ(second.status, 1);
  EXPECT_NE(second.out.find("another capture is running"), std::string::npos) << second.out;
  EXPECT_NE(capture_settings().find("\"enabled\":1,"), std::string::npos) << capture_settings();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  wait_exit(pid);
  // The lease (3 s) runs out; the next packets find it so and switch capture off.
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  ASSERT_EQ(lab("requests " + suffix_ + " 2").status, 0);
  const std::string settings = capture_settings();
  EXPECT_NE(settings.find("\"enabled\":0,"), std::string::npos) << settings;
  EXPECT_EQ(settings.find("\"owner\":0,"), std::string::npos) << "the program, not xlbctl, switched it off: " << settings;
  // And a new capture starts at once.
  const Shell next = run(xlbctl("capture -w /dev/null --duration 0.2"));
  EXPECT_EQ(next.status, 0) << next.out;
}

TEST_F(CaptureLab, TraceNamesNewEstablishedPersistentAndSorryDecisions) {
  const std::string n = std::to_string(node_);
  int pid = start(std::string("trace ") + kClient + ":41001 --count 2 --duration 10", "trace1");
  ASSERT_EQ(lab("request-from " + suffix_ + " 41001").status, 0);
  wait_exit(pid);
  auto lines = lines_of(slurp(state_ + "/capture-trace1.out"));
  ASSERT_EQ(lines.size(), 2u) << slurp(state_ + "/capture-trace1.err");
  EXPECT_TRUE(std::regex_search(lines[0], std::regex("^198\\.18\\.0\\.10:41001 -> 198\\.18\\.0\\.100:80 TCP SYN: "
                                                     "forwarded: new flow, wrr picked 198\\.18\\.0\\.1[12] \\(weight "
                                                     "[12]\\), connection entry written, service 198\\.18\\.0\\.100:80, "
                                                     "DR to ..:..:..:..:..:.. via eth0 \\(XDP_TX\\)$")))
      << lines[0];
  EXPECT_NE(lines[1].find("TCP ACK: forwarded: established (connection table), real 198.18.0.1"), std::string::npos)
      << lines[1];

  // Persistence: the lab's persist configuration, reloaded; the second connection follows the first.
  ASSERT_EQ(lab("conf " + suffix_ + " " + n + " persist").status, 0);
  ASSERT_EQ(run(xlbctl("reload")).status, 0);
  pid = start(std::string("trace ") + kClient + " --duration 20", "trace2");
  ASSERT_EQ(lab("request-from " + suffix_ + " 41002").status, 0);
  ASSERT_EQ(lab("request-from " + suffix_ + " 41003").status, 0);
  interrupt(pid);
  const std::string persisted = slurp(state_ + "/capture-trace2.out");
  EXPECT_NE(persisted.find("198.18.0.10:41002 -> 198.18.0.100:80 TCP SYN: forwarded: new flow, wrr picked"),
            std::string::npos)
      << persisted;
  EXPECT_NE(persisted.find("persistence entry written"), std::string::npos) << persisted;
  EXPECT_NE(persisted.find("198.18.0.10:41003 -> 198.18.0.100:80 TCP SYN: forwarded: new flow, persistence sent it to"),
            std::string::npos)
      << persisted;

  // No real left: the sorry server, this node's own (127.0.0.1: a local real).
  lab("rs-stop " + suffix_ + " rs1");
  lab("rs-stop " + suffix_ + " rs2");
  const bool down = wait_for([&] {
                      const auto list = run(xlbctl("--json list")).out;
                      return list.find("\"health\": \"up\"") == std::string::npos;
                    },
                    kPatience)
                        .has_value();
  ASSERT_TRUE(down) << run(xlbctl("--json list")).out;
  pid = start(std::string("trace ") + kClient + ":41004 --count 1 --duration 10", "trace3");
  lab("request-from " + suffix_ + " 41004");
  wait_exit(pid);
  const std::string sorry = slurp(state_ + "/capture-trace3.out");
  EXPECT_NE(sorry.find("TCP SYN: forwarded: new flow, no usable real: sorry server 127.0.0.1"), std::string::npos)
      << sorry;
  EXPECT_NE(sorry.find("local real: to this node's stack (XDP_PASS)"), std::string::npos) << sorry;
  lab("rs-start " + suffix_ + " rs1");
  lab("rs-start " + suffix_ + " rs2");
}

}  // namespace
