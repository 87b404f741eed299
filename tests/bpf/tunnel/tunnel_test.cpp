// lb_kind TUN: IPIP, IP6IP6, IPv4 in IPv6 and GUE frames, byte for byte; the next hop from the
// FIB of a namespace the test makes; path MTU answers; truncated frames.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/bpf/tunnel/tunnel_fixture.hpp"
#include "tools/xlbctl/capture_session.hpp"

namespace xlb::bpftest {
namespace {

TEST_F(TunnelTest, IpipCarriesTheIpv4PacketWithTosTtlAndDf) {
  serve_through_tunnel(1, kTunReal4, kLocal4, kVip4);
  auto spec = tcp(client_v4(1), 1000);
  spec.payload = 100;
  Bytes in = build_packet(spec);
  set_ipv4_fields(in, 0xb8 /* EF */, 37, false);
  const auto out = run(in);
  ASSERT_EQ(out.action, XDP_TX);
  Outer o{kLocal4, kTunReal4, 0xb8, 37};
  EXPECT_EQ(out.frame, expected_frame(kGatewayMac, netns_->mac(), inner_of(in), o));
}

TEST_F(TunnelTest, Ip6ip6CarriesTheIpv6PacketWithTrafficClassAndHopLimit) {
  serve_through_tunnel(1, kTunReal6, kLocal6, kVip6);
  auto spec = tcp(client_v6(1), 1000, kVip6);
  spec.payload = 64;
  Bytes in = build_packet(spec);
  set_ipv6_fields(in, 0x2e, 9);
  const auto out = run(in);
  ASSERT_EQ(out.action, XDP_TX);
  ASSERT_GE(out.frame.size(), 18u);
  Outer o{kLocal6, kTunReal6, 0x2e, 9};
  o.flow_label = (static_cast<std::uint32_t>(out.frame[15] & 0xf) << 16) | get16(out.frame, 16);
  EXPECT_EQ(out.frame, expected_frame(kGatewayMac, netns_->mac(), inner_of(in), o));
}

TEST_F(TunnelTest, Ipv4VipToAnIpv6OnlyRealGoesInIpv6) {
  serve_through_tunnel(1, kTunReal6, kLocal6, kVip4);
  Bytes in = build_packet(tcp(client_v4(2), 1000));
  set_ipv4_fields(in, 0x10, 200, true);
  const auto out = run(in);
  ASSERT_EQ(out.action, XDP_TX);
  Outer o{kLocal6, kTunReal6, 0x10, 200};
  o.flow_label = (static_cast<std::uint32_t>(out.frame[15] & 0xf) << 16) | get16(out.frame, 16);
  EXPECT_EQ(out.frame, expected_frame(kGatewayMac, netns_->mac(), inner_of(in), o));
}

struct GueCase {
  const char* name;
  bool outer_v6;
  bool inner_v6;
  bool csum;
  std::uint8_t proto;
};

TEST_F(TunnelTest, GueHasTheFlowHashInItsSourcePortAndExactChecksums) {
  const GueCase cases[] = {
      {"v4 in v4, no checksum", false, false, false, kTcp}, {"v4 in v4, checksum", false, false, true, kTcp},
      {"v4 in v4, checksum, UDP", false, false, true, kUdp}, {"v6 in v6 (checksum always)", true, true, false, kTcp},
      {"v6 in v6, UDP", true, true, false, kUdp},          {"v4 in v6", true, false, false, kTcp},
  };
  std::uint32_t id = 1;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const Address& vip = c.inner_v6 ? kVip6 : kVip4;
    const Address& real = c.outer_v6 ? kTunReal6 : kTunReal4;
    const Address& local = c.outer_v6 ? kLocal6 : kLocal4;
    serve_through_tunnel(id, real, local, vip, XLB_TUN_GUE, c.csum ? XLB_TUN_F_CSUM : 0);
    auto spec = c.inner_v6 ? tcp(client_v6(id), 2000, vip) : tcp(client_v4(id), 2000, vip);
    spec.proto = c.proto;
    spec.payload = 333;  // odd: the derived sum must fold the last byte as the real's stack will
    if (c.proto == kUdp) {
      auto s = service(XLB_SCHED_WRR, vip);
      s.proto = kUdp;
      s.vip_id = 2;
      lb().configure(s, members({{id, 1}}));
    }
    const Bytes in = build_packet(spec);
    const auto out = run(in);
    ASSERT_EQ(out.action, XDP_TX);
    const std::size_t udp_at = 14 + (c.outer_v6 ? 40 : 20);
    ASSERT_GT(out.frame.size(), udp_at + 8);
    Outer o{local, real, 0, 64, true, c.csum || c.outer_v6, get16(out.frame, udp_at)};
    if (c.outer_v6) o.flow_label = (static_cast<std::uint32_t>(out.frame[15] & 0xf) << 16) | get16(out.frame, 16);
    EXPECT_EQ(o.gue_sport & 0xc000, 0xc000) << "source port in the dynamic range";
    EXPECT_EQ(out.frame, expected_frame(kGatewayMac, netns_->mac(), inner_of(in), o));
    ++id;
  }
}

TEST_F(TunnelTest, GueChecksumOfAnIpv4UdpPacketWithoutOneIsRefused) {
  serve_through_tunnel(1, kTunReal6, kLocal6, kVip4, XLB_TUN_GUE);
  auto s = service(XLB_SCHED_WRR, kVip4);
  s.proto = kUdp;
  s.vip_id = 2;
  lb().configure(s, members({{1, 1}}));
  auto spec = tcp(client_v4(1), 2000);
  spec.proto = kUdp;
  Bytes in = build_packet(spec);
  in[14 + 20 + 6] = in[14 + 20 + 7] = 0;  // UDP over IPv4 may leave its checksum out
  EXPECT_EQ(run(in).action, XDP_DROP);
  EXPECT_EQ(lb().counter(XLB_CTR_DROP_TUN_NO_CSUM), 1u);
}

TEST_F(TunnelTest, OuterSourceTakesTheFlowHashInItsMaskedBits) {
  serve_through_tunnel(1, kTunReal4, Address::parse("198.18.2.0"), kVip4, XLB_TUN_IPIP, 0, htonl(0xff));
  std::set<std::uint8_t> low;
  for (std::uint32_t i = 0; i < 32; ++i) {
    const auto out = run(build_packet(tcp(client_v4(i), static_cast<std::uint16_t>(1000 + i))));
    ASSERT_EQ(out.action, XDP_TX);
    EXPECT_EQ(std::memcmp(out.frame.data() + 14 + 12, kLocal4.bytes.data(), 3), 0) << "prefix kept";
    low.insert(out.frame[14 + 15]);
    // The same flow always gets the same source.
    const auto again = run(build_packet(tcp(client_v4(i), static_cast<std::uint16_t>(1000 + i))));
    EXPECT_EQ(again.frame[14 + 15], out.frame[14 + 15]);
  }
  EXPECT_GE(low.size(), 20u) << "32 flows spread over the 256 sources";
}

TEST_F(TunnelTest, EstablishedFlowsGoThroughTheCacheWithTheSameFrame) {
  serve_through_tunnel(1, kTunReal4, kLocal4, kVip4);
  auto spec = tcp(client_v4(7), 1000);
  EXPECT_EQ(run(build_packet(spec)).action, XDP_TX);  // SYN: scheduled
  spec.tcp_flags = kTcpAck;
  spec.payload = 10;
  const Bytes in = build_packet(spec);
  const auto first = run(in);   // the table; fills the cache with the FIB's hop
  const auto second = run(in);  // the cache
  ASSERT_EQ(second.action, XDP_TX);
  EXPECT_EQ(first.frame, second.frame);
  Outer o{kLocal4, kTunReal4, 0, 64};
  EXPECT_EQ(second.frame, expected_frame(kGatewayMac, netns_->mac(), inner_of(in), o));
  const auto entries = lb().flow_cache(xlb_flow_cache_slot(&(const xlb_flow_key&)make_flow_key(spec)));
  bool cached = false;
  for (const auto& e : entries) cached = cached || (e.tunnel_mtu == 1500 && e.real_id == 1);
  EXPECT_TRUE(cached) << "the cache entry holds the hop and the egress MTU";
  EXPECT_EQ(lb().real_stats(1).packets, 3u);
}

// Every kind of tunnel through the flow cache's way (its own inlined encapsulation, fed from
// the cache entry) gives the frame the connection table's way gave for the same packet, and a
// packet of the flow too big for the hop is answered with the hop's MTU less that tunnel's bytes.
TEST_F(TunnelTest, CachedFlowsOfEveryKindGiveTheTablesFrameAndTooBigMtu) {
  struct Case {
    const char* name;
    bool outer_v6, inner_v6;
    std::uint8_t type, flags;
    std::uint32_t overhead;
  };
  const Case cases[] = {
      {"ipip", false, false, XLB_TUN_IPIP, 0, 20},
      {"gue v4 in v4, no checksum", false, false, XLB_TUN_GUE, 0, 32},
      {"gue v4 in v4, checksum", false, false, XLB_TUN_GUE, XLB_TUN_F_CSUM, 32},
      {"ip6ip6", true, true, XLB_TUN_IPIP, 0, 40},
      {"v4 in v6", true, false, XLB_TUN_IPIP, 0, 40},
      {"gue v6 in v6", true, true, XLB_TUN_GUE, 0, 52},
  };
  std::uint32_t id = 1;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const Address& vip = c.inner_v6 ? kVip6 : kVip4;
    serve_through_tunnel(id, c.outer_v6 ? kTunReal6 : kTunReal4, c.outer_v6 ? kLocal6 : kLocal4, vip, c.type,
                         c.flags);
    auto spec = c.inner_v6 ? tcp(client_v6(40 + id), 3000, vip) : tcp(client_v4(40 + id), 3000, vip);
    ASSERT_EQ(run(build_packet(spec)).action, XDP_TX);  // SYN: scheduled
    spec.tcp_flags = kTcpAck;
    spec.payload = 101;
    Bytes in = build_packet(spec);
    if (!c.inner_v6) set_ipv4_fields(in, 0x28, 33, true);
    const auto table = run(in);
    const auto cached = run(in);
    ASSERT_EQ(cached.action, XDP_TX);
    EXPECT_EQ(cached.frame, table.frame);
    EXPECT_EQ(cached.frame.size(), in.size() + c.overhead);
    const auto entries = lb().flow_cache(xlb_flow_cache_slot(&(const xlb_flow_key&)make_flow_key(spec)));
    bool held = false;
    for (const auto& e : entries) held = held || (e.tunnel_mtu == 1500 && e.real_id == id);
    EXPECT_TRUE(held) << "the flow is in the cache";
    // 1,500 bytes of IP: too big by the tunnel's overhead.
    spec.payload = (c.inner_v6 ? 1500 - 40 : 1500 - 20) - 20;
    Bytes big = build_packet(spec);
    if (!c.inner_v6) set_ipv4_fields(big, 0, 64, true);
    const auto answer = run(big);
    ASSERT_EQ(answer.action, XDP_TX);
    const std::size_t mtu_at = c.inner_v6 ? 14 + 40 + 6 : 14 + 20 + 6;  // the low half of ICMPv6's 32 bits
    ASSERT_GT(answer.frame.size(), mtu_at + 2);
    EXPECT_EQ(get16(answer.frame, mtu_at), 1500 - c.overhead) << "the MTU the ICMP error gives";
    ++id;
  }
}

