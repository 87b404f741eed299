#include "ctrl/dataplane/ring_builder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace xlb::dataplane {
namespace {

std::vector<RingMember> members_n(std::size_t n, std::uint32_t weight = 1) {
  std::vector<RingMember> ms;
  for (std::size_t i = 0; i < n; ++i) {
    ms.push_back({static_cast<std::uint32_t>(i + 1), weight, "198.18.1." + std::to_string(i + 1) + ":80"});
  }
  return ms;
}

std::map<std::uint32_t, std::size_t> histogram(const std::vector<std::uint32_t>& ring) {
  std::map<std::uint32_t, std::size_t> h;
  for (auto id : ring) ++h[id];
  return h;
}

TEST(RrRing, EachUsableMemberOnceInOrder) {
  std::vector<RingMember> ms{{7, 3, "a:1"}, {8, 0, "b:1"}, {9, 1, "c:1"}};
  EXPECT_EQ(build_rr_ring(ms), (std::vector<std::uint32_t>{7, 9}));
  EXPECT_TRUE(build_rr_ring({}).empty());
}

TEST(WrrRing, TwoToOneIsInterleaved) {
  std::vector<RingMember> ms{{1, 2, "a:80"}, {2, 1, "b:80"}};
  EXPECT_EQ(build_wrr_ring(ms, 4093), (std::vector<std::uint32_t>{1, 2, 1}));
}

TEST(WrrRing, ReducedByGcd) {
  std::vector<RingMember> ms{{1, 200, "a:80"}, {2, 100, "b:80"}};
  EXPECT_EQ(build_wrr_ring(ms, 4093), (std::vector<std::uint32_t>{1, 2, 1}));
  std::vector<RingMember> three{{1, 6, "a"}, {2, 4, "b"}, {3, 2, "c"}};
  auto ring = build_wrr_ring(three, 4093);
  ASSERT_EQ(ring.size(), 6u);
  auto h = histogram(ring);
  EXPECT_EQ(h[1], 3u);
  EXPECT_EQ(h[2], 2u);
  EXPECT_EQ(h[3], 1u);
}

TEST(WrrRing, SmoothNoClumps) {
  // 5:1:1 - smooth WRR never gives the heavy member more than its share in a row.
  std::vector<RingMember> ms{{1, 5, "a"}, {2, 1, "b"}, {3, 1, "c"}};
  auto ring = build_wrr_ring(ms, 4093);
  EXPECT_EQ(ring, (std::vector<std::uint32_t>{1, 1, 2, 1, 3, 1, 1}));
}

TEST(WrrRing, WeightZeroExcludedAndEmpty) {
  std::vector<RingMember> ms{{1, 0, "a"}, {2, 3, "b"}};
  EXPECT_EQ(build_wrr_ring(ms, 10), (std::vector<std::uint32_t>{2}));
  std::vector<RingMember> none{{1, 0, "a"}};
  EXPECT_TRUE(build_wrr_ring(none, 10).empty());
}

TEST(WrrRing, ScaledDownToMaxLen) {
  std::vector<RingMember> ms{{1, 1000, "a"}, {2, 499, "b"}, {3, 1, "c"}};
  auto ring = build_wrr_ring(ms, 100);
  ASSERT_LE(ring.size(), 100u);
  auto h = histogram(ring);
  EXPECT_GE(h[3], 1u);  // a tiny weight keeps one entry
  EXPECT_NEAR(static_cast<double>(h[1]) / static_cast<double>(h[2]), 2.0, 0.1);
}

TEST(WrrRing, TooManyMembersThrows) {
  EXPECT_THROW(build_wrr_ring(members_n(5), 4), std::invalid_argument);
}

TEST(MaglevRing, RejectsNonPrimeSize) {
  auto ms = members_n(3);
  EXPECT_THROW(build_maglev_ring(ms, 4096), std::invalid_argument);
  EXPECT_NO_THROW(build_maglev_ring(ms, 4093));
}

TEST(MaglevRing, EqualWeightsBalanced) {
  auto ms = members_n(5);
  auto ring = build_maglev_ring(ms, 4093);
  ASSERT_EQ(ring.size(), 4093u);
  auto h = histogram(ring);
  ASSERT_EQ(h.size(), 5u);
  for (auto [id, n] : h) {
    EXPECT_NEAR(static_cast<double>(n) / 4093.0, 0.2, 0.2 * 0.05) << "real " << id;
  }
}

TEST(MaglevRing, WeightedShares) {
  std::vector<RingMember> ms{{1, 2, "198.18.1.1:80"}, {2, 1, "198.18.1.2:80"}, {3, 0, "198.18.1.3:80"}};
  auto h = histogram(build_maglev_ring(ms, 4093));
  EXPECT_EQ(h.count(3), 0u);
  EXPECT_NEAR(static_cast<double>(h[1]) / 4093.0, 2.0 / 3.0, 0.02);
  EXPECT_NEAR(static_cast<double>(h[2]) / 4093.0, 1.0 / 3.0, 0.02);
}

TEST(MaglevRing, AboutOneNthMovesWhenOneGoes) {
  constexpr std::size_t kN = 10;
  auto ms = members_n(kN);
  auto before = build_maglev_ring(ms, 4093);
  auto gone = ms[3].real_id;
  ms.erase(ms.begin() + 3);
  auto after = build_maglev_ring(ms, 4093);
  std::size_t moved = 0;
  std::size_t moved_needlessly = 0;
  for (std::size_t i = 0; i < before.size(); ++i) {
    if (before[i] != after[i]) {
      ++moved;
      if (before[i] != gone) ++moved_needlessly;
    }
  }
  const double frac = static_cast<double>(moved) / 4093.0;
  EXPECT_NEAR(frac, 1.0 / kN, 0.05);
  // Maglev is not perfectly minimal; entries of survivors that move stay a small share.
  EXPECT_LT(static_cast<double>(moved_needlessly) / 4093.0, 0.05);
}

TEST(MaglevRing, DeterministicAndOrderIndependent) {
  auto ms = members_n(7);
  auto a = build_maglev_ring(ms, 4093);
  auto b = build_maglev_ring(ms, 4093);
  EXPECT_EQ(a, b);
  auto reversed = ms;
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(build_maglev_ring(reversed, 4093), a);
  // Same identities under other ids (another LB node): same table modulo the id mapping.
  auto renumbered = ms;
  for (auto& m : renumbered) m.real_id += 100;
  auto c = build_maglev_ring(renumbered, 4093);
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(c[i], a[i] + 100);
}

TEST(MaglevRing, FixedHashValues) {
  // Pinned so that a change of the hash (which would make two LB versions disagree) fails here.
  EXPECT_EQ(ring_hash("198.18.1.1:80", 1), 12122416940289817645ULL);
  EXPECT_NE(ring_hash("198.18.1.1:80", 1), ring_hash("198.18.1.1:80", 2));
  auto ring = build_maglev_ring(members_n(3), 13);
  ASSERT_EQ(ring.size(), 13u);
  std::string text;
  for (auto id : ring) text += std::to_string(id);
  EXPECT_EQ(text, "2311332321121");
}

TEST(MaglevRing, EmptyWhenNoWeight) {
  auto ms = members_n(3, 0);
  EXPECT_TRUE(build_maglev_ring(ms, 4093).empty());
}

}  // namespace
}  // namespace xlb::dataplane
