// The ring codec without a kernel: packing, unpacking and where each half lives. The same
// layout against a loaded map and the program's picks are tested under tests/bpf.
#include "ctrl/dataplane/ring_codec.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <set>
#include <vector>

namespace xlb::dataplane {
namespace {

std::vector<std::uint32_t> sequence(std::uint32_t n, std::uint32_t first = 1) {
  std::vector<std::uint32_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

TEST(RingCodec, ElementIsOneCacheLineOfIds) {
  EXPECT_EQ(sizeof(xlb_ring_entry), RingLayout::kIdsPerEntry * sizeof(__u32));
  EXPECT_EQ(sizeof(xlb_ring_entry) % 8, 0u) << "the kernel would pad array values up to 8 bytes";
  EXPECT_EQ(RingLayout::kIdsPerEntry & (RingLayout::kIdsPerEntry - 1), 0u);
}

TEST(RingCodec, HalfRoundsUpToWholeElements) {
  const auto n = RingLayout::kIdsPerEntry;
  EXPECT_EQ(RingLayout(1).half_entries(), 1u);
  EXPECT_EQ(RingLayout(n).half_entries(), 1u);
  EXPECT_EQ(RingLayout(n + 1).half_entries(), 2u);
  EXPECT_EQ(RingLayout(4093).half_entries(), (4093 + n - 1) / n);
  EXPECT_EQ(RingLayout(4093).map_entries(10000), std::uint64_t{10000} * 2 * ((4093 + n - 1) / n));
  // At most half of what one id per (8-byte) element took, plus one padded element per half.
  for (std::uint32_t ring_size : {1021u, 4093u}) {
    const std::uint64_t one_per_element = std::uint64_t{10000} * 2 * ring_size * 8;
    EXPECT_LE(RingLayout(ring_size).map_value_bytes(10000), one_per_element / 2 + 10000 * 2 * sizeof(xlb_ring_entry));
  }
}

TEST(RingCodec, HalvesNeverShareAnElement) {
  for (std::uint32_t ring_size : {2u, 13u, 16u, 17u, 1021u, 4093u}) {
    SCOPED_TRACE(ring_size);
    const RingLayout layout(ring_size);
    std::set<std::uint32_t> used;
    for (std::uint32_t vip = 0; vip < 5; ++vip) {
      for (std::uint32_t slot = 0; slot < 2; ++slot) {
        const auto first = layout.first_entry(vip, slot);
        for (std::uint32_t i = 0; i < layout.half_entries(); ++i) {
          EXPECT_TRUE(used.insert(first + i).second) << "vip " << vip << " slot " << slot << " element " << i;
        }
      }
    }
    // Contiguous from 0: the map needs exactly map_entries() elements.
    EXPECT_EQ(*used.rbegin() + 1, layout.map_entries(5));
    EXPECT_EQ(layout.first_entry(3, 7), layout.first_entry(3, 1)) << "slot is taken modulo 2, as the program does";
  }
}

TEST(RingCodec, PacksPositionsInOrderAndZeroFillsTheLastElement) {
  const auto n = RingLayout::kIdsPerEntry;
  const RingLayout layout(4093);
  const auto ids = sequence(2 * n + 3, 100);
  const auto packed = layout.pack(ids);
  ASSERT_EQ(packed.size(), 3u);
  for (std::uint32_t pos = 0; pos < ids.size(); ++pos) {
    EXPECT_EQ(packed[pos / n].real_id[pos % n], 100 + pos) << "position " << pos;
  }
  for (std::uint32_t i = 3; i < n; ++i) EXPECT_EQ(packed[2].real_id[i], 0u) << "tail " << i;
  EXPECT_EQ(RingLayout::unpack(packed, static_cast<std::uint32_t>(ids.size())), ids);
}

TEST(RingCodec, ExactMultipleHasNoPaddingElement) {
  const auto n = RingLayout::kIdsPerEntry;
  const RingLayout layout(4093);
  EXPECT_EQ(layout.pack(sequence(n)).size(), 1u);
  EXPECT_EQ(layout.pack(sequence(4 * n)).size(), 4u);
  EXPECT_TRUE(layout.pack({}).empty());
}

TEST(RingCodec, FullHalfRoundTrips) {
  for (std::uint32_t ring_size : {13u, 1021u, 4093u}) {
    const RingLayout layout(ring_size);
    const auto ids = sequence(ring_size, 7);
    const auto packed = layout.pack(ids);
    EXPECT_EQ(packed.size(), layout.half_entries());
    EXPECT_EQ(RingLayout::unpack(packed, ring_size), ids);
  }
}

TEST(RingCodec, UnpackStopsAtLenAndAtTheElements) {
  const RingLayout layout(4093);
  const auto ids = sequence(40);
  const auto packed = layout.pack(ids);
  EXPECT_EQ(RingLayout::unpack(packed, 5), sequence(5));
  EXPECT_EQ(RingLayout::unpack(packed, 0), std::vector<std::uint32_t>{});
  // Asking past the elements gives what they hold (the zero tail included), no more.
  EXPECT_EQ(RingLayout::unpack(packed, 1000).size(), packed.size() * RingLayout::kIdsPerEntry);
}

TEST(RingCodec, RingLongerThanAHalfIsRefused) {
  const RingLayout layout(13);
  EXPECT_THROW(layout.pack(sequence(14)), std::invalid_argument);
  EXPECT_NO_THROW(layout.pack(sequence(13)));
}

}  // namespace
}  // namespace xlb::dataplane