TEST_F(TunnelTest, MissingNeighbourAndMissingRouteAreCountedDrops) {
  serve_through_tunnel(1, kUnresolved4, kLocal4, kVip4);
  EXPECT_EQ(run(build_packet(tcp(client_v4(1), 1000))).action, XDP_DROP);
  EXPECT_EQ(lb().counter(XLB_CTR_DROP_TUN_NO_NEIGH), 1u);
  serve_through_tunnel(2, kUnrouted4, kLocal4, kVip4);
  EXPECT_EQ(run(build_packet(tcp(client_v4(2), 1000))).action, XDP_DROP);
  EXPECT_EQ(lb().counter(XLB_CTR_DROP_TUN_NO_ROUTE), 1u);
  NetnsScope::sh("sysctl -qw net.ipv4.conf.tun0.forwarding=0");
  serve_through_tunnel(3, kTunReal4, kLocal4, kVip4);
  EXPECT_EQ(run(build_packet(tcp(client_v4(3), 1000))).action, XDP_DROP);
  EXPECT_EQ(lb().counter(XLB_CTR_DROP_TUN_FWD_DISABLED), 1u);
}

// The connection table's way asks the FIB once per real and CPU, then uses that CPU's copy
// until it ages or xlbd moves the cache epoch; then the FIB is asked again (here: no neighbour
// any more, a counted drop).
TEST_F(TunnelTest, NextHopIsKeptPerRealUntilTheEpochMoves) {
  serve_through_tunnel(1, kTunReal4, kLocal4, kVip4);
  ASSERT_EQ(run(build_packet(tcp(client_v4(1), 1000))).action, XDP_TX);
  const int cpus = libbpf_num_possible_cpus();
  ASSERT_GT(cpus, 0);
  std::vector<xlb_tunnel_hop> per_cpu(static_cast<std::size_t>(cpus));
  const std::uint32_t real_id = 1;
  ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(lb().map("tunnel_hops")), &real_id, per_cpu.data()), 0);
  int kept = 0;
  for (const auto& h : per_cpu) {
    if (h.ifindex == 0) continue;
    ++kept;
    EXPECT_EQ(h.ifindex, netns_->ifindex());
    EXPECT_EQ(h.mtu, 1500u);
    EXPECT_TRUE(std::equal(kGatewayMac.begin(), kGatewayMac.end(), h.dst_mac));
    EXPECT_TRUE(std::equal(netns_->mac().begin(), netns_->mac().end(), h.src_mac));
  }
  EXPECT_EQ(kept, 1) << "the CPU that ran the packet";
  NetnsScope::sh("ip neigh del 198.18.2.254 dev tun0");
  lb().bump_cache_epoch();
  EXPECT_EQ(run(build_packet(tcp(client_v4(2), 1000))).action, XDP_DROP);
  EXPECT_EQ(lb().counter(XLB_CTR_DROP_TUN_NO_NEIGH), 1u);
}

