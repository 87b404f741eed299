// Capture in the XDP program: what a record says about a packet (verdict, path, real, MACs as
// it arrived and as it left), the filters evaluated in the program, the counts of what was
// kept out or lost, the lease, and that a capture changes no verdict and no frame.
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <arpa/inet.h>

#include <chrono>
#include <thread>
#include <vector>

#include "ctrl/dataplane/pinned_map.hpp"
#include "tests/bpf/balancer/fixture.hpp"
#include "tools/xlbctl/capture_session.hpp"

namespace xlb::bpftest {
namespace {

struct Captured {
  xlb_capture_record header;
  Bytes frame;
};

class CaptureTest : public BalancerTest {
 protected:
  // Switches capture on for `options`; records collect in records_.
  std::unique_ptr<ctl::CaptureSession> start(const ctl::CaptureOptions& options = {},
                                             std::chrono::milliseconds lease = std::chrono::seconds(5)) {
    return std::make_unique<ctl::CaptureSession>(
        pin_root(), ctl::capture_config_from(options),
        [this](const xlb_capture_record& h, std::span<const std::uint8_t> f) {
          records_.push_back({h, Bytes(f.begin(), f.end())});
        },
        lease);
  }
  static ctl::CaptureOptions any() {
    ctl::CaptureOptions o;
    o.verdict = "any";
    o.snaplen = XLB_CAPTURE_SNAP_MAX;
    return o;
  }
  // The program's capture settings, read from the pin as any reader would.
  xlb_capture_config config() const {
    const dataplane::PinnedMap pin(std::filesystem::path(pin_root()) / "capture");
    return dataplane::BpfMap(pin.required_fd()).lookup<__u32, xlb_capture_config>(0).value_or(xlb_capture_config{});
  }
  std::vector<Captured> records_;
};

TEST_F(CaptureTest, ForwardedSynCarriesTheRealsMacAndTheDecision) {
  serve_tcp_and_udp();
  auto capture = start(any());
  const PacketSpec syn = tcp(client_v4(1), 40000);
  const Bytes frame = build_packet(syn);
  const RunResult out = lb().run(frame);
  ASSERT_EQ(out.action, XDP_TX);
  capture->drain();
  ASSERT_EQ(records_.size(), 1u);
  const auto& r = records_[0];
  EXPECT_EQ(r.header.action, XDP_TX);
  EXPECT_EQ(r.header.reason, XLB_CTR_TX);
  EXPECT_EQ(r.header.path, XLB_CAPTURE_PATH_SCHEDULER);
  EXPECT_EQ(r.header.flags, XLB_CAPTURE_F_FLOW_WRITTEN);
  EXPECT_EQ(r.header.vip_id, 1u);
  EXPECT_EQ(r.header.real_id, real_of(out));
  EXPECT_EQ(r.header.len, frame.size());
  EXPECT_EQ(r.header.caplen, frame.size());
  // As it left: the frame the program returned, byte for byte; as it arrived: its MACs.
  EXPECT_EQ(r.frame, out.frame);
  EXPECT_EQ(frame_dst_mac(r.frame), real_mac(r.header.real_id));
  EXPECT_TRUE(std::equal(frame.begin(), frame.begin() + 12, r.header.arrived_macs));
  EXPECT_EQ(capture->counts().recorded, 1u);

  // The next packets of the flow: the connection table (which fills the cache), then the cache.
  PacketSpec ack = syn;
  ack.tcp_flags = kTcpAck;
  ASSERT_EQ(lb().run(build_packet(ack)).action, XDP_TX);
  ASSERT_EQ(lb().run(build_packet(ack)).action, XDP_TX);
  capture->drain();
  ASSERT_EQ(records_.size(), 3u);
  EXPECT_EQ(records_[1].header.path, XLB_CAPTURE_PATH_CONNECTION);
  EXPECT_EQ(records_[1].header.flags, 0u);
  EXPECT_EQ(records_[2].header.path, XLB_CAPTURE_PATH_FLOW_CACHE);
  EXPECT_EQ(records_[2].header.real_id, r.header.real_id);
  EXPECT_EQ(records_[2].header.vip_id, 1u);
}

TEST_F(CaptureTest, MalformedFrameIsRecordedAsDroppedWithItsReason) {
  serve_tcp_and_udp();
  auto capture = start();  // the default: forwarded and dropped
  PacketSpec bad = tcp(client_v4(1), 40000);
  bad.tcp_flags = kTcpSyn | 0x01;  // SYN+FIN
  ASSERT_EQ(lb().run(build_packet(bad)).action, XDP_DROP);
  capture->drain();
  ASSERT_EQ(records_.size(), 1u);
  EXPECT_EQ(records_[0].header.action, XDP_DROP);
  EXPECT_EQ(records_[0].header.reason, XLB_CTR_DROP_BAD_TCP_FLAGS);
  EXPECT_EQ(records_[0].header.path, XLB_CAPTURE_PATH_NONE);
  EXPECT_EQ(records_[0].header.real_id, 0u);
  EXPECT_EQ(records_[0].header.caplen, records_[0].header.len) << "shorter than the default --snaplen 256";
  EXPECT_EQ(records_[0].header.len, build_packet(bad).size());
}

TEST_F(CaptureTest, SnaplenCutsTheCopyNotTheLength) {
  serve_tcp_and_udp();
  ctl::CaptureOptions short_copy;
  short_copy.snaplen = 34;  // Ethernet + IPv4 header
  auto capture = start(short_copy);
  PacketSpec big = tcp(client_v4(1), 1000);
  big.payload = 1000;
  ASSERT_EQ(lb().run(build_packet(big)).action, XDP_TX);
  capture->drain();
  ASSERT_EQ(records_.size(), 1u);
  EXPECT_EQ(records_[0].header.len, build_packet(big).size());
  EXPECT_EQ(records_[0].header.caplen, 34u);
  EXPECT_EQ(records_[0].frame.size(), 34u);
}

TEST_F(CaptureTest, FiltersKeepOtherTrafficOutAndCountIt) {
  serve_tcp_and_udp();
  ctl::CaptureOptions only;
  only.client = client_v4(7).str() + "/32";
  only.vip = kVip4.str() + ":80";
  auto capture = start(only);
  for (std::uint32_t i = 1; i <= 5; ++i) ASSERT_EQ(lb().run(build_packet(tcp(client_v4(i), 1000))).action, XDP_TX);
  ASSERT_EQ(lb().run(build_packet(tcp(client_v4(7), 1000))).action, XDP_TX);
  // Same client, another service (UDP, all ports) and a non-VIP destination (passed: not copied by default).
  PacketSpec udp = tcp(client_v4(7), 1000, kVip4, 53);
  udp.proto = kUdp;
  ASSERT_EQ(lb().run(build_packet(udp)).action, XDP_TX);
  ASSERT_EQ(lb().run(build_packet(tcp(client_v4(7), 1000, kOther4))).action, XDP_PASS);
  capture->drain();
  ASSERT_EQ(records_.size(), 1u);
  EXPECT_EQ(records_[0].header.real_id, real_of(lb().run(build_packet(tcp(client_v4(7), 1000)))));
  const auto counts = capture->counts();
  EXPECT_EQ(counts.recorded, 2u);  // the rerun just above matched too
  EXPECT_EQ(counts.filtered, 7u);
  EXPECT_EQ(counts.lost, 0u);

  // --real: only what went to that real.
  capture.reset();
  records_.clear();
  ctl::CaptureOptions to_real;
  to_real.real = real_addr(2).str();
  capture = start(to_real);
  for (std::uint32_t i = 10; i < 20; ++i) lb().run(build_packet(tcp(client_v4(i), 1000)));
  capture->drain();
  ASSERT_FALSE(records_.empty());
  for (const auto& r : records_) EXPECT_EQ(r.header.real_id, 2u);
  EXPECT_EQ(capture->counts().filtered + records_.size(), 10u);
}

TEST_F(CaptureTest, PassedTrafficOnlyWhenAskedFor) {
  serve_tcp_and_udp();
  ctl::CaptureOptions passed;
  passed.verdict = "passed";
  auto capture = start(passed);
  ASSERT_EQ(lb().run(build_packet(tcp(client_v4(1), 1000, kOther4))).action, XDP_PASS);
  ASSERT_EQ(lb().run(build_packet(tcp(client_v4(1), 1000))).action, XDP_TX);
  capture->drain();
  ASSERT_EQ(records_.size(), 1u);
  EXPECT_EQ(records_[0].header.action, XDP_PASS);
  EXPECT_EQ(records_[0].header.reason, XLB_CTR_PASS);
}

TEST_F(CaptureTest, PersistenceHitAndSorryServerAreNamed) {
  add_real(1);
  add_real(2);
  add_real(9);
  auto spec = service(XLB_SCHED_WRR);
  spec.persist_timeout = 300;
  lb().configure(spec, members({{1, 1}, {2, 1}}));
  auto sorry = service(XLB_SCHED_WRR, kVip4, 81);
  sorry.vip_id = 2;
  sorry.sorry_real = 9;
  lb().configure(sorry, members({{1, 0}}));
  auto capture = start(any());
  ASSERT_EQ(lb().run(build_packet(tcp(client_v4(1), 1000))).action, XDP_TX);
  ASSERT_EQ(lb().run(build_packet(tcp(client_v4(1), 1001))).action, XDP_TX);
  ASSERT_EQ(lb().run(build_packet(tcp(client_v4(1), 1002, kVip4, 81))).action, XDP_TX);
  capture->drain();
  ASSERT_EQ(records_.size(), 3u);
  EXPECT_EQ(records_[0].header.path, XLB_CAPTURE_PATH_SCHEDULER);
  EXPECT_EQ(records_[0].header.flags, XLB_CAPTURE_F_FLOW_WRITTEN | XLB_CAPTURE_F_PERSIST_WRITTEN);
  EXPECT_EQ(records_[1].header.path, XLB_CAPTURE_PATH_PERSISTENCE);
  EXPECT_EQ(records_[1].header.flags, XLB_CAPTURE_F_FLOW_WRITTEN);
  EXPECT_EQ(records_[1].header.real_id, records_[0].header.real_id);
  EXPECT_EQ(records_[2].header.path, XLB_CAPTURE_PATH_SORRY);
  EXPECT_EQ(records_[2].header.real_id, 9u);
  EXPECT_EQ(records_[2].header.vip_id, 2u);
}

TEST_F(CaptureTest, SampleKeepsOneInN) {
  serve_tcp_and_udp();
  ctl::CaptureOptions sampled;
  sampled.sample = "1/4";
  auto capture = start(sampled);
  for (std::uint32_t i = 0; i < 8; ++i) lb().run(build_packet(tcp(client_v4(i), 1000)));
  capture->drain();
  EXPECT_EQ(records_.size(), 2u);
  EXPECT_EQ(capture->counts().sampled, 6u);
}

TEST_F(CaptureTest, ASecondCaptureIsRefusedAndTheFirstEndsCapture) {
  serve_tcp_and_udp();
  {
    auto first = start();
    EXPECT_THROW(start(), ctl::CaptureBusy);
    EXPECT_EQ(config().enabled, 1u);
  }
  EXPECT_EQ(config().enabled, 0u) << "the session's end switches capture off";
  lb().run(build_packet(tcp(client_v4(1), 1000)));
  auto again = start();  // free again
  again->drain();
  EXPECT_TRUE(records_.empty()) << "nothing was recorded while capture was off";
}

TEST_F(CaptureTest, AnExpiredLeaseSwitchesCaptureOffInTheProgram) {
  serve_tcp_and_udp();
  auto capture = start({}, std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(120));  // nobody renews: as after SIGKILL
  ASSERT_EQ(lb().run(build_packet(tcp(client_v4(1), 1000))).action, XDP_TX);
  capture->drain();
  EXPECT_TRUE(records_.empty());
  EXPECT_EQ(config().enabled, 0u) << "the program switched the expired capture off";
  EXPECT_TRUE(capture->poll(std::chrono::milliseconds(0)).has_value()) << "the reader learns it";
  // An expired lease is no longer busy: the next capture starts.
  capture.reset();
  EXPECT_NO_THROW(start());
}

// The same packets, through a balancer that captures everything and one that captures
// nothing: the same verdicts and the same frames.
TEST_F(CaptureTest, CaptureChangesNoVerdictAndNoFrame) {
  BpfFsMount other_fs("bpftest");
  Balancer other(other_fs.path());
  for (Balancer* b : {&lb(), &other}) {
    for (std::uint32_t id : {1u, 2u}) b->put_real(id, make_real(real_mac(id), kEgressMac, kLoopback, real_addr(id)));
    b->configure(service(XLB_SCHED_WRR), members({{1, 1}, {2, 2}}));
  }
  auto capture = start(any());
  std::vector<PacketSpec> packets;
  for (std::uint32_t i = 0; i < 20; ++i) {
    PacketSpec p = tcp(client_v4(i), static_cast<std::uint16_t>(1000 + i));
    packets.push_back(p);
    p.tcp_flags = kTcpAck;
    packets.push_back(p);
    p.tcp_flags = i % 3 == 0 ? 0 : kTcpAck | 0x01;  // a NULL segment (dropped), or FIN+ACK
    packets.push_back(p);
  }
  packets.push_back(tcp(client_v4(1), 1000, kOther4));  // passed
  PacketSpec fragment = tcp(client_v4(2), 1000);
  fragment.fragment = true;
  fragment.more_fragments = true;
  packets.push_back(fragment);  // dropped
  for (const auto& p : packets) {
    const RunResult a = lb().run(build_packet(p));
    const RunResult b = other.run(build_packet(p));
    EXPECT_EQ(a.action, b.action);
    EXPECT_EQ(a.frame, b.frame);
  }
  capture->drain();
  EXPECT_EQ(records_.size(), packets.size());
  EXPECT_EQ(capture->counts().lost, 0u);
}

TEST(CaptureOptionsTest, BadOptionsSayWhich) {
  ctl::CaptureOptions o;
  o.vip = "198.18.0.300";
  EXPECT_THROW(ctl::capture_config_from(o), std::invalid_argument);
  o = {};
  o.verdict = "forwarded,kept";
  EXPECT_THROW(ctl::capture_config_from(o), std::invalid_argument);
  o = {};
  o.client = "198.18.0.0/33";
  EXPECT_THROW(ctl::capture_config_from(o), std::invalid_argument);
  o = {};
  o.sample = "2/3";
  EXPECT_THROW(ctl::capture_config_from(o), std::invalid_argument);
  o = {};
  o.vip = "[2001:db8::10]:443";
  o.client = "198.18.0.0/15";
  const auto cfg = ctl::capture_config_from(o);
  EXPECT_EQ(cfg.vip_family, XLB_FAMILY_V6);
  EXPECT_EQ(cfg.vip_port, htons(443));
  EXPECT_EQ(cfg.client_family, XLB_FAMILY_V4);
  EXPECT_EQ(cfg.client_mask[0], htonl(0xfffe0000));
  EXPECT_EQ(cfg.verdicts, XLB_CAPTURE_V_FORWARDED | XLB_CAPTURE_V_DROPPED);
}

}  // namespace
}  // namespace xlb::bpftest
