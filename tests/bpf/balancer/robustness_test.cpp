// Malformed input is never forwarded to a real: every truncation of valid VIP packets (whose
// flows are established, so a lax parser would find them in the table) and thousands of
// random byte strings.
#include <cerrno>
#include <cstring>
#include <random>
#include <system_error>

#include "tests/bpf/balancer/fixture.hpp"

namespace xlb::bpftest {
namespace {

class RobustnessTest : public BalancerTest {
 protected:
  void SetUp() override {
    BalancerTest::SetUp();
    serve_tcp_and_udp();
  }

  // Runs the frame; true when it left towards a real. Frames the kernel refuses (shorter than
  // an Ethernet header) never reach the program and count as not forwarded.
  bool forwarded(const Bytes& frame, std::string* why) {
    RunResult r;
    try {
      r = lb().run(frame);
    } catch (const std::system_error& e) {
      if (e.code().value() == EINVAL && frame.size() < 14) return false;
      throw;
    }
    if (r.action == XDP_TX || r.action == XDP_REDIRECT || is_real_mac(frame_dst_mac(r.frame))) {
      *why = "action " + std::to_string(r.action) + " dst " + mac_str(frame_dst_mac(r.frame));
      return true;
    }
    return false;
  }

  // Valid frames of every shape, each already accepted twice (so its flow exists, and sits in
  // this CPU's flow cache, where the program's fast path finds it).
  std::vector<Bytes> valid_frames() {
    std::vector<PacketSpec> specs;
    auto syn = tcp(client_v4(1), 1000);
    syn.payload = 24;
    specs.push_back(syn);
    auto options = tcp(client_v4(2), 1000);
    options.ipv4_options = 8;
    options.payload = 3;
    specs.push_back(options);
    auto udp = tcp(client_v4(3), 5353, kVip4, 53);
    udp.proto = kUdp;
    udp.payload = 12;
    specs.push_back(udp);
    auto v6 = tcp(client_v6(4), 1000, kVip6);
    v6.payload = 5;
    specs.push_back(v6);
    auto ext = tcp(client_v6(5), 1000, kVip6);
    ext.ipv6_dest_options = true;
    specs.push_back(ext);

    std::vector<Bytes> frames;
    for (const auto& s : specs) {
      const Bytes f = build_packet(s);
      for (int i = 0; i < 2; ++i) EXPECT_NE(real_of(lb().run(f)), 0u) << "valid frame not forwarded: " << s.src.str();
      frames.push_back(f);
    }
    auto icmp4 = build_icmp4_frag_needed(kEgressMac, kEgressMac, kRouter4, kVip4,
                                         ip_part(build_packet(tcp(kVip4, 80, client_v4(1), 1000))), 1400);
    auto icmp6 = build_icmp6_packet_too_big(kEgressMac, kEgressMac, kRouter6, kVip6,
                                            ip_part(build_packet(tcp(kVip6, 80, client_v6(4), 1000))), 1280);
    for (const auto& f : {icmp4, icmp6}) {
      EXPECT_NE(real_of(lb().run(f)), 0u) << "valid ICMP error not forwarded";
      frames.push_back(f);
    }
    return frames;
  }
};

TEST_F(RobustnessTest, NoTruncationOfAValidPacketIsForwarded) {
  const auto frames = valid_frames();
  const std::uint64_t forwarded_before = lb().counter(XLB_CTR_TX);
  std::size_t runs = 0;
  for (std::size_t f = 0; f < frames.size(); ++f) {
    for (std::size_t len = 0; len < frames[f].size(); ++len) {
      const Bytes cut(frames[f].begin(), frames[f].begin() + static_cast<std::ptrdiff_t>(len));
      std::string why;
      ASSERT_FALSE(forwarded(cut, &why)) << "frame " << f << " cut to " << len << " of " << frames[f].size()
                                         << " bytes was forwarded: " << why;
      ++runs;
    }
  }
  EXPECT_EQ(lb().counter(XLB_CTR_TX), forwarded_before);
  RecordProperty("truncations", std::to_string(runs));
}

TEST_F(RobustnessTest, RandomBytesAreNeverForwarded) {
  valid_frames();
  std::mt19937 rng(20261125);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> length(0, 200);
  const auto random_bytes = [&](Bytes& b, std::size_t from) {
    for (std::size_t i = from; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(byte(rng));
  };
  const Bytes v4_prefix = build_packet(tcp(client_v4(1), 1000));
  const Bytes v6_prefix = build_packet(tcp(client_v6(4), 1000, kVip6));
  for (int i = 0; i < 6000; ++i) {
    Bytes frame(length(rng));
    random_bytes(frame, 0);
    // Two thirds keep a valid Ethernet header and a VIP destination so that the parser goes
    // past its first checks; the rest stays random.
    if (i % 3 != 0 && frame.size() >= 54) {
      const Bytes& prefix = i % 3 == 1 ? v4_prefix : v6_prefix;
      std::memcpy(frame.data(), prefix.data(), 14);
      if (i % 3 == 1) {
        std::memcpy(frame.data() + 30, prefix.data() + 30, 4);  // IPv4 destination
      } else {
        std::memcpy(frame.data() + 38, prefix.data() + 38, 16);  // IPv6 destination
      }
    }
    std::string why;
    ASSERT_FALSE(forwarded(frame, &why)) << "random frame " << i << " of " << frame.size() << " bytes: " << why;
  }
}

}  // namespace
}  // namespace xlb::bpftest
