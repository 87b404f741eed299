// ICMP errors from routers between the balancer and a real, about tunnel packets: each built
// here as a router sends it (quoting the frame the program itself encapsulated), and the frame
// the client must get built here too, byte for byte, independently of the program.
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "tests/bpf/tunnel/tunnel_fixture.hpp"

namespace xlb::bpftest {
namespace {

const Address kRouterNear4 = Address::parse("198.18.2.254");  // the gateway the tunnel leaves by
const Address kRouterNear6 = Address::parse("2001:db8:2::fe");
// IPv4 errors quote at most what fits 576 bytes (RFC 1812), ICMPv6 ones 1280 (RFC 4443).
constexpr std::size_t kQuote4 = 576 - 20 - 8;
constexpr std::size_t kQuote6 = 1280 - 40 - 8;

void put32(Bytes& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v >> 16));
  put16(b, static_cast<std::uint16_t>(v));
}

// An IPv4 or IPv6 packet carrying `icmp` (its checksum computed here), in a frame.
Bytes icmp_frame(const Mac& dst, const Mac& src, const Address& from, const Address& to, Bytes icmp,
                 std::uint8_t tos = 0) {
  const bool v4 = from.family == 4;
  std::uint32_t pseudo = 0;
  if (!v4) {
    pseudo = sum16(from.bytes.data(), 16, sum16(to.bytes.data(), 16)) + 58 + static_cast<std::uint32_t>(icmp.size());
  }
  icmp[2] = icmp[3] = 0;
  const std::uint16_t c = fold16(sum16(icmp.data(), icmp.size(), pseudo));
  icmp[2] = static_cast<std::uint8_t>(c >> 8);
  icmp[3] = static_cast<std::uint8_t>(c);
  Bytes out(dst.begin(), dst.end());
  out.insert(out.end(), src.begin(), src.end());
  if (v4) {
    put16(out, 0x0800);
    const std::size_t ip = out.size();
    out.push_back(0x45);
    out.push_back(tos);
    put16(out, static_cast<std::uint16_t>(20 + icmp.size()));
    put32(out, 0);  // id, no fragment bits
    out.push_back(64);
    out.push_back(1);
    put16(out, 0);
    out.insert(out.end(), from.bytes.begin(), from.bytes.begin() + 4);
    out.insert(out.end(), to.bytes.begin(), to.bytes.begin() + 4);
    const std::uint16_t h = fold16(sum16(out.data() + ip, 20));
    out[ip + 10] = static_cast<std::uint8_t>(h >> 8);
    out[ip + 11] = static_cast<std::uint8_t>(h);
  } else {
    put16(out, 0x86dd);
    put32(out, 0x60000000u);
    put16(out, static_cast<std::uint16_t>(icmp.size()));
    out.push_back(58);
    out.push_back(64);
    out.insert(out.end(), from.bytes.begin(), from.bytes.end());
    out.insert(out.end(), to.bytes.begin(), to.bytes.end());
  }
  out.insert(out.end(), icmp.begin(), icmp.end());
  return out;
}

Bytes icmp_message(std::uint8_t type, std::uint8_t code, std::uint32_t rest, const Bytes& quoted, std::size_t limit) {
  Bytes m{type, code, 0, 0};
  put32(m, rest);
  m.insert(m.end(), quoted.begin(), quoted.begin() + static_cast<std::ptrdiff_t>(std::min(quoted.size(), limit)));
  return m;
}

class IcmpRelayTest : public TunnelTest {
 protected:
  void SetUp() override {
    TunnelTest::SetUp();
    if (IsSkipped()) return;
    // The clients are reached through the same gateway as the reals; 198.18.101.0/24's gateway
    // has no neighbour entry.
    NetnsScope::sh("ip route add 198.19.0.0/16 via 198.18.2.254 dev tun0");
    NetnsScope::sh("ip -6 route add 2001:db8:c1::/64 via 2001:db8:2::fe dev tun0");
  }

