// What a hostile neighbour sends to a VIP (issue 27, items 9 and 10): frames that are no
// well-formed packet are dropped and counted by reason before they cost a connection-table
// entry or reach a real, and only a SYN opens a flow: a lone ACK, RST or FIN still reaches the
// real the scheduler picks (a connection after a failover without sync), but leaves no state;
// NULL, SYN+FIN and SYN+RST are dropped.
#include <cstdio>
#include <stdexcept>
#include <string>

#include "ctrl/dataplane/map_values.hpp"
#include "tests/bpf/balancer/fixture.hpp"

namespace xlb::bpftest {
namespace {

inline constexpr std::uint8_t kTcpFin = 0x01;
inline constexpr std::uint8_t kTcpRst = 0x04;
inline constexpr std::size_t kIp4 = 14;        // IPv4 header in a frame built without options
inline constexpr std::size_t kL4v4 = 14 + 20;  // and its transport header
inline constexpr std::size_t kIp6 = 14;
inline constexpr std::size_t kL4v6 = 14 + 40;

void set16(Bytes& f, std::size_t at, std::uint16_t v) {
  f[at] = static_cast<std::uint8_t>(v >> 8);
  f[at + 1] = static_cast<std::uint8_t>(v);
}

// Ethernet padding: bytes after the IP datagram that its lengths do not cover.
Bytes padded(Bytes f, std::size_t extra = 64) {
  f.resize(f.size() + extra, 0);
  return f;
}

class HostileTest : public BalancerTest {
 protected:
  void SetUp() override {
    BalancerTest::SetUp();
    serve_tcp_and_udp();
  }

  static PacketSpec udp(const Address& client, std::uint16_t sport, std::size_t payload = 12) {
    auto p = tcp(client, sport, kVip4, 53);
    p.proto = kUdp;
    p.payload = payload;
    return p;
  }

  // Runs a frame that must be dropped and counted as `reason`, leaving no flow behind.
  void expect_dropped(const Bytes& frame, std::uint32_t reason, const std::string& what) {
    const std::uint64_t before = lb().counter(reason);
    const RunResult r = lb().run(frame);
    EXPECT_EQ(r.action, XDP_DROP) << what;
    EXPECT_EQ(real_of(r), 0u) << what;
    EXPECT_EQ(lb().counter(reason), before + 1) << what << ": not counted as " << dataplane::counter_name(reason);
  }

  // A client address with no flow yet, for frames that must not create one.
  Address fresh_client() { return client_v4(next_client_++); }
  Address fresh_client6() { return client_v6(next_client_++); }

