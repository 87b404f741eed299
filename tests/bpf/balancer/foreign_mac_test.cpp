// Issue 29, item 1: with N nodes active behind ECMP a switch floods a dead node's frames (its
// MAC aged out) to every node, and each would forward them; the program acts only on frames
// sent to its interface's MAC and hands the rest to the kernel, counted. Routing and neighbour
// traffic to the node itself (BGP, BFD, ARP) passes untouched whatever if_macs holds.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "ctrl/dataplane/map_values.hpp"
#include "tests/bpf/balancer/fixture.hpp"

namespace xlb::bpftest {
namespace {

// BPF_PROG_TEST_RUN presents a frame without ctx_in as received on loopback.
inline constexpr std::uint32_t kLoopback = 1;
inline const Mac kOwnMac{0x02, 0x1b, 0x00, 0x00, 0x00, 0x01};  // PacketSpec's default destination
inline const Mac kForeignMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
inline const Address kNode4 = Address::parse("198.18.0.2");  // the node's own address, no VIP
inline const Address kNode6 = Address::parse("2001:db8::2");

class ForeignMacTest : public BalancerTest {
 protected:
  void SetUp() override {
    BalancerTest::SetUp();
    serve_tcp_and_udp();
  }

  void set_own_mac(const Mac& mac, bool enabled = true) {
    xlb_if_mac value{};
    std::copy(mac.begin(), mac.end(), value.mac);
    value.enabled = enabled ? 1 : 0;
    if (bpf_map_update_elem(bpf_map__fd(lb().map("if_macs")), &kLoopback, &value, BPF_ANY) != 0) {
      throw std::runtime_error("if_macs update failed");
    }
  }

  // A frame that must leave the program as it came, to the kernel.
  void expect_untouched(const Bytes& frame, const std::string& what) {
    const RunResult r = lb().run(frame);
    EXPECT_EQ(r.action, XDP_PASS) << what;
    EXPECT_EQ(r.frame, frame) << what << ": modified";
  }
};

TEST_F(ForeignMacTest, VipFrameToAnotherMacIsPassedAndCounted) {
  set_own_mac(kOwnMac);
  for (const Address* vip : {&kVip4, &kVip6}) {
    auto p = tcp(client_v4(7), 1000, *vip);
    if (vip == &kVip6) p = tcp(client_v6(7), 1000, *vip);
    p.dst_mac = kForeignMac;
    const std::uint64_t before = lb().counter(XLB_CTR_PASS_FOREIGN_MAC);
    expect_untouched(build_packet(p), "new flow to " + mac_str(kForeignMac));
    EXPECT_EQ(lb().counter(XLB_CTR_PASS_FOREIGN_MAC), before + 1);
  }
  EXPECT_EQ(lb().flow_count(), 0u);
  EXPECT_EQ(lb().counter(XLB_CTR_TX), 0u);
}

TEST_F(ForeignMacTest, EstablishedFlowToAnotherMacIsPassed) {
  set_own_mac(kOwnMac);
  auto p = tcp(client_v4(8), 1000);
  ASSERT_NE(send(p), 0u);
  p.tcp_flags = kTcpAck;
  ASSERT_NE(send(p), 0u);  // fills the flow cache
  ASSERT_NE(send(p), 0u);  // served by it
  p.dst_mac = kForeignMac;
  const std::uint64_t before = lb().counter(XLB_CTR_PASS_FOREIGN_MAC);
  expect_untouched(build_packet(p), "cached flow to a foreign MAC");
  lb().bump_cache_epoch();
  expect_untouched(build_packet(p), "flow in the table to a foreign MAC");
  EXPECT_EQ(lb().counter(XLB_CTR_PASS_FOREIGN_MAC), before + 2);
  // The node's own MAC still forwards it.
  p.dst_mac = kOwnMac;
  EXPECT_NE(send(p), 0u);
}

TEST_F(ForeignMacTest, OwnMacForwardsAndUnfilledInterfaceComparesNothing) {
  set_own_mac(kOwnMac);
  EXPECT_NE(send(tcp(client_v4(9), 1000)), 0u);
  // An interface xlbd did not fill (a test harness, an old pin) forwards as before.
  set_own_mac(kOwnMac, false);
  auto p = tcp(client_v4(10), 1000);
  p.dst_mac = kForeignMac;
  EXPECT_NE(send(p), 0u);
}

TEST_F(ForeignMacTest, BgpBfdAndArpToTheNodePassUntouched) {
  set_own_mac(kOwnMac);
  for (const Mac& mac : {kOwnMac, kForeignMac}) {
    for (const Address* node : {&kNode4, &kNode6}) {
      const Address peer = node == &kNode4 ? client_v4(20) : client_v6(20);
      auto bgp = tcp(peer, 40179, *node, 179);
      bgp.dst_mac = mac;
      expect_untouched(build_packet(bgp), "BGP SYN to " + mac_str(mac));
      bgp.tcp_flags = kTcpAck;
      bgp.payload = 19;  // a KEEPALIVE
      expect_untouched(build_packet(bgp), "BGP keepalive to " + mac_str(mac));
      auto bfd = tcp(peer, 49152, *node, 3784);
      bfd.proto = kUdp;
      bfd.payload = 24;
      bfd.dst_mac = mac;
      expect_untouched(build_packet(bfd), "BFD control to " + mac_str(mac));
    }
  }
  // An ARP request for the VIP itself and a reply to the node: the kernel answers and learns.
  for (const Address* target : {&kVip4, &kNode4}) {
    const Bytes header = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0xc1, 0x1e, 0x00, 0x00, 0x01, 0x08, 0x06,
                          0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, 0x02, 0xc1, 0x1e, 0x00, 0x00, 0x01,
                          198, 18, 1, 20};
    Bytes arp(60, 0);  // the minimum frame: ARP's 28 bytes are padded
    std::copy(header.begin(), header.end(), arp.begin());
    std::copy_n(target->bytes.begin(), 4, arp.begin() + 38);  // target protocol address
    expect_untouched(arp, "ARP request for " + target->str());
    std::copy(kOwnMac.begin(), kOwnMac.end(), arp.begin());
    arp[21] = 2;
    expect_untouched(arp, "ARP reply for " + target->str());
  }
  EXPECT_EQ(lb().counter(XLB_CTR_TX), 0u);
  EXPECT_EQ(lb().flow_count(), 0u);
}

}  // namespace
}  // namespace xlb::bpftest
