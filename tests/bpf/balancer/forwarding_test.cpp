// The forwarding path: what is and is not a VIP packet, the DR rewrite, IPv6, ICMP errors,
// fragments, inactive VIPs and the statistics.
#include <net/if.h>

#include <cstring>
#include <optional>
#include <stdexcept>

#include "tests/bpf/balancer/fixture.hpp"

namespace xlb::bpftest {
namespace {

using ForwardingTest = BalancerTest;

// The frame must be the input with exactly the two MAC addresses replaced.
void expect_dr_rewrite(const Bytes& in, const RunResult& out, const Mac& real) {
  ASSERT_EQ(out.frame.size(), in.size());
  Bytes expected = in;
  std::memcpy(expected.data(), real.data(), 6);
  std::memcpy(expected.data() + 6, kEgressMac.data(), 6);
  EXPECT_EQ(out.frame, expected) << "dst " << mac_str(frame_dst_mac(out.frame)) << " src "
                                 << mac_str(frame_src_mac(out.frame));
}

TEST_F(ForwardingTest, MacRewriteIsExactForEveryHeaderShape) {
  add_real(1);
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}}));
  auto v6 = service(XLB_SCHED_WRR, kVip6);
  v6.vip_id = 2;
  lb().configure(v6, members({{1, 1}}));

  std::vector<PacketSpec> shapes;
  shapes.push_back(tcp(client_v4(1), 1000));
  auto with_payload = tcp(client_v4(2), 1000);
  with_payload.payload = 1000;
  with_payload.tcp_flags = kTcpAck;
  shapes.push_back(with_payload);
  auto options = tcp(client_v4(3), 1000);
  options.ipv4_options = 40;
  shapes.push_back(options);
  shapes.push_back(tcp(client_v6(4), 1000, kVip6));
  auto ext = tcp(client_v6(5), 1000, kVip6);
  ext.ipv6_dest_options = true;
  shapes.push_back(ext);
  for (const auto& spec : shapes) {
    const Bytes in = build_packet(spec);
    const auto out = lb().run(in);
    EXPECT_EQ(out.action, XDP_TX) << spec.src.str();
    expect_dr_rewrite(in, out, real_mac(1));
  }
}

TEST_F(ForwardingTest, RealOnAnotherInterfaceIsReachedThroughTheDevmap) {
  std::uint32_t other = 0;
  if (auto* names = if_nameindex()) {
    for (auto* n = names; n->if_index != 0; ++n) {
      if (n->if_index != kLoopback) {
        other = n->if_index;
        break;
      }
    }
    if_freenameindex(names);
  }
  if (other == 0) GTEST_SKIP() << "this machine has no network interface besides loopback";
  lb().put_real(1, make_real(real_mac(1), kEgressMac, other, real_addr(1)));
  lb().add_tx_port(other);
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}}));

  const Bytes in = build_packet(tcp(client_v4(1), 1000));
  const auto via_lo = lb().run(in);  // ingress loopback, real elsewhere: redirect
  EXPECT_EQ(via_lo.action, XDP_REDIRECT);
  expect_dr_rewrite(in, via_lo, real_mac(1));
  EXPECT_EQ(lb().counter(XLB_CTR_REDIRECT), 1u);

  const auto same = lb().run(in, other);  // ingress is the real's interface: bounce it
  EXPECT_EQ(same.action, XDP_TX);
  expect_dr_rewrite(in, same, real_mac(1));
  EXPECT_EQ(lb().counter(XLB_CTR_TX), 1u);
}

