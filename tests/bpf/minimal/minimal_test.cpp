#include <bpf/libbpf.h>
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
  int table_fd() const { return bpf_program__fd(skel_->progs.xlb_minimal_table); }

  static PacketSpec spec(const char* src, const char* dst, std::uint8_t proto) {
    PacketSpec p;
    p.src = Address::parse(src);
    p.dst = Address::parse(dst);
    p.proto = proto;
    return p;
  }

  void expect_passes_what_has_no_ports(int prog) const;

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

TEST_F(MinimalProgram, TableBaselineBouncesAsTheMinimalDoes) {
  const PacketSpec p = spec("198.18.0.1", "198.18.0.2", kTcp);
  const RunResult r = test_run(table_fd(), build_packet(p));
  EXPECT_EQ(r.action, XDP_TX);
  EXPECT_EQ(frame_dst_mac(r.frame), kNextHop);
  EXPECT_EQ(frame_src_mac(r.frame), p.dst_mac);
}

TEST_F(MinimalProgram, TableBaselineInsertsANewFlowWithTheBalancersKey) {
  PacketSpec v4 = spec("198.18.0.1", "198.18.0.2", kTcp);
  v4.sport = 40000;
  v4.dport = 443;
  const PacketSpec v6 = spec("2001:db8::1", "2001:db8::2", kUdp);
  for (const auto& p : {v4, v6}) {
    EXPECT_EQ(test_run(table_fd(), build_packet(p)).action, XDP_TX);
    const xlb_flow_key key = make_flow_key(p);
    xlb_flow value{};
    EXPECT_EQ(bpf_map__lookup_elem(skel_->maps.flows, &key, sizeof(key), &value, sizeof(value), 0), 0)
        << "IPv" << int(p.dst.family) << ": no entry under the balancer's key";
    EXPECT_EQ(value.real_id, 1u);
  }
  EXPECT_EQ(keys_of_flows_map(skel_->maps.flows).size(), 2u);
}

TEST_F(MinimalProgram, TableBaselineFindsAKnownFlowInsteadOfWritingIt) {
  const PacketSpec p = spec("198.18.0.1", "198.18.0.2", kTcp);
  const xlb_flow_key key = make_flow_key(p);
  const xlb_flow known{.real_id = 7, .vip_id = 0, .last_seen = 0, .created = 0, .client_state = 0, .pad = 0};
  ASSERT_EQ(bpf_map__update_elem(skel_->maps.flows, &key, sizeof(key), &known, sizeof(known), BPF_ANY), 0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(test_run(table_fd(), build_packet(p)).action, XDP_TX);
  xlb_flow value{};
  ASSERT_EQ(bpf_map__lookup_elem(skel_->maps.flows, &key, sizeof(key), &value, sizeof(value), 0), 0);
  EXPECT_EQ(value.real_id, 7u) << "an update on every packet would cost an insert each, and is not what it measures";
  EXPECT_EQ(keys_of_flows_map(skel_->maps.flows).size(), 1u);
}

TEST_F(MinimalProgram, PassesWhatHasNoPorts) {
  for (const int prog : {fd(), table_fd()}) {
    SCOPED_TRACE(prog == fd() ? "xlb_minimal" : "xlb_minimal_table");
    expect_passes_what_has_no_ports(prog);
  }
  EXPECT_TRUE(keys_of_flows_map(skel_->maps.flows).empty()) << "what passes is not a flow";
}

void MinimalProgram::expect_passes_what_has_no_ports(int prog) const {
  const PacketSpec quoted = spec("2001:db8::2", "2001:db8::1", kTcp);
  const Bytes icmp6 = build_icmp6_packet_too_big(quoted.src_mac, quoted.dst_mac, Address::parse("2001:db8::fe"),
                                                 quoted.dst, ip_part(build_packet(quoted)), 1280);
  EXPECT_EQ(test_run(prog, icmp6).action, XDP_PASS);
  PacketSpec ext = spec("2001:db8::1", "2001:db8::2", kTcp);
  ext.ipv6_dest_options = true;  // the baseline reads no extension header
  EXPECT_EQ(test_run(prog, build_packet(ext)).action, XDP_PASS);
  Bytes runt = build_packet(spec("2001:db8::1", "2001:db8::2", kTcp));
  runt.resize(14 + 40 + 2);  // the ports cut off
  EXPECT_EQ(test_run(prog, runt).action, XDP_PASS);
  Bytes arp(60, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_EQ(test_run(prog, arp).action, XDP_PASS);
}

}  // namespace
}  // namespace xlb::bpftest
