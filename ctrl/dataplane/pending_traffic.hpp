// Traffic the program has counted in its per-CPU flow cache but not yet moved into vip_stats,
// real_stats and counters (xlb_abi.h, "flow_cache"): what every reader of those maps adds for
// exact figures. Header-only, so that xlbctl, which reads pins without the dataplane library,
// applies the same rule as xlbd.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>

#include "ctrl/dataplane/bpf_map.hpp"
#include "ctrl/dataplane/per_cpu_values.hpp"
#include "xlb/xlb_abi.h"

namespace xlb::dataplane {

struct PendingCounts {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

class PendingTraffic {
 public:
  PendingTraffic() = default;

  // Reads every CPU's copy of every flow_cache slot (in batches, per_cpu_values.hpp);
  // vip_state and reals decide, as in the program, which pending counts still count.
  PendingTraffic(const BpfMap& flow_cache, const BpfMap& vip_state, const BpfMap& reals) {
    flow_cache.check_types<std::uint32_t, xlb_flow_cache_entry>();
    std::map<std::uint32_t, std::optional<xlb_vip_state>> states;
    std::map<std::uint32_t, std::optional<xlb_real>> real_entries;
    const PerCpuValues<xlb_flow_cache_entry> cache(flow_cache, flow_cache.max_entries());
    for (std::uint32_t slot = 0; slot < cache.size(); ++slot) {
      for (const auto& entry : cache[slot]) {
        if (entry.pending_packets == 0) continue;
        auto state = states.find(entry.vip_id);
        if (state == states.end()) {
          state = states.emplace(entry.vip_id, vip_state.lookup<std::uint32_t, xlb_vip_state>(entry.vip_id)).first;
        }
        auto real = real_entries.find(entry.real_id);
        if (real == real_entries.end()) {
          real = real_entries.emplace(entry.real_id, reals.lookup<std::uint32_t, xlb_real>(entry.real_id)).first;
        }
        const xlb_vip_state* s = state->second ? &*state->second : nullptr;
        const xlb_real* r = real->second ? &*real->second : nullptr;
        if (!xlb_flow_cache_pending_counts(&entry, s, r)) continue;
        add(vips_[entry.vip_id], entry);
        add(reals_[entry.real_id], entry);
        if (entry.pending_counter < counters_.size()) counters_[entry.pending_counter] += entry.pending_packets;
      }
    }
  }

  PendingCounts vip(std::uint32_t vip_id) const { return find(vips_, vip_id); }
  PendingCounts real(std::uint32_t real_id) const { return find(reals_, real_id); }
  std::uint64_t counter(std::uint32_t index) const { return index < counters_.size() ? counters_[index] : 0; }

 private:
  static void add(PendingCounts& to, const xlb_flow_cache_entry& entry) {
    to.packets += entry.pending_packets;
    to.bytes += entry.pending_bytes;
  }
  static PendingCounts find(const std::map<std::uint32_t, PendingCounts>& in, std::uint32_t id) {
    const auto it = in.find(id);
    return it == in.end() ? PendingCounts{} : it->second;
  }

  std::map<std::uint32_t, PendingCounts> vips_;
  std::map<std::uint32_t, PendingCounts> reals_;
  std::array<std::uint64_t, XLB_CTR_MAX> counters_{};
};

// A statistics entry's per-CPU values (vip_stats by VIP id, real_stats by real id) summed,
// plus what the flow cache holds for the same id: the figure readers report.
inline xlb_traffic_stats sum_traffic(std::span<const xlb_traffic_stats> per_cpu, const PendingCounts& pending) {
  xlb_traffic_stats total{};
  total.packets = pending.packets;
  total.bytes = pending.bytes;
  for (const auto& v : per_cpu) {
    total.packets += v.packets;
    total.bytes += v.bytes;
    total.new_flows += v.new_flows;
  }
  return total;
}
// The same for one id read on its own (a reader that wants a few entries, not the table).
inline xlb_traffic_stats sum_traffic(const BpfMap& stats, std::uint32_t id, const PendingCounts& pending) {
  return sum_traffic(stats.lookup_per_cpu<std::uint32_t, xlb_traffic_stats>(id), pending);
}

// A global counter (enum xlb_counter) summed over CPUs, plus the flow cache's part of it.
inline std::uint64_t sum_counter(std::span<const std::uint64_t> per_cpu, std::uint32_t index,
                                 const PendingTraffic& pending) {
  std::uint64_t total = pending.counter(index);
  for (const auto v : per_cpu) total += v;
  return total;
}
inline std::uint64_t sum_counter(const BpfMap& counters, std::uint32_t index, const PendingTraffic& pending) {
  return sum_counter(counters.lookup_per_cpu<std::uint32_t, std::uint64_t>(index), index, pending);
}

}  // namespace xlb::dataplane
