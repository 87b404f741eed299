#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <memory>

#include "tests/bpf/support/harness.hpp"
#include "xlb/minimal.skel.h"

namespace xlb::bpftest {
namespace {

const Mac kNextHop{0x02, 0x4e, 0x00, 0x00, 0x00, 0x07};

class MinimalProgram : public ::testing::Test {
 protected:
  void SetUp() override {
    skel_.reset(xlb_minimal__open_and_load());
    ASSERT_TRUE(skel_) << "loading the minimal program";
    for (std::size_t i = 0; i < kNextHop.size(); ++i) skel_->bss->next_hop[i] = kNextHop[i];
  }

  int fd() const { return bpf_program__fd(skel_->progs.xlb_minimal); }

  static PacketSpec spec(const char* src, const char* dst, std::uint8_t proto) {
    PacketSpec p;
    p.src = Address::parse(src);
    p.dst = Address::parse(dst);
    p.proto = proto;
    return p;
  }

  struct Destroy {
    void operator()(xlb_minimal* s) const { xlb_minimal__destroy(s); }
  };
  std::unique_ptr<xlb_minimal, Destroy> skel_;
};

TEST_F(MinimalProgram, BouncesTcpAndUdpOfBothFamiliesWithTheNextHopsMac) {
  for (const auto& p : {spec("198.18.0.1", "198.18.0.2", kTcp), spec("198.18.0.1", "198.18.0.2", kUdp),
                        spec("2001:db8::1", "2001:db8::2", kTcp), spec("2001:db8::1", "2001:db8::2", kUdp)}) {
    const RunResult r = test_run(fd(), build_packet(p));
    EXPECT_EQ(r.action, XDP_TX) << "IPv" << int(p.dst.family) << " proto " << int(p.proto);
    EXPECT_EQ(frame_dst_mac(r.frame), kNextHop);
    EXPECT_EQ(frame_src_mac(r.frame), p.dst_mac) << "the frame leaves from the address it came to";
  }
}

TEST_F(MinimalProgram, PassesWhatHasNoPorts) {
  const PacketSpec quoted = spec("2001:db8::2", "2001:db8::1", kTcp);
  const Bytes icmp6 = build_icmp6_packet_too_big(quoted.src_mac, quoted.dst_mac, Address::parse("2001:db8::fe"),
                                                 quoted.dst, ip_part(build_packet(quoted)), 1280);
  EXPECT_EQ(test_run(fd(), icmp6).action, XDP_PASS);
  PacketSpec ext = spec("2001:db8::1", "2001:db8::2", kTcp);
  ext.ipv6_dest_options = true;  // the baseline reads no extension header
  EXPECT_EQ(test_run(fd(), build_packet(ext)).action, XDP_PASS);
  Bytes runt = build_packet(spec("2001:db8::1", "2001:db8::2", kTcp));
  runt.resize(14 + 40 + 2);  // the ports cut off
  EXPECT_EQ(test_run(fd(), runt).action, XDP_PASS);
  Bytes arp(60, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_EQ(test_run(fd(), arp).action, XDP_PASS);
}

}  // namespace
}  // namespace xlb::bpftest