  // A client packet of `payload` bytes, DF set for IPv4, through the balancer after its flow's
  // SYN: the packet, and the encapsulated IP datagram that left.
  std::pair<Bytes, Bytes> tunnelled(PacketSpec spec, bool df = true) {
    auto syn = spec;
    syn.tcp_flags = kTcpSyn;
    syn.payload = 0;
    EXPECT_EQ(run(build_packet(syn)).action, XDP_TX);
    Bytes in = build_packet(spec);
    if (spec.src.family == 4) set_ipv4_fields(in, 0, 64, df);
    const auto out = run(in);
    EXPECT_EQ(out.action, XDP_TX);
    return {in, ip_part(out.frame)};
  }

  // The router's error about `outer` (an encapsulated datagram), to the balancer's tunnel source.
  Bytes router_error(const Bytes& outer, std::uint8_t type, std::uint8_t code, std::uint32_t rest,
                     std::size_t limit = SIZE_MAX) {
    const bool v4 = (outer[0] >> 4) == 4;
    Address source;  // the tunnel's, which the router answers
    source.family = v4 ? 4 : 6;
    std::memcpy(source.bytes.data(), outer.data() + (v4 ? 12 : 8), v4 ? 4 : 16);
    return icmp_frame(netns_->mac(), kGatewayMac, v4 ? kRouterNear4 : kRouterNear6, source,
                      icmp_message(type, code, rest, outer, std::min(limit, v4 ? kQuote4 : kQuote6)));
  }

  // What the client gets: from the VIP, to it through the gateway, quoting `quoted` bytes of its
  // packet `in` (a frame).
  // The error is relayed: sent back out (XDP_TX) as exactly `expected`.
  void expect_relayed(const Bytes& error, const Bytes& expected) {
    const auto out = run(error);
    ASSERT_EQ(out.action, XDP_TX);
    EXPECT_EQ(out.frame, expected);
  }
  Bytes answer(const Bytes& in, std::size_t quoted, std::uint8_t type, std::uint8_t code, std::uint32_t rest) {
    const Bytes client_ip = ip_part(in);
    const bool v4 = (client_ip[0] >> 4) == 4;
    Address from, to;
    from.family = to.family = v4 ? 4 : 6;
    std::memcpy(from.bytes.data(), client_ip.data() + (v4 ? 16 : 24), v4 ? 4 : 16);
    std::memcpy(to.bytes.data(), client_ip.data() + (v4 ? 12 : 8), v4 ? 4 : 16);
    return icmp_frame(kGatewayMac, netns_->mac(), from, to, icmp_message(type, code, rest, client_ip, quoted),
                      v4 ? 0xc0 : 0);
  }

  std::uint64_t relayed() { return lb().counter(XLB_CTR_TUN_ICMP_RELAYED); }

  static PacketSpec client_packet(const Address& client, const Address& vip, std::size_t payload) {
    auto spec = tcp(client, 1000, vip);
    spec.tcp_flags = kTcpAck;
    spec.payload = payload;
    return spec;
  }
};

// IPIP: "fragmentation needed" with the router's 1400 becomes 1380 for the client, quoting its
// packet as far as the router's 548 bytes of quote reach (548 - 20 = 528).
TEST_F(IcmpRelayTest, IpipFragmentationNeededGivesTheClientTheMtuLessTwenty) {
  serve_through_tunnel(1, kTunReal4, kLocal4, kVip4);
  const auto [in, outer] = tunnelled(client_packet(client_v4(1), kVip4, 1400));
  expect_relayed(router_error(outer, 3, 4, 1400), answer(in, kQuote4 - 20, 3, 4, 1380));
  EXPECT_EQ(relayed(), 1u);
  EXPECT_EQ(lb().counter(XLB_CTR_TUN_ICMP_MTU_CLAMPED), 0u);
}

TEST_F(IcmpRelayTest, GueOverIpv4SubtractsTheUdpAndGueHeadersToo) {
  serve_through_tunnel(1, kTunReal4, kLocal4, kVip4, XLB_TUN_GUE, XLB_TUN_F_CSUM);
  const auto [in, outer] = tunnelled(client_packet(client_v4(2), kVip4, 1400));
  expect_relayed(router_error(outer, 3, 4, 1400), answer(in, kQuote4 - 32, 3, 4, 1368));
}