// A frame of exactly the MTU, plus the tunnel's 20 bytes, is answered with "fragmentation
// needed" giving 1480, from the VIP to the client, quoting the packet's first 128 bytes.
TEST_F(TunnelTest, TooBigWithDfIsAnsweredWithFragmentationNeeded) {
  serve_through_tunnel(1, kTunReal4, kLocal4, kVip4);
  auto spec = tcp(client_v4(3), 1000);
  spec.tcp_flags = kTcpAck;
  spec.payload = 1460;  // a 1500-byte datagram
  Bytes in = build_packet(spec);
  set_ipv4_fields(in, 0, 64, true);
  const auto out = run(in);
  ASSERT_EQ(out.action, XDP_TX);
  ASSERT_EQ(out.frame.size(), 14u + 20 + 8 + 128);
  EXPECT_EQ(frame_dst_mac(out.frame), spec.src_mac);
  EXPECT_EQ(frame_src_mac(out.frame), spec.dst_mac);
  const std::uint8_t* ip = out.frame.data() + 14;
  EXPECT_EQ(ip[9], 1);
  EXPECT_EQ(get16(out.frame, 14 + 2), 20 + 8 + 128);
  EXPECT_EQ(std::memcmp(ip + 12, kVip4.bytes.data(), 4), 0);
  EXPECT_EQ(std::memcmp(ip + 16, spec.src.bytes.data(), 4), 0);
  EXPECT_EQ(fold16(sum16(ip, 20)), 0) << "IP checksum";
  const std::uint8_t* icmp = ip + 20;
  EXPECT_EQ(icmp[0], 3);
  EXPECT_EQ(icmp[1], 4);
  EXPECT_EQ(get16(out.frame, 14 + 20 + 6), 1480);
  EXPECT_EQ(fold16(sum16(icmp, 8 + 128)), 0) << "ICMP checksum";
  EXPECT_EQ(std::memcmp(icmp + 8, in.data() + 14, 128), 0) << "quotes the packet";
  EXPECT_EQ(lb().counter(XLB_CTR_TUN_TOO_BIG), 1u);
  // One byte less fits.
  spec.payload = 1460 - 20;
  Bytes fits = build_packet(spec);
  set_ipv4_fields(fits, 0, 64, true);
  const auto sent = run(fits);
  EXPECT_EQ(sent.action, XDP_TX);
  EXPECT_EQ(sent.frame.size(), fits.size() + 20);
}

