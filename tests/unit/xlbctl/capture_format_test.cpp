// What xlbctl capture writes, read back by the real readers (tcpdump, tshark), and the words
// a record turns into. No privileges: records are made here, not by the program.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "tests/bpf/support/packet.hpp"
#include "tests/support/shell.hpp"
#include "tools/xlbctl/pcapng.hpp"
#include "tools/xlbctl/verdict_text.hpp"

namespace xlb::ctl {
namespace {

using bpftest::Address;
using bpftest::PacketSpec;

PacketSpec syn() {
  PacketSpec p;
  p.src = Address::parse("198.18.0.10");
  p.dst = Address::parse("198.18.7.100");
  p.sport = 40000;
  p.dport = 80;
  return p;
}

xlb_capture_record forwarded_record(const bpftest::Bytes& frame) {
  xlb_capture_record r{};
  r.action = XDP_TX;
  r.reason = XLB_CTR_TX;
  r.path = XLB_CAPTURE_PATH_SCHEDULER;
  r.flags = XLB_CAPTURE_F_FLOW_WRITTEN | XLB_CAPTURE_F_PERSIST_WRITTEN;
  r.real_id = 3;
  r.vip_id = 1;
  r.len = static_cast<std::uint32_t>(frame.size());
  r.caplen = r.len;
  return r;
}

class PcapngFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() / ("xlb-capture-" + std::to_string(::getpid()) + ".pcapng");
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::filesystem::path path_;
};

TEST_F(PcapngFile, TcpdumpAndTsharkReadPacketsAndComments) {
  bpftest::Bytes frame = bpftest::build_packet(syn());
  frame[5] = 0x15;  // as a DR rewrite leaves it: the real's MAC
  {
    std::ofstream out(path_, std::ios::binary);
    PcapngWriter pcap(out);
    const auto left = pcap.add_interface("xlb-out", "as it left", 256);
    const auto came = pcap.add_interface("xlb-in", "as it arrived", 256);
    pcap.packet(left, 1'700'000'000'123'456'789ull, frame, static_cast<std::uint32_t>(frame.size()),
                describe(forwarded_record(frame), frame, nullptr));
    pcap.packet(came, 1'700'000'000'123'456'789ull, bpftest::Bytes(frame.begin(), frame.begin() + 40), 1000,
                "cut to 40 bytes");
  }
  // The layout, as the format says: SHB magic, byte-order magic, then whole blocks.
  std::ifstream in(path_, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(bytes.size(), 28u);
  EXPECT_EQ(bytes.substr(0, 4), std::string("\x0a\x0d\x0d\x0a", 4));
  EXPECT_EQ(bytes.substr(8, 4), std::string("\x4d\x3c\x2b\x1a", 4));
  EXPECT_EQ(bytes.size() % 4, 0u);

  // The readers are in tools/packages.txt: without them this is a broken set-up, not a skip.
  ASSERT_EQ(test::run("command -v tcpdump && command -v tshark").status, 0) << "tcpdump and tshark (make deps installs them)";
  const std::string tcpdump = test::run("tcpdump -nn -e -r " + path_.string()).out;
  EXPECT_NE(tcpdump.find("198.18.0.10.40000 > 198.18.7.100.80: Flags [S]"), std::string::npos) << tcpdump;
  EXPECT_NE(tcpdump.find("02:1b:00:00:00:15"), std::string::npos) << tcpdump;
  const std::string tshark =
      test::run("tshark -r " + path_.string() +
                " -T fields -e frame.interface_name -e frame.len -e frame.cap_len -e frame.comment")
          .out;
  EXPECT_NE(tshark.find("xlb-out\t54\t54\t198.18.0.10:40000 -> 198.18.7.100:80 TCP SYN: forwarded: new flow, "
                        "scheduler picked real #3, connection entry written, persistence entry written"),
            std::string::npos)
      << tshark;
  EXPECT_NE(tshark.find("xlb-in\t1000\t40\tcut to 40 bytes"), std::string::npos) << tshark;
  // Nanosecond timestamps survive.
  const std::string times = test::run("tshark -r " + path_.string() + " -T fields -e frame.time_epoch").out;
  EXPECT_NE(times.find("1700000000.123456789"), std::string::npos) << times;
}

TEST(VerdictText, DropsAndPassesNameTheirReason) {
  PacketSpec p = syn();
  p.tcp_flags = 0x03;
  const bpftest::Bytes frame = bpftest::build_packet(p);
  xlb_capture_record r{};
  r.action = XDP_DROP;
  r.reason = XLB_CTR_DROP_BAD_TCP_FLAGS;
  EXPECT_EQ(describe(r, frame, nullptr),
            "198.18.0.10:40000 -> 198.18.7.100:80 TCP SYN+FIN: dropped: TCP flags no connection sends (none, "
            "SYN+FIN, SYN+RST) [drop_bad_tcp_flags]");
  r.action = XDP_PASS;
  r.reason = XLB_CTR_PASS_INACTIVE;
  EXPECT_EQ(verdict_text(r, frame, nullptr),
            "passed to the kernel: new flow to a VIP this node is not master of [pass_inactive]");
  r.reason = XLB_CTR_LOCAL;
  r.real_id = 4;
  r.path = XLB_CAPTURE_PATH_CONNECTION;
  EXPECT_EQ(verdict_text(r, frame, nullptr),
            "forwarded: established (connection table), real real #4, local real: to this node's stack (XDP_PASS)");
}

// A TUN forward is recorded as it leaves: outer headers first. The words name the tunnel and
// its outer destination, and the packet is the client's, inside.
TEST(VerdictText, TunnelForwardsNameTheTunnelAndTheClientsPacket) {
  const bpftest::Bytes inner = bpftest::build_packet(syn());
  const auto encapsulated = [&](std::uint8_t next, bool gue) {
    bpftest::Bytes f = {0x02, 0x1b, 0, 0, 0, 0x99, 0x02, 0x1b, 0, 0, 0, 0xee, 0x08, 0x00};
    const bpftest::Bytes outer_ip = {0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, next, 0, 0, 198, 18, 2, 1, 198, 18, 100, 1};
    f.insert(f.end(), outer_ip.begin(), outer_ip.end());
    if (gue) {
      const bpftest::Bytes udp_gue = {0xc1, 0x23, 0x17, 0xc0, 0, 0, 0, 0, 0, 4, 0, 0};
      f.insert(f.end(), udp_gue.begin(), udp_gue.end());
    }
    f.insert(f.end(), inner.begin() + 14, inner.end());
    return f;
  };
  for (const bool gue : {false, true}) {
    const bpftest::Bytes frame = encapsulated(gue ? IPPROTO_UDP : IPPROTO_IPIP, gue);
    xlb_capture_record r = forwarded_record(frame);
    r.flags = XLB_CAPTURE_F_TUNNEL;
    r.path = XLB_CAPTURE_PATH_FLOW_CACHE;
    r.action = XDP_REDIRECT;
    r.reason = XLB_CTR_REDIRECT;
    r.egress_ifindex = 999999;  // no such interface here
    EXPECT_EQ(describe(r, frame, nullptr),
              std::string("198.18.0.10:40000 -> 198.18.7.100:80 TCP SYN: forwarded: established (flow cache), real "
                          "real #3, TUN ") +
                  (gue ? "gue" : "ipip") + " to 198.18.100.1, next hop 02:1b:00:00:00:99 via ifindex 999999 (redirect)");
    // What trace matches the client's port on.
    const auto sent = client_frame(r, frame);
    ASSERT_EQ(sent.size(), inner.size());
    EXPECT_TRUE(std::equal(sent.begin() + 12, sent.end(), inner.begin() + 12));
    // Without the flag the frame is taken as it is (a DR forward of an IPIP packet, say).
    r.flags = 0;
    EXPECT_EQ(client_frame(r, frame).size(), frame.size());
  }
}

TEST(VerdictText, PacketSummaryReadsWhatItCan) {
  PacketSpec v6 = syn();
  v6.src = Address::parse("2001:db8::c");
  v6.dst = Address::parse("2001:db8::10");
  v6.proto = bpftest::kUdp;
  EXPECT_EQ(packet_summary(bpftest::build_packet(v6)), "[2001:db8::c]:40000 -> [2001:db8::10]:80 UDP");
  EXPECT_EQ(packet_summary(bpftest::Bytes(10, 0)), "runt frame");
  bpftest::Bytes arp(60, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_EQ(packet_summary(arp), "ethertype 0x0806");
}

}  // namespace
}  // namespace xlb::ctl
