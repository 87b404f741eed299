// The one place that knows how real ids are packed into the "ring" map (layout in xlb_abi.h):
// xlbd's backend, xlbctl, the BPF test harness, the pktgen target and the benchmarks all read
// and write ring halves through it. Header-only, because some of those tools link libbpf but
// not the dataplane library.
#pragma once

#include <bpf/bpf.h>

#include <cerrno>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "xlb/xlb_abi.h"

namespace xlb::dataplane {

class RingLayout {
 public:
  static constexpr std::uint32_t kIdsPerEntry = XLB_RING_IDS_PER_ENTRY;
  static_assert((kIdsPerEntry & (kIdsPerEntry - 1)) == 0, "the program masks positions with kIdsPerEntry - 1");

  // ring_size: positions per half (the program's rodata ring_size).
  explicit RingLayout(std::uint32_t ring_size) : ring_size_(ring_size), half_entries_(xlb_ring_half_entries(ring_size)) {}

  std::uint32_t ring_size() const { return ring_size_; }
  // Map elements per half: ring_size rounded up to whole elements.
  std::uint32_t half_entries() const { return half_entries_; }
  // max_entries of the ring map for max_vips VIPs; may exceed 2^32, which callers refuse.
  std::uint64_t map_entries(std::uint32_t max_vips) const { return std::uint64_t{max_vips} * 2 * half_entries_; }
  // Bytes the kernel allocates for the map's values (array values are rounded up to 8).
  std::uint64_t map_value_bytes(std::uint32_t max_vips) const {
    return map_entries(max_vips) * ((sizeof(xlb_ring_entry) + 7) / 8 * 8);
  }
  std::uint32_t first_entry(std::uint32_t vip_id, std::uint32_t slot) const {
    return xlb_ring_first_element(ring_size_, vip_id, slot);
  }

  // The elements holding positions 0..ids.size()-1 of a half, the unused tail of the last one
  // zero. Throws std::invalid_argument when the ring does not fit in a half.
  std::vector<xlb_ring_entry> pack(std::span<const std::uint32_t> ids) const {
    if (ids.size() > ring_size_) {
      throw std::invalid_argument("ring of " + std::to_string(ids.size()) + " positions does not fit a half of " +
                                  std::to_string(ring_size_));
    }
    std::vector<xlb_ring_entry> out((ids.size() + kIdsPerEntry - 1) / kIdsPerEntry, xlb_ring_entry{});
    for (std::size_t pos = 0; pos < ids.size(); ++pos) out[pos / kIdsPerEntry].real_id[pos % kIdsPerEntry] = ids[pos];
    return out;
  }

  // Positions 0..len-1 back out of a half's elements (fewer when the elements end first).
  static std::vector<std::uint32_t> unpack(std::span<const xlb_ring_entry> entries, std::uint32_t len) {
    std::vector<std::uint32_t> ids;
    const std::uint64_t have = std::uint64_t{entries.size()} * kIdsPerEntry;
    ids.reserve(len < have ? len : have);
    for (std::uint64_t pos = 0; pos < len && pos < have; ++pos) {
      ids.push_back(entries[pos / kIdsPerEntry].real_id[pos % kIdsPerEntry]);
    }
    return ids;
  }

  // Writes a half of a VIP: every element once, in one batch where the kernel has batch
  // updates (5.6+), else element by element. The other half is never touched, so a writer
  // that flips vip_info.ring_slot afterwards switches atomically.
  std::error_code write_half(int ring_fd, std::uint32_t vip_id, std::uint32_t slot,
                             std::span<const std::uint32_t> ids) const {
    const auto values = pack(ids);
    if (values.empty()) return {};
    std::vector<std::uint32_t> keys(values.size());
    const std::uint32_t first = first_entry(vip_id, slot);
    for (std::uint32_t i = 0; i < keys.size(); ++i) keys[i] = first + i;
    std::uint32_t count = static_cast<std::uint32_t>(keys.size());
    if (bpf_map_update_batch(ring_fd, keys.data(), values.data(), &count, nullptr) == 0) return {};
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (bpf_map_update_elem(ring_fd, &keys[i], &values[i], BPF_ANY) != 0) {
        return {errno, std::generic_category()};
      }
    }
    return {};
  }

  // Positions 0..len-1 (at most ring_size) of a half; an element that cannot be read gives zeros.
  std::vector<std::uint32_t> read_half(int ring_fd, std::uint32_t vip_id, std::uint32_t slot,
                                       std::uint32_t len) const {
    if (len > ring_size_) len = ring_size_;
    std::vector<xlb_ring_entry> entries((len + kIdsPerEntry - 1) / kIdsPerEntry, xlb_ring_entry{});
    const std::uint32_t first = first_entry(vip_id, slot);
    for (std::uint32_t i = 0; i < entries.size(); ++i) {
      const std::uint32_t key = first + i;
      if (bpf_map_lookup_elem(ring_fd, &key, &entries[i]) != 0) entries[i] = xlb_ring_entry{};
    }
    return unpack(entries, len);
  }

 private:
  std::uint32_t ring_size_;
  std::uint32_t half_entries_;
};

}  // namespace xlb::dataplane