TEST_F(ForwardingTest, NonVipTrafficPassesByteIdentical) {
  add_real(1);
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}}));
  auto v6 = service(XLB_SCHED_WRR, kVip6);
  v6.vip_id = 2;
  lb().configure(v6, members({{1, 1}}));

  std::vector<Bytes> frames;
  frames.push_back(build_packet(tcp(client_v4(1), 1000, kOther4)));             // another address
  frames.push_back(build_packet(tcp(client_v4(1), 1000, kVip4, 81)));           // another port
  auto udp = tcp(client_v4(1), 1000);
  udp.proto = kUdp;
  frames.push_back(build_packet(udp));                                          // another protocol
  frames.push_back(build_packet(tcp(client_v6(1), 1000, kOther6)));
  auto later = tcp(client_v4(1), 1000, kOther4);
  later.fragment = true;
  later.more_fragments = true;
  frames.push_back(build_packet(later));                                        // fragment, not for a VIP
  Bytes arp(42, 0);
  std::memset(arp.data(), 0xff, 6);
  arp[12] = 0x08;
  arp[13] = 0x06;
  frames.push_back(arp);
  frames.push_back(build_icmp4_frag_needed(kEgressMac, kEgressMac, kRouter4, kVip4,
                                           ip_part(build_packet(tcp(kVip4, 80, client_v4(1), 1000))), 1400));
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto out = lb().run(frames[i]);
    EXPECT_EQ(out.action, XDP_PASS) << "frame " << i;
    EXPECT_EQ(out.frame, frames[i]) << "frame " << i;
  }
  EXPECT_EQ(lb().counter(XLB_CTR_PASS), frames.size());
  EXPECT_EQ(lb().flow_count(), 0u);
}

// The benchmarks' per-run measure (bpftest::cpu_ns_per_run) runs the frame as often as asked and
// refuses a run whose verdict is not the expected one, or a repeat too small to difference.
TEST_F(ForwardingTest, PerRunMeasureCountsEveryRunAndChecksTheVerdict) {
  add_real(1);
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}}));
  const Bytes other = build_packet(tcp(client_v4(1), 1000, kOther4));
  EXPECT_GT(cpu_ns_per_run(lb().prog_fd(), other, 1000000, XDP_PASS), 0.0);
  EXPECT_EQ(lb().counter(XLB_CTR_PASS), 1100000u) << "repeat=1M and the repeat=100k it subtracts";
  EXPECT_THROW(cpu_ns_per_run(lb().prog_fd(), other, 100000, XDP_TX), std::runtime_error);
  EXPECT_THROW(cpu_ns_per_run(lb().prog_fd(), other, 2, XDP_PASS), std::invalid_argument);
}

TEST_F(ForwardingTest, Ipv6VipWithAndWithoutExtensionHeaders) {
  add_real(1, 0, 6);
  add_real(2, 0, 6);
  auto spec = service(XLB_SCHED_WRR, kVip6, 443);
  spec.vip_id = 3;
  lb().configure(spec, members({{1, 1}, {2, 1}}));
  EXPECT_EQ(send(tcp(client_v6(1), 1000, kVip6, 443)), 1u);
  EXPECT_EQ(send(tcp(client_v6(2), 1000, kVip6, 443)), 2u);
  auto ext = tcp(client_v6(1), 1000, kVip6, 443);
  ext.ipv6_dest_options = true;
  ext.tcp_flags = kTcpAck;
  EXPECT_EQ(send(ext), 1u) << "the same 5-tuple behind an extension header is the same flow";
  const auto flow = lb().flow(make_flow_key(tcp(client_v6(2), 1000, kVip6, 443)));
  ASSERT_TRUE(flow.has_value());
  EXPECT_EQ(flow->real_id, 2u);
  EXPECT_EQ(flow->vip_id, 3u);
  EXPECT_EQ(lb().vip_stats(3).packets, 3u);
}

TEST_F(ForwardingTest, Ipv4OptionsDoNotHideThePorts) {
  add_real(1);
  add_real(2);
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}, {2, 1}}));
  ASSERT_EQ(send(tcp(client_v4(1), 1000)), 1u);
  auto opts = tcp(client_v4(1), 1000);
  opts.ipv4_options = 12;
  opts.tcp_flags = kTcpAck;
  EXPECT_EQ(send(opts), 1u) << "packet with options was not matched to its flow";
}