TEST_F(TunnelTest, TooBigWithoutDfIsDroppedAndCounted) {
  serve_through_tunnel(1, kTunReal4, kLocal4, kVip4);
  auto spec = tcp(client_v4(3), 1000);
  spec.payload = 1460;
  EXPECT_EQ(run(build_packet(spec)).action, XDP_DROP);
  EXPECT_EQ(lb().counter(XLB_CTR_DROP_TUN_TOO_BIG_NO_DF), 1u);
}

TEST_F(TunnelTest, TooBigIpv6IsAnsweredWithPacketTooBig) {
  serve_through_tunnel(1, kTunReal6, kLocal6, kVip6, XLB_TUN_GUE);
  auto spec = tcp(client_v6(3), 1000, kVip6);
  spec.tcp_flags = kTcpAck;
  spec.payload = 1440;  // a 1500-byte packet; 52 bytes of tunnel leave 1448
  const Bytes in = build_packet(spec);
  const auto out = run(in);
  ASSERT_EQ(out.action, XDP_TX);
  ASSERT_EQ(out.frame.size(), 14u + 40 + 8 + 128);
  const std::uint8_t* ip6 = out.frame.data() + 14;
  EXPECT_EQ(ip6[6], 58);
  EXPECT_EQ(get16(out.frame, 14 + 4), 8 + 128);
  EXPECT_EQ(std::memcmp(ip6 + 8, kVip6.bytes.data(), 16), 0);
  EXPECT_EQ(std::memcmp(ip6 + 24, spec.src.bytes.data(), 16), 0);
  const std::uint8_t* icmp = ip6 + 40;
  EXPECT_EQ(icmp[0], 2);
  EXPECT_EQ(icmp[1], 0);
  EXPECT_EQ(static_cast<std::uint32_t>(get16(out.frame, 14 + 40 + 4) << 16 | get16(out.frame, 14 + 40 + 6)), 1448u);
  std::uint32_t pseudo = sum16(ip6 + 8, 32) + 58 + 8 + 128;
  EXPECT_EQ(fold16(sum16(icmp, 8 + 128, pseudo)), 0) << "ICMPv6 checksum";
  EXPECT_EQ(std::memcmp(icmp + 8, in.data() + 14, 128), 0);
}