 private:
  std::uint32_t next_client_ = 100;
};

TEST_F(HostileTest, Ipv4TotalLengthShortOfTheTransportHeader) {
  for (std::uint16_t len = 20; len < 40; ++len) {
    auto f = padded(build_packet(tcp(fresh_client(), 1000)));
    set16(f, kIp4 + 2, len);
    expect_dropped(f, XLB_CTR_DROP_BAD_LENGTH, "TCP, IPv4 total length " + std::to_string(len));
  }
  for (std::uint16_t len = 20; len < 28; ++len) {
    auto f = padded(build_packet(udp(fresh_client(), 5000)));
    set16(f, kIp4 + 2, len);
    expect_dropped(f, XLB_CTR_DROP_BAD_LENGTH, "UDP, IPv4 total length " + std::to_string(len));
  }
  EXPECT_EQ(lb().flow_count(), 0u);
  EXPECT_EQ(lb().counter(XLB_CTR_TX), 0u);
}

TEST_F(HostileTest, TcpDataOffsetBelowFiveOrPastTheSegment) {
  for (std::uint8_t doff = 0; doff < 16; ++doff) {
    if (doff == 5) continue;
    // A 20-byte segment in a frame with room to spare: an offset of 6-15 points into padding.
    auto f = padded(build_packet(tcp(fresh_client(), 1000)));
    f[kL4v4 + 12] = static_cast<std::uint8_t>(doff << 4);
    expect_dropped(f, XLB_CTR_DROP_BAD_L4_HEADER, "TCP data offset " + std::to_string(doff));
  }
  auto f6 = padded(build_packet(tcp(fresh_client6(), 1000, kVip6)));
  f6[kL4v6 + 12] = 4 << 4;
  expect_dropped(f6, XLB_CTR_DROP_BAD_L4_HEADER, "IPv6, TCP data offset 4");
  EXPECT_EQ(lb().flow_count(), 0u);
}

TEST_F(HostileTest, UdpLengthBelowEightOrPastTheDatagram) {
  for (std::uint16_t len = 0; len < 8; ++len) {
    auto f = padded(build_packet(udp(fresh_client(), 5000)));
    set16(f, kL4v4 + 4, len);
    expect_dropped(f, XLB_CTR_DROP_BAD_L4_HEADER, "UDP length " + std::to_string(len));
  }
  for (std::uint16_t len = 21; len < 30; ++len) {  // the datagram holds 8 + 12 bytes
    auto f = padded(build_packet(udp(fresh_client(), 5000)));
    set16(f, kL4v4 + 4, len);
    expect_dropped(f, XLB_CTR_DROP_BAD_L4_HEADER, "UDP length " + std::to_string(len));
  }
  EXPECT_EQ(lb().flow_count(), 0u);
  // A UDP length shorter than the IP payload is legal (the rest is not the datagram's).
  auto shorter = padded(build_packet(udp(fresh_client(), 5000)));
  set16(shorter, kL4v4 + 4, 8);
  EXPECT_NE(real_of(lb().run(shorter)), 0u);
}

TEST_F(HostileTest, BroadcastAndMulticastDestinationMacs) {
  const Mac group_macs[] = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01},
                            {0x33, 0x33, 0x00, 0x00, 0x00, 0x10}};
  for (const Mac& mac : group_macs) {
    auto p = tcp(fresh_client(), 1000);
    p.dst_mac = mac;
    expect_dropped(build_packet(p), XLB_CTR_DROP_BAD_DST_MAC, "new flow to " + mac_str(mac));
    auto p6 = tcp(fresh_client6(), 1000, kVip6);
    p6.dst_mac = mac;
    expect_dropped(build_packet(p6), XLB_CTR_DROP_BAD_DST_MAC, "IPv6 new flow to " + mac_str(mac));
  }
  EXPECT_EQ(lb().flow_count(), 0u);
  // Nor does such a frame ride an established flow, cached or not.
  auto p = tcp(fresh_client(), 1000);
  ASSERT_NE(send(p), 0u);
  p.tcp_flags = kTcpAck;
  ASSERT_NE(send(p), 0u);
  ASSERT_NE(send(p), 0u);
  p.dst_mac = group_macs[0];
  expect_dropped(build_packet(p), XLB_CTR_DROP_BAD_DST_MAC, "cached flow to the broadcast MAC");
  lb().bump_cache_epoch();
  expect_dropped(build_packet(p), XLB_CTR_DROP_BAD_DST_MAC, "flow in the table to the broadcast MAC");
  EXPECT_EQ(lb().flow_count(), 1u);
}

TEST_F(HostileTest, MartianSourcesOpenNoFlow) {
  for (const char* src : {"0.0.0.0", "0.1.2.3", "127.0.0.1", "224.0.0.1", "239.255.255.250", "240.0.0.1",
                          "255.255.255.255", "198.18.0.10"}) {
    expect_dropped(build_packet(tcp(Address::parse(src), 1000)), XLB_CTR_DROP_MARTIAN_SOURCE,
                   std::string("source ") + src);
    expect_dropped(build_packet(udp(Address::parse(src), 5000)), XLB_CTR_DROP_MARTIAN_SOURCE,
                   std::string("UDP source ") + src);
  }
  for (const char* src : {"::", "::1", "ff02::1", "2001:db8::10"}) {
    expect_dropped(build_packet(tcp(Address::parse(src), 1000, kVip6)), XLB_CTR_DROP_MARTIAN_SOURCE,
                   std::string("source ") + src);
  }
  EXPECT_EQ(lb().flow_count(), 0u);
  EXPECT_EQ(lb().counter(XLB_CTR_TX), 0u);
  // Neighbours of the martian ranges are clients like any other.
  for (const char* src : {"1.0.0.1", "126.255.255.254", "128.0.0.1", "223.255.255.254"}) {
    EXPECT_NE(send(tcp(Address::parse(src), 1000)), 0u) << src;
  }
}

TEST_F(HostileTest, Ipv6PayloadLengthShortOfTheTcpHeaderOrInsideTheExtensionChain) {
  for (std::uint16_t len = 0; len < 20; ++len) {
    auto f = padded(build_packet(tcp(fresh_client6(), 1000, kVip6)));
    set16(f, kIp6 + 4, len);
    expect_dropped(f, XLB_CTR_DROP_BAD_LENGTH, "IPv6 payload length " + std::to_string(len));
  }
  for (std::uint16_t len = 0; len < 8; ++len) {  // the destination options header is 8 bytes
    auto p = tcp(fresh_client6(), 1000, kVip6);
    p.ipv6_dest_options = true;
    auto f = padded(build_packet(p));
    set16(f, kIp6 + 4, len);
    expect_dropped(f, XLB_CTR_DROP_BAD_EXT_CHAIN, "IPv6 payload length " + std::to_string(len) + " with options");
  }
  for (std::uint16_t len = 8; len < 28; ++len) {  // past the options, short of the TCP header
    auto p = tcp(fresh_client6(), 1000, kVip6);
    p.ipv6_dest_options = true;
    auto f = padded(build_packet(p));
    set16(f, kIp6 + 4, len);
    expect_dropped(f, XLB_CTR_DROP_BAD_LENGTH, "IPv6 payload length " + std::to_string(len) + " with options");
  }
  EXPECT_EQ(lb().flow_count(), 0u);
}