TEST_F(ForwardingTest, IcmpErrorsFollowTheirFlowsReal) {
  for (std::uint32_t id : {1, 2, 3}) add_real(id, 0, 4);
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}, {2, 1}, {3, 1}}));
  auto v6 = service(XLB_SCHED_WRR, kVip6);
  v6.vip_id = 2;
  lb().configure(v6, members({{1, 1}, {2, 1}, {3, 1}}));

  for (std::uint32_t c = 0; c < 6; ++c) {
    const auto client = c < 3 ? client_v4(c) : client_v6(c);
    const auto& vip = c < 3 ? kVip4 : kVip6;
    const std::uint16_t port = static_cast<std::uint16_t>(33000 + c);
    const std::uint32_t real = send(tcp(client, port, vip));
    ASSERT_NE(real, 0u);
    // The real's answer (VIP -> client) met a link with a smaller MTU on the way back.
    const Bytes reply = ip_part(build_packet(tcp(vip, 80, client, port)));
    const Bytes error = c < 3 ? build_icmp4_frag_needed(kEgressMac, kEgressMac, kRouter4, kVip4, reply, 1400)
                              : build_icmp6_packet_too_big(kEgressMac, kEgressMac, kRouter6, kVip6, reply, 1400);
    const auto out = lb().run(error);
    EXPECT_EQ(real_of(out), real) << "client " << client.str();
    expect_dr_rewrite(error, out, real_mac(real));
  }
  EXPECT_EQ(lb().counter(XLB_CTR_ICMP_FORWARDED), 6u);
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 6u) << "an ICMP error must not create a flow";

  // An error about a flow the table does not know is the kernel's business.
  const Bytes stranger = build_icmp6_packet_too_big(kEgressMac, kEgressMac, kRouter6, kVip6,
                                                    ip_part(build_packet(tcp(kVip6, 80, client_v6(99), 9))), 1280);
  const auto out = lb().run(stranger);
  EXPECT_EQ(out.action, XDP_PASS);
  EXPECT_EQ(out.frame, stranger);
}

TEST_F(ForwardingTest, FirstFragmentToVipIsDroppedLaterFragmentsPass) {
  add_real(1);
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}}));
  auto v6 = service(XLB_SCHED_WRR, kVip6);
  v6.vip_id = 2;
  lb().configure(v6, members({{1, 1}}));

  for (const auto& vip : {kVip4, kVip6}) {
    const auto client = vip.family == 4 ? client_v4(1) : client_v6(1);
    auto first = tcp(client, 1000, vip);
    first.fragment = true;
    first.more_fragments = true;
    first.payload = 64;
    EXPECT_EQ(lb().run(build_packet(first)).action, XDP_DROP) << vip.str();
    auto later = first;
    later.fragment_offset = 10;
    later.more_fragments = false;
    const Bytes in = build_packet(later);
    const auto out = lb().run(in);
    EXPECT_EQ(out.action, XDP_PASS) << vip.str();
    EXPECT_EQ(out.frame, in);
  }
  EXPECT_EQ(lb().counter(XLB_CTR_DROP_FRAGMENT), 2u);
  EXPECT_EQ(lb().flow_count(), 0u);
}

TEST_F(ForwardingTest, InactiveVipPassesNewFlowsAndKeepsEstablishedOnes) {
  add_real(1);
  auto spec = service(XLB_SCHED_WRR);
  spec.flags = 0;  // configured, but this node is not the VRRP master
  lb().configure(spec, members({{1, 1}}));
  const Bytes in = build_packet(tcp(client_v4(1), 1000));
  const auto out = lb().run(in);
  EXPECT_EQ(out.action, XDP_PASS);
  EXPECT_EQ(out.frame, in);
  EXPECT_EQ(lb().counter(XLB_CTR_PASS_INACTIVE), 1u);
  EXPECT_EQ(lb().flow_count(), 0u);

  spec.flags = XLB_VIP_F_ACTIVE;
  lb().configure(spec, members({{1, 1}}));
  EXPECT_EQ(send(tcp(client_v4(1), 1000)), 1u);

  // Back to backup: the established flow keeps going to its real (a restarted or demoted
  // node must not hand it to its kernel, which would reset it); a new one is passed.
  spec.flags = 0;
  lb().configure(spec, members({{1, 1}}));
  EXPECT_EQ(send(tcp(client_v4(1), 1000)), 1u);
  const Bytes fresh = build_packet(tcp(client_v4(2), 1000));
  EXPECT_EQ(lb().run(fresh).action, XDP_PASS);
  EXPECT_EQ(lb().counter(XLB_CTR_PASS_INACTIVE), 2u);
}

