// Entries [0, count) of a per-CPU array map (vip_stats, real_stats, counters, flow_cache), every
// CPU's copy of each, read with BPF_MAP_LOOKUP_BATCH: a few syscalls for the lot instead of one
// per entry, each of which allocates a kernel buffer for its values. A metrics scrape or a
// status-page rebuild at 1,000 reals read ~2,000 entries one by one, and those reads were
// about a third of its time. Header-only, so that xlbctl (which reads pins without the dataplane
// library) reads the same way.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <span>
#include <vector>

#include "ctrl/dataplane/bpf_map.hpp"

namespace xlb::dataplane {

template <class V>
class PerCpuValues {
  static_assert(sizeof(V) % 8 == 0, "per-CPU values are 8-byte aligned");

 public:
  PerCpuValues() = default;
  // count beyond the map's max_entries reads what there is; an entry that cannot be read is
  // zero on every CPU, as a failed key-by-key read was counted.
  PerCpuValues(const BpfMap& map, std::uint32_t count)
      : cpus_(static_cast<std::size_t>(BpfMap::possible_cpus())),
        values_(static_cast<std::size_t>(std::min(count, map.max_entries())) * cpus_) {
    count = std::min(count, map.max_entries());
    const std::uint32_t done = read_batches(map, count);
    // Kernels or map types without batch reads, or a batch that failed midway: the rest key by key.
    for (std::uint32_t id = done; id < count; ++id) {
      if (bpf_map_lookup_elem(map.fd(), &id, &values_[id * cpus_]) != 0) {
        std::fill_n(values_.begin() + static_cast<std::ptrdiff_t>(id * cpus_), cpus_, V{});
      }
    }
  }

  // Every CPU's copy of entry `id`; empty beyond what was read.
  std::span<const V> operator[](std::uint32_t id) const {
    const std::size_t at = static_cast<std::size_t>(id) * cpus_;
    if (at >= values_.size()) return {};
    return {values_.data() + at, cpus_};
  }
  std::uint32_t size() const { return cpus_ == 0 ? 0 : static_cast<std::uint32_t>(values_.size() / cpus_); }

 private:
  // Returns how many entries, from 0, the batches read.
  std::uint32_t read_batches(const BpfMap& map, std::uint32_t count) {
    std::vector<std::uint32_t> keys(count);
    std::uint32_t done = 0;
    std::uint32_t in_batch = 0;
    std::uint32_t out_batch = 0;
    while (done < count) {
      std::uint32_t n = count - done;
      const int rc = bpf_map_lookup_batch(map.fd(), done == 0 ? nullptr : &in_batch, &out_batch, keys.data() + done,
                                          values_.data() + static_cast<std::size_t>(done) * cpus_, &n, nullptr);
      const int err = rc < 0 ? -rc : 0;
      if (rc != 0 && err != ENOENT) return done;  // no batch reads here (EINVAL, ENOTSUPP): key by key
      // An array's keys come in order from 0; anything else is not a per-CPU array read.
      for (std::uint32_t i = done; i < done + n; ++i) {
        if (keys[i] != i) return i;
      }
      done += n;
      if (err == ENOENT || n == 0) break;
      in_batch = out_batch;
    }
    return done;
  }

  std::size_t cpus_ = 0;
  std::vector<V> values_;
};

}  // namespace xlb::dataplane