TEST_F(TunnelTest, TooBigAnswersAreRateLimited) {
  serve_through_tunnel(1, kTunReal4, kLocal4, kVip4);
  auto spec = tcp(client_v4(3), 1000);
  spec.payload = 1460;
  Bytes in = build_packet(spec);
  set_ipv4_fields(in, 0, 64, true);
  int answered = 0;
  for (int i = 0; i < 2500; ++i) answered += run(in).action == XDP_TX;
  // 1,000 a second: the runs take well under two seconds but may straddle a window, so at most
  // 2,000 answered and at least 500 refused, counted.
  EXPECT_LE(answered, 2000);
  EXPECT_GE(answered, 1000);
  EXPECT_EQ(lb().counter(XLB_CTR_TUN_TOO_BIG) + lb().counter(XLB_CTR_DROP_TUN_TOO_BIG_LIMITED), 2500u);
  EXPECT_GE(lb().counter(XLB_CTR_DROP_TUN_TOO_BIG_LIMITED), 500u);
}

// Every prefix of a tunnel service's frames: never sent on as a tunnel packet unless whole.
TEST_F(TunnelTest, TruncatedFramesAreNeverEncapsulated) {
  serve_through_tunnel(1, kTunReal4, kLocal4, kVip4, XLB_TUN_GUE, XLB_TUN_F_CSUM);
  auto spec = tcp(client_v4(4), 1000);
  spec.payload = 40;
  for (const Bytes& whole : {build_packet(spec), build_packet([&] { auto s = spec; s.ipv4_options = 8; return s; }())}) {
    for (std::size_t len = 14; len < whole.size(); ++len) {  // BPF_PROG_TEST_RUN wants an Ethernet header
      const Bytes cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(len));
      const auto out = run(cut);
      EXPECT_TRUE(out.action == XDP_DROP || out.action == XDP_PASS) << "length " << len << " action " << out.action;
    }
    EXPECT_EQ(run(whole).action, XDP_TX);
  }
}

