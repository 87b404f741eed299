// The packed ring through the kernel: halves written by RingLayout read back unchanged and
// never touch each other, and the program picks exactly ring[position] for every scheduler
// (the position being the same as with one id per element: hash % len for sh/mh, the per-CPU
// cursor for rr/wrr). ring_size 37 = two full elements and a partial one per half.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <map>

#include "ctrl/dataplane/ring_builder.hpp"
#include "ctrl/dataplane/ring_codec.hpp"
#include "tests/bpf/balancer/fixture.hpp"

namespace xlb::bpftest {
namespace {

constexpr std::uint32_t kRingSize = 37;
constexpr std::uint32_t kMaxVips = 4;

class RingTest : public BalancerTest {
 protected:
  BalancerOptions options() const override {
    BalancerOptions o;
    o.ring_size = kRingSize;
    o.max_vips = kMaxVips;
    return o;
  }
  int ring_fd() { return bpf_map__fd(lb().map("ring")); }
  const dataplane::RingLayout layout_{kRingSize};

  static std::vector<std::uint32_t> ids(std::uint32_t vip, std::uint32_t slot, std::uint32_t n) {
    std::vector<std::uint32_t> out;
    for (std::uint32_t pos = 0; pos < n; ++pos) out.push_back(vip * 1000 + slot * 100 + pos + 1);
    return out;
  }

  // n reals with ids 1..n and weight = id % 3 + 1.
  std::vector<dataplane::RingMember> reals(std::uint32_t n) {
    std::vector<dataplane::RingMember> out;
    for (std::uint32_t id = 1; id <= n; ++id) {
      add_real(id);
      out.push_back({id, id % 3 + 1, real_addr(id).str() + ":80"});
    }
    return out;
  }
};

TEST_F(RingTest, MapHasTwoWholeHalvesPerVip) {
  EXPECT_EQ(layout_.half_entries(), 3u);
  EXPECT_EQ(bpf_map__max_entries(lb().map("ring")), layout_.map_entries(kMaxVips));
  EXPECT_EQ(bpf_map__value_size(lb().map("ring")), sizeof(xlb_ring_entry));
}

TEST_F(RingTest, HalvesRoundTripAndNeverOverlap) {
  const std::uint32_t lengths[2] = {kRingSize, 20};
  for (std::uint32_t vip = 0; vip < kMaxVips; ++vip) {
    for (std::uint32_t slot = 0; slot < 2; ++slot) {
      ASSERT_FALSE(layout_.write_half(ring_fd(), vip, slot, ids(vip, slot, lengths[slot])));
    }
  }
  for (std::uint32_t vip = 0; vip < kMaxVips; ++vip) {
    for (std::uint32_t slot = 0; slot < 2; ++slot) {
      SCOPED_TRACE("vip " + std::to_string(vip) + " slot " + std::to_string(slot));
      EXPECT_EQ(layout_.read_half(ring_fd(), vip, slot, lengths[slot]), ids(vip, slot, lengths[slot]));
    }
    // The full half's last element: 5 ids, then zeros (not the next half's first ids).
    xlb_ring_entry last{};
    const std::uint32_t key = layout_.first_entry(vip, 0) + layout_.half_entries() - 1;
    ASSERT_EQ(bpf_map_lookup_elem(ring_fd(), &key, &last), 0);
    for (std::uint32_t i = 0; i < dataplane::RingLayout::kIdsPerEntry; ++i) {
      EXPECT_EQ(last.real_id[i], i < kRingSize % 16 ? vip * 1000 + 32 + i + 1 : 0u) << "id " << i;
    }
  }
  // Rewriting one half, shorter, leaves both neighbours as they were.
  ASSERT_FALSE(layout_.write_half(ring_fd(), 1, 1, ids(1, 1, 3)));
  EXPECT_EQ(layout_.read_half(ring_fd(), 1, 0, kRingSize), ids(1, 0, kRingSize));
  EXPECT_EQ(layout_.read_half(ring_fd(), 2, 0, kRingSize), ids(2, 0, kRingSize));
  EXPECT_EQ(layout_.read_half(ring_fd(), 1, 1, 3), ids(1, 1, 3));
  // A read never goes past the half, whatever length it is asked for.
  EXPECT_EQ(layout_.read_half(ring_fd(), 3, 1, 1000).size(), kRingSize);
}

TEST_F(RingTest, RingLongerThanAHalfIsRefused) {
  EXPECT_THROW(layout_.write_half(ring_fd(), 0, 0, ids(0, 0, kRingSize + 1)), std::invalid_argument);
}

TEST_F(RingTest, ShAndMhPickTheHashedPositionInBothHalves) {
  const auto members = reals(7);
  for (const std::uint32_t sched : {XLB_SCHED_SH, XLB_SCHED_MH}) {
    SCOPED_TRACE(sched == XLB_SCHED_SH ? "sh" : "mh");
    auto spec = service(sched, kVip4, sched == XLB_SCHED_SH ? 80 : 81);
    spec.vip_id = sched == XLB_SCHED_SH ? 2 : kMaxVips - 1;  // the last VIP: its last half ends the map
    // Three publications: slot 0, then 1, then 0 again, each read by the program.
    for (std::uint32_t round = 0; round < 3; ++round) {
      auto m = members;
      if (round == 1) m.pop_back();
      const auto ring = lb().configure(spec, m);
      ASSERT_EQ(ring.size(), kRingSize);
      const auto info = lb().vip(make_vip_key(spec.vip, spec.port, spec.proto));
      ASSERT_TRUE(info);
      EXPECT_EQ(info->ring_slot, round % 2);
      std::vector<std::uint32_t> sent;
      std::map<std::uint32_t, int> positions_hit;
      for (std::uint32_t c = 0; c < 2000; ++c) {
        const auto client = client_v4(c + round * 2000 + (sched == XLB_SCHED_MH ? 20000 : 0));
        const auto sport = static_cast<std::uint16_t>(10000 + c);
        const auto packet = tcp(client, sport, kVip4, spec.port);
        const xlb_flow_key key = make_flow_key(packet);
        const std::uint32_t pos = xlb_client_hash(&key, sched == XLB_SCHED_MH) % kRingSize;
        ++positions_hit[pos / dataplane::RingLayout::kIdsPerEntry];
        ASSERT_EQ(send(packet), ring[pos]) << "client " << c << " position " << pos;
      }
      EXPECT_EQ(positions_hit.size(), layout_.half_entries()) << "every element of the half was read";
    }
  }
}

TEST_F(RingTest, RrWalksEveryPositionAcrossElements) {
  auto members = reals(30);
  auto spec = service(XLB_SCHED_RR);
  spec.vip_id = 1;
  lb().configure(spec, members);
  members.erase(members.begin());
  lb().configure(spec, members);  // the second half (slot 1) is live, without real 1
  for (std::uint32_t i = 0; i < 87; ++i) {
    ASSERT_EQ(send(tcp(client_v4(i), 20000)), i % 29 + 2) << "flow " << i;
  }
}

TEST_F(RingTest, WrrFollowsTheBuiltSequence) {
  auto members = reals(12);
  auto spec = service(XLB_SCHED_WRR);
  spec.vip_id = kMaxVips - 1;
  const auto ring = lb().configure(spec, members);
  ASSERT_GT(ring.size(), 16u);
  for (std::uint32_t i = 0; i < 3 * ring.size(); ++i) {
    ASSERT_EQ(send(tcp(client_v4(i), 21000)), ring[i % ring.size()]) << "flow " << i;
  }
}

}  // namespace
}  // namespace xlb::bpftest