TEST_F(IcmpRelayTest, Ip6ip6PacketTooBigGivesTheClientTheMtuLessForty) {
  serve_through_tunnel(1, kTunReal6, kLocal6, kVip6);
  const auto [in, outer] = tunnelled(client_packet(client_v6(1), kVip6, 1350));
  expect_relayed(router_error(outer, 2, 0, 1400), answer(in, kQuote6 - 40, 2, 0, 1360));
}

TEST_F(IcmpRelayTest, GueOverIpv6PacketTooBig) {
  serve_through_tunnel(1, kTunReal6, kLocal6, kVip6, XLB_TUN_GUE);
  const auto [in, outer] = tunnelled(client_packet(client_v6(2), kVip6, 1350));
  expect_relayed(router_error(outer, 2, 0, 1500), answer(in, kQuote6 - 52, 2, 0, 1448));
}

// The tunnel's source may be a VIP address itself (the address the route to the reals prefers):
// the error then comes to a VIP, and takes the general parser's way to the relay.
TEST_F(IcmpRelayTest, ErrorsToATunnelSourceThatIsAVipAreRelayedToo) {
  serve_through_tunnel(1, kTunReal6, kVip6, kVip6);
  serve_through_tunnel(2, kTunReal4, kVip4, kVip4);
  const auto [in6, outer6] = tunnelled(client_packet(client_v6(11), kVip6, 1350));
  expect_relayed(router_error(outer6, 2, 0, 1400), answer(in6, kQuote6 - 40, 2, 0, 1360));
  const auto [in4, outer4] = tunnelled(client_packet(client_v4(11), kVip4, 1400));
  expect_relayed(router_error(outer4, 3, 4, 1400), answer(in4, kQuote4 - 20, 3, 4, 1380));
  EXPECT_EQ(relayed(), 2u);
}

// An IPv4 client of an IPv6-only real: the router's ICMPv6 becomes the ICMPv4 it means.
TEST_F(IcmpRelayTest, Ipv4InIpv6ErrorsAreTranslatedToIcmpv4) {
  serve_through_tunnel(1, kTunReal6, kLocal6, kVip4);
  const auto [in, outer] = tunnelled(client_packet(client_v4(3), kVip4, 1400));
  expect_relayed(router_error(outer, 2, 0, 1400), answer(in, kQuote6 - 40, 3, 4, 1360));  // packet too big
  expect_relayed(router_error(outer, 3, 0, 0), answer(in, kQuote6 - 40, 11, 0, 0));  // hop limit exceeded
  expect_relayed(router_error(outer, 1, 4, 0), answer(in, kQuote6 - 40, 3, 3, 0));  // port unreachable
  expect_relayed(router_error(outer, 1, 1, 0), answer(in, kQuote6 - 40, 3, 10, 0));  // administratively prohibited
  expect_relayed(router_error(outer, 1, 3, 0), answer(in, kQuote6 - 40, 3, 1, 0));  // address unreachable
  EXPECT_EQ(relayed(), 5u);
}

// Other errors keep their type and code, and their unused word stays zero (an RFC 4884 length
// there would count the tunnel's headers).
TEST_F(IcmpRelayTest, TimeExceededAndUnreachableKeepTheirTypeAndCode) {
  serve_through_tunnel(1, kTunReal4, kLocal4, kVip4);
  serve_through_tunnel(2, kTunReal6, kLocal6, kVip6);
  const auto [in, outer] = tunnelled(client_packet(client_v4(4), kVip4, 20), false);
  const auto out = run(router_error(outer, 11, 0, 0));
  ASSERT_EQ(out.action, XDP_TX) << "no DF matters only for fragmentation needed";
  EXPECT_EQ(out.frame, answer(in, 20 + 20 + 20, 11, 0, 0)) << "the router quoted the whole (short) packet";
  expect_relayed(router_error(outer, 3, 1, 0x00110000), answer(in, 20 + 20 + 20, 3, 1, 0));
  const auto [in6, outer6] = tunnelled(client_packet(client_v6(4), kVip6, 21));  // odd length
  expect_relayed(router_error(outer6, 3, 0, 0), answer(in6, 40 + 20 + 21, 3, 0, 0));
}