// An address the prefilter cannot tell from the VIP: another address of the test's range with
// the VIP's filter bit.
Address filter_twin(const Address& vip) {
  for (std::uint32_t n = 1; n < 65536; ++n) {
    char text[48];
    if (vip.family == 4) {
      std::snprintf(text, sizeof(text), "198.18.%u.%u", n >> 8, n & 0xff);
    } else {
      std::snprintf(text, sizeof(text), "2001:db8:7::%x", n);
    }
    const Address a = Address::parse(text);
    if (!(a == vip) && filter_bit(a) == filter_bit(vip)) return a;
  }
  throw std::runtime_error("no address shares the VIP's filter bit");
}

TEST_F(HostileTest, IcmpErrorToAnotherAddressQuotingAVipFlow) {
  const auto client = client_v4(7);
  ASSERT_NE(send(tcp(client, 1000)), 0u);
  const Address twin = filter_twin(kVip4);
  const auto quoted = ip_part(build_packet(tcp(kVip4, 80, client, 1000)));
  expect_dropped(build_icmp4_frag_needed(kEgressMac, kEgressMac, kRouter4, twin, quoted, 1400),
                 XLB_CTR_DROP_ICMP_NOT_FOR_VIP, "ICMP error to " + twin.str());

  const auto client6 = client_v6(7);
  ASSERT_NE(send(tcp(client6, 1000, kVip6)), 0u);
  const Address twin6 = filter_twin(kVip6);
  const auto quoted6 = ip_part(build_packet(tcp(kVip6, 80, client6, 1000)));
  expect_dropped(build_icmp6_packet_too_big(kEgressMac, kEgressMac, kRouter6, twin6, quoted6, 1280),
                 XLB_CTR_DROP_ICMP_NOT_FOR_VIP, "ICMPv6 error to " + twin6.str());
  EXPECT_EQ(lb().counter(XLB_CTR_ICMP_FORWARDED), 0u);

  // Addressed to the VIP, the same errors still reach the flow's real.
  EXPECT_NE(real_of(lb().run(build_icmp4_frag_needed(kEgressMac, kEgressMac, kRouter4, kVip4, quoted, 1400))), 0u);
  EXPECT_NE(real_of(lb().run(build_icmp6_packet_too_big(kEgressMac, kEgressMac, kRouter6, kVip6, quoted6, 1280))),
            0u);
}

// Item 10: which TCP packets may open a flow.
TEST_F(HostileTest, OnlyASynCreatesAFlow) {
  struct Case {
    std::uint8_t flags;
    const char* name;
    bool forwarded;
  };
  const Case cases[] = {
      {kTcpAck, "ACK", true},
      {kTcpRst, "RST", true},
      {static_cast<std::uint8_t>(kTcpRst | kTcpAck), "RST+ACK", true},
      {static_cast<std::uint8_t>(kTcpFin | kTcpAck), "FIN+ACK", true},
      {static_cast<std::uint8_t>(kTcpSyn | kTcpAck), "SYN+ACK", true},
      {0, "NULL", false},
      {static_cast<std::uint8_t>(kTcpSyn | kTcpFin), "SYN+FIN", false},
      {static_cast<std::uint8_t>(kTcpSyn | kTcpRst), "SYN+RST", false},
  };
  for (const bool v6 : {false, true}) {
    for (const Case& c : cases) {
      auto p = v6 ? tcp(fresh_client6(), 1000, kVip6) : tcp(fresh_client(), 1000);
      p.tcp_flags = c.flags;
      const std::string what = std::string(v6 ? "IPv6 " : "IPv4 ") + c.name;
      if (c.forwarded) {
        const std::uint64_t before = lb().counter(XLB_CTR_MIDSTREAM_FORWARDED);
        EXPECT_NE(send(p), 0u) << what << " without a flow did not reach a real";
        EXPECT_EQ(lb().counter(XLB_CTR_MIDSTREAM_FORWARDED), before + 1) << what;
      } else {
        expect_dropped(build_packet(p), XLB_CTR_DROP_BAD_TCP_FLAGS, what);
      }
      EXPECT_EQ(lb().flow_count(), 0u) << what << " created a flow";
    }
  }
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 0u);
  // A SYN still does (an ECN setup SYN, with ECE and CWR, too), and UDP, where any datagram
  // may open a flow, as before.
  EXPECT_NE(send(tcp(fresh_client(), 1000)), 0u);
  auto ecn = tcp(fresh_client(), 1000);
  ecn.tcp_flags = 0xc2;
  EXPECT_NE(send(ecn), 0u);
  EXPECT_NE(send(udp(fresh_client(), 5000)), 0u);
  EXPECT_EQ(lb().flow_count(), 3u);
}