TEST_F(ForwardingTest, StatisticsCountPacketsBytesAndNewFlows) {
  add_real(1);
  add_real(2);
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}, {2, 1}}));
  std::uint64_t bytes[3] = {};
  std::uint64_t packets[3] = {};
  for (std::uint32_t c = 0; c < 4; ++c) {
    for (std::uint32_t n = 0; n < 5; ++n) {
      auto p = tcp(client_v4(c), 1000);
      p.payload = 10 * n + c;
      p.tcp_flags = n == 0 ? kTcpSyn : kTcpAck;
      const Bytes frame = build_packet(p);
      const auto real = real_of(lb().run(frame));
      ASSERT_TRUE(real == 1 || real == 2);
      bytes[real] += frame.size();
      ++packets[real];
    }
  }
  lb().run(build_packet(tcp(client_v4(1), 1000, kOther4)));
  for (std::uint32_t id : {1u, 2u}) {
    const auto s = lb().real_stats(id);
    EXPECT_EQ(s.packets, packets[id]) << "real " << id;
    EXPECT_EQ(s.bytes, bytes[id]) << "real " << id;
    EXPECT_EQ(s.new_flows, 2u) << "real " << id;
  }
  const auto v = lb().vip_stats(1);
  EXPECT_EQ(v.packets, 20u);
  EXPECT_EQ(v.bytes, bytes[1] + bytes[2]);
  EXPECT_EQ(v.new_flows, 4u);
  EXPECT_EQ(lb().counter(XLB_CTR_TX), 20u);
  EXPECT_EQ(lb().counter(XLB_CTR_PASS), 1u);
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 4u);
  EXPECT_EQ(lb().vip_stats(0).packets, 0u);
}

TEST_F(ForwardingTest, VipFilterHidesAddressesWithoutTheirBit) {
  add_real(1);
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}}));
  ASSERT_EQ(lb().filter().enabled, 1u);
  lb().set_filter_bit(kVip4, false);
  const Bytes in = build_packet(tcp(client_v4(1), 1000));
  const auto out = lb().run(in);
  EXPECT_EQ(out.action, XDP_PASS) << "the program did not consult the filter";
  EXPECT_EQ(out.frame, in);
  EXPECT_EQ(lb().flow_count(), 0u);
  lb().set_filter_bit(kVip4, true);
  EXPECT_EQ(send(tcp(client_v4(1), 1000)), 1u);
}

TEST_F(ForwardingTest, VipFilterFailsOpenWhenNotMaintained) {
  add_real(1);
  auto v6 = service(XLB_SCHED_WRR, kVip6);
  lb().configure(v6, members({{1, 1}}));
  lb().write_filter(xlb_vip_filter{});  // enabled = 0, no bits: an xlbd that does not keep it
  EXPECT_EQ(send(tcp(client_v6(1), 1000, kVip6)), 1u);
  const Bytes other = build_packet(tcp(client_v6(1), 1000, kOther6));
  const auto out = lb().run(other);
  EXPECT_EQ(out.action, XDP_PASS);
  EXPECT_EQ(out.frame, other);
}

TEST_F(ForwardingTest, AddressSharingAVipsFilterBitStillPasses) {
  add_real(1);
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}}));
  // Another address in 198.18/16 on the same filter bit: the vips map must turn it away.
  std::optional<Address> twin;
  for (std::uint32_t host = 1; host < 65536 && !twin; ++host) {
    Address a = Address::parse("198.18.0.0");
    a.bytes[2] = static_cast<std::uint8_t>(host >> 8);
    a.bytes[3] = static_cast<std::uint8_t>(host);
    if (a != kVip4 && filter_bit(a) == filter_bit(kVip4)) twin = a;
  }
  ASSERT_TRUE(twin.has_value());
  const Bytes in = build_packet(tcp(client_v4(1), 1000, *twin));
  const auto out = lb().run(in);
  EXPECT_EQ(out.action, XDP_PASS) << twin->str();
  EXPECT_EQ(out.frame, in);
  EXPECT_EQ(lb().counter(XLB_CTR_PASS), 1u);
}

}  // namespace
}  // namespace xlb::bpftest