// Below the family's minimum the client gets the minimum, counted: IPv6's 1280 cannot carry a
// 1280-byte packet through 40 more bytes of tunnel (docs/tunnel.md).
TEST_F(IcmpRelayTest, MtuBelowTheFamilyMinimumIsRaisedToItAndCounted) {
  serve_through_tunnel(1, kTunReal6, kLocal6, kVip6);
  serve_through_tunnel(2, kTunReal4, kLocal4, kVip4);
  const auto [in6, outer6] = tunnelled(client_packet(client_v6(5), kVip6, 1300));
  expect_relayed(router_error(outer6, 2, 0, 1280), answer(in6, kQuote6 - 40, 2, 0, 1280));
  const auto [in4, outer4] = tunnelled(client_packet(client_v4(5), kVip4, 100));
  expect_relayed(router_error(outer4, 3, 4, 80), answer(in4, 20 + 20 + 100, 3, 4, 68));
  EXPECT_EQ(lb().counter(XLB_CTR_TUN_ICMP_MTU_CLAMPED), 2u);
  EXPECT_EQ(relayed(), 2u);
}

TEST_F(IcmpRelayTest, FragmentationNeededForAPacketWithoutDfIsNotRelayed) {
  serve_through_tunnel(1, kTunReal4, kLocal4, kVip4);
  const auto [in, outer] = tunnelled(client_packet(client_v4(6), kVip4, 1400), false);
  EXPECT_EQ(run(router_error(outer, 3, 4, 1400)).action, XDP_DROP);
  EXPECT_EQ(lb().counter(XLB_CTR_DROP_TUN_ICMP_NO_DF), 1u);
  EXPECT_EQ(relayed(), 0u);
}

// Errors about tunnel packets the balancer did not send for that flow are the kernel's.
TEST_F(IcmpRelayTest, ErrorsAboutUnknownRealsFlowsOrTunnelsArePassed) {
  serve_through_tunnel(1, kTunReal4, kLocal4, kVip4);
  const auto [in, outer] = tunnelled(client_packet(client_v4(7), kVip4, 100));
  auto other_real = outer;
  other_real[19] ^= 1;  // another outer destination (checksum left: the program does not read it)
  EXPECT_EQ(run(router_error(other_real, 3, 1, 0)).action, XDP_PASS);
  auto other_source = outer;
  other_source[15] ^= 1;
  EXPECT_EQ(run(router_error(other_source, 3, 1, 0)).action, XDP_PASS);
  auto other_client = outer;
  other_client[20 + 12] ^= 1;  // no flow
  EXPECT_EQ(run(router_error(other_client, 3, 1, 0)).action, XDP_PASS);
  auto as_gue = outer;  // the real's tunnel is IPIP: UDP to 6080 + GUE is not its
  as_gue[9] = 17;
  const Bytes gue{0xc0, 0x00, 0x17, 0xc0, 0, static_cast<std::uint8_t>(outer.size() - 20 + 12), 0, 0, 0, 4, 0, 0};
  as_gue.insert(as_gue.begin() + 20, gue.begin(), gue.end());
  EXPECT_EQ(run(router_error(as_gue, 3, 1, 0)).action, XDP_PASS);
  EXPECT_EQ(lb().counter(XLB_CTR_PASS_TUN_ICMP_UNKNOWN), 4u);
  EXPECT_EQ(relayed(), 0u);
  // Not a tunnel packet at all (a UDP datagram of the node's own): passed, not counted as one.
  auto plain = outer;
  plain[9] = 17;
  EXPECT_EQ(run(router_error(plain, 3, 3, 0)).action, XDP_PASS);
  EXPECT_EQ(lb().counter(XLB_CTR_PASS_TUN_ICMP_UNKNOWN), 4u);
}