TEST_F(HostileTest, AnAckFloodLeavesTheTableEmpty) {
  auto p = tcp(client_v4(1), 0);
  p.tcp_flags = kTcpAck;
  for (std::uint32_t i = 0; i < 2000; ++i) {
    p.src = client_v4(1 + i / 500);
    p.sport = static_cast<std::uint16_t>(1024 + i);
    ASSERT_NE(send(p), 0u);
  }
  EXPECT_EQ(lb().flow_count(), 0u);
  EXPECT_EQ(lb().counter(XLB_CTR_MIDSTREAM_FORWARDED), 2000u);
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 0u);
}

// After a failover without sync: every packet of the connection goes to one real, the one the
// scheduler would give it (mh: the real its SYN went to on the old master, too), and the wrr
// cursor that places new connections does not move.
TEST_F(HostileTest, MidstreamPacketsOfAConnectionStayOnOneReal) {
  auto mh = service(XLB_SCHED_MH, kVip4, 443);
  mh.vip_id = 4;
  lb().configure(mh, members({{1, 1}, {2, 1}}));
  for (std::uint16_t port = 2000; port < 2020; ++port) {
    auto p = tcp(client_v4(9), port, kVip4, 443);
    p.tcp_flags = kTcpAck;
    const std::uint32_t real = send(p);
    ASSERT_NE(real, 0u);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(send(p), real) << "port " << port;
    EXPECT_EQ(lb().flow_count(), 0u);
    p.tcp_flags = kTcpSyn;
    EXPECT_EQ(send(p), real) << "port " << port << ": the SYN would have gone elsewhere";
    lb().flush_flows();
  }
  for (std::uint16_t port = 3000; port < 3020; ++port) {
    auto p = tcp(client_v4(9), port);
    p.tcp_flags = kTcpAck;
    const std::uint32_t real = send(p);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(send(p), real) << "wrr, port " << port;
  }
  // wrr over two reals of weight 1 alternates; the ACKs above must not have moved it.
  const std::uint32_t first = send(tcp(client_v4(10), 1));
  EXPECT_NE(send(tcp(client_v4(10), 2)), first);
  EXPECT_EQ(send(tcp(client_v4(10), 3)), first);
}

TEST_F(HostileTest, MidstreamPacketsFollowPersistenceButWriteNoTemplate) {
  auto persistent = service(XLB_SCHED_WRR, kVip4, 8443);
  persistent.vip_id = 5;
  persistent.persist_timeout = 600;
  lb().configure(persistent, members({{1, 1}, {2, 1}}));
  const auto client = client_v4(11);
  auto p = tcp(client, 4000, kVip4, 8443);
  p.tcp_flags = kTcpAck;
  ASSERT_NE(send(p), 0u);
  EXPECT_FALSE(lb().persist(make_persist_key(client, 32, 5)).has_value()) << "an ACK wrote a template";
  // A template from an earlier connection decides where the ACK goes.
  for (std::uint32_t real : {1u, 2u}) {
    lb().put_persist(make_persist_key(client, 32, 5), xlb_persist{real, 0, coarse_now_ns()});
    for (std::uint16_t port = 4100; port < 4110; ++port) {
      p.sport = port;
      EXPECT_EQ(send(p), real) << "port " << port;
    }
  }
  EXPECT_EQ(lb().flow_count(), 0u);
}

// A NULL or SYN+FIN segment on an established flow is no more a packet than without one.
TEST_F(HostileTest, InvalidFlagsOnAnEstablishedFlowAreDropped) {
  auto p = tcp(client_v4(12), 1000);
  ASSERT_NE(send(p), 0u);
  p.tcp_flags = kTcpAck;
  ASSERT_NE(send(p), 0u);
  ASSERT_NE(send(p), 0u);  // now in the flow cache
  for (std::uint8_t flags : {std::uint8_t{0}, std::uint8_t{kTcpSyn | kTcpFin}, std::uint8_t{kTcpSyn | kTcpRst}}) {
    p.tcp_flags = flags;
    expect_dropped(build_packet(p), XLB_CTR_DROP_BAD_TCP_FLAGS, "flags " + std::to_string(flags));
  }
  p.tcp_flags = kTcpAck;
  EXPECT_NE(send(p), 0u);
  EXPECT_EQ(lb().flow_count(), 1u);
}

}  // namespace
}  // namespace xlb::bpftest