// Capture and trace see a TUN forward as it leaves (outer headers) and flag it; their filters
// (client, VIP and port) match the client's packet inside, through IPIP and GUE alike.
TEST_F(TunnelTest, CaptureFiltersMatchThePacketInsideTheTunnel) {
  serve_through_tunnel(1, kTunReal4, kLocal4, kVip4);
  serve_through_tunnel(2, kTunReal6, kLocal6, kVip6, XLB_TUN_GUE);
  std::vector<std::pair<xlb_capture_record, Bytes>> records;
  for (const Address& vip : {kVip4, kVip6}) {
    const bool v6 = vip.family == 6;
    ctl::CaptureOptions only;
    only.client = (v6 ? client_v6(7) : client_v4(7)).str() + (v6 ? "/128" : "/32");
    only.vip = (v6 ? "[" + vip.str() + "]" : vip.str()) + ":80";
    records.clear();
    ctl::CaptureSession session(pin_root(), ctl::capture_config_from(only),
                                [&](const xlb_capture_record& h, std::span<const std::uint8_t> f) {
                                  records.emplace_back(h, Bytes(f.begin(), f.end()));
                                });
    const auto client = [&](std::uint32_t n) { return v6 ? client_v6(n) : client_v4(n); };
    const RunResult out = run(build_packet(tcp(client(7), 1000, vip)));
    ASSERT_EQ(out.action, XDP_TX);
    ASSERT_EQ(run(build_packet(tcp(client(8), 1000, vip))).action, XDP_TX);  // another client: kept out
    session.drain();
    ASSERT_EQ(records.size(), 1u) << vip.str();
    EXPECT_EQ(records[0].first.flags & XLB_CAPTURE_F_TUNNEL, XLB_CAPTURE_F_TUNNEL);
    EXPECT_EQ(records[0].second, out.frame) << "recorded as it left, outer headers included";
    EXPECT_EQ(session.counts().filtered, 1u);
  }
}

}  // namespace
}  // namespace xlb::bpftest