// Quotes of every length, the error's own length telling the truth: relayed exactly once the
// client's addresses and ports are in, passed and counted before; and frames cut short (the
// error's length then says more than the frame has) are never sent anywhere.
TEST_F(IcmpRelayTest, TruncatedQuotesArePassedAndCountedAtEveryBoundary) {
  serve_through_tunnel(1, kTunReal4, kLocal4, kVip4, XLB_TUN_GUE);
  serve_through_tunnel(2, kTunReal6, kLocal6, kVip6);
  for (const Address& vip : {kVip4, kVip6}) {
    const bool v4 = vip.family == 4;
    SCOPED_TRACE(v4 ? "GUE over IPv4" : "IPv6 in IPv6");
    const auto [in, outer] = tunnelled(client_packet(v4 ? client_v4(8) : client_v6(8), vip, 60));
    const std::size_t tunnel = v4 ? 32 : 40, needed = tunnel + (v4 ? 20 : 40) + 4;
    for (std::size_t quoted = 0; quoted <= outer.size(); ++quoted) {
      const auto before = lb().counter(XLB_CTR_PASS_TUN_ICMP_BAD_QUOTE);
      const Bytes error = router_error(outer, v4 ? 3 : 1, 1, 0, quoted);
      const auto out = run(error);
      if (quoted >= needed) {
        ASSERT_EQ(out.action, XDP_TX) << quoted;
        EXPECT_EQ(out.frame, answer(in, quoted - tunnel, v4 ? 3 : 1, 1, 0)) << quoted;
      } else {
        ASSERT_EQ(out.action, XDP_PASS) << quoted;
        // Once the tunnel's headers are quoted the error is known for a tunnel's.
        if (quoted >= tunnel) {
          EXPECT_EQ(lb().counter(XLB_CTR_PASS_TUN_ICMP_BAD_QUOTE), before + 1) << quoted;
        }
      }
      for (std::size_t len = 14; len < error.size(); ++len) {
        const Bytes cut(error.begin(), error.begin() + static_cast<std::ptrdiff_t>(len));
        const auto r = run(cut);
        ASSERT_TRUE(r.action == XDP_PASS || r.action == XDP_DROP) << quoted << " cut to " << len;
      }
    }
  }
}

TEST_F(IcmpRelayTest, AClientWhoseNextHopIsUnresolvedIsNotAnswered) {
  serve_through_tunnel(1, kTunReal4, kLocal4, kVip4);
  const auto [in, outer] = tunnelled(client_packet(Address::parse("198.18.101.7"), kVip4, 100));
  EXPECT_EQ(run(router_error(outer, 3, 1, 0)).action, XDP_DROP);
  EXPECT_EQ(lb().counter(XLB_CTR_DROP_TUN_ICMP_NO_NEIGH), 1u);
  const auto [in2, outer2] = tunnelled(client_packet(Address::parse("198.18.102.7"), kVip4, 100));
  EXPECT_EQ(run(router_error(outer2, 3, 1, 0)).action, XDP_DROP);
  EXPECT_EQ(lb().counter(XLB_CTR_DROP_TUN_ICMP_NO_ROUTE), 1u);
}

// The limiter the balancer's own too-big answers use: 1,000 a second for both.
TEST_F(IcmpRelayTest, RelayedErrorsShareTheTooBigRateLimit) {
  serve_through_tunnel(1, kTunReal4, kLocal4, kVip4);
  const auto [in, outer] = tunnelled(client_packet(client_v4(9), kVip4, 1400));
  const Bytes error = router_error(outer, 3, 4, 1400);
  int answered = 0;
  for (int i = 0; i < 2500; ++i) answered += run(error).action == XDP_TX;
  EXPECT_LE(answered, 2000);
  EXPECT_GE(answered, 1000);
  EXPECT_EQ(relayed(), static_cast<std::uint64_t>(answered));
  EXPECT_EQ(relayed() + lb().counter(XLB_CTR_DROP_TUN_ICMP_LIMITED), 2500u);
}

// The checksum is the router's, adjusted: an error corrupted on the way stays corrupt.
TEST_F(IcmpRelayTest, ACorruptErrorGivesACorruptAnswer) {
  serve_through_tunnel(1, kTunReal4, kLocal4, kVip4);
  const auto [in, outer] = tunnelled(client_packet(client_v4(10), kVip4, 100));
  Bytes error = router_error(outer, 3, 1, 0);
  error.back() ^= 0x40;
  const auto out = run(error);
  ASSERT_EQ(out.action, XDP_TX);
  EXPECT_NE(fold16(sum16(out.frame.data() + 34, out.frame.size() - 34)), 0);
}

}  // namespace
}  // namespace xlb::bpftest
