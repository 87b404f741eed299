// Traffic the program has counted in its per-CPU flow cache but not yet moved into vip_stats,
// real_stats and counters (xlb_abi.h, "flow_cache"): what every reader of those maps adds for
// exact figures. Header-only, so that xlbctl, which reads pins without the dataplane library,
// applies the same rule as xlbd.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>

#include "ctrl/dataplane/bpf_map.hpp"
#include "xlb/xlb_abi.h"

namespace xlb::dataplane {

struct PendingCounts {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

class PendingTraffic {
 public:
  PendingTraffic() = default;

  // Reads every CPU's copy of every flow_cache slot (a syscall per slot: 1,024 of them);
  // vip_state and reals decide, as in the program, which pending counts still count.
  PendingTraffic(const BpfMap& flow_cache, const BpfMap& vip_state, const BpfMap& reals) {
    flow_cache.check_types<std::uint32_t, xlb_flow_cache_entry>();
    std::map<std::uint32_t, std::optional<xlb_vip_state>> states;
    std::map<std::uint32_t, std::optional<xlb_real>> real_entries;
    for (std::uint32_t slot = 0; slot < flow_cache.max_entries(); ++slot) {
      for (const auto& entry : flow_cache.lookup_per_cpu<std::uint32_t, xlb_flow_cache_entry>(slot)) {
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

// A per-CPU statistics map's values for id (vip_stats by VIP id, real_stats by real id),
// summed over CPUs, plus what the flow cache holds for the same id: the figure readers report.
inline xlb_traffic_stats sum_traffic(const BpfMap& stats, std::uint32_t id, const PendingCounts& pending) {
  xlb_traffic_stats total{};
  total.packets = pending.packets;
  total.bytes = pending.bytes;
  for (const auto& v : stats.lookup_per_cpu<std::uint32_t, xlb_traffic_stats>(id)) {
    total.packets += v.packets;
    total.bytes += v.bytes;
    total.new_flows += v.new_flows;
  }
  return total;
}

// A global counter (enum xlb_counter) summed over CPUs, plus the flow cache's part of it.
inline std::uint64_t sum_counter(const BpfMap& counters, std::uint32_t index, const PendingTraffic& pending) {
  std::uint64_t total = pending.counter(index);
  for (const auto v : counters.lookup_per_cpu<std::uint32_t, std::uint64_t>(index)) total += v;
  return total;
}

}  // namespace xlb::dataplane
