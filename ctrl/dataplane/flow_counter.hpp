// Counts a connection table by ids, so that the flow census costs a hash increment per entry
// instead of a Flow object (addresses, service key, ages) per entry: at 1M flows the objects
// were most of the walk's time and a transient vector of a million of them. Ids become names
// once per (service, real) pair, at the end.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>

#include "ctrl/dataplane/backend.hpp"
#include "xlb/xlb_abi.h"

namespace xlb::dataplane {

class FlowCounter {
 public:
  // `now_ns` and the entries' last_seen are on the same clock (CLOCK_MONOTONIC ns).
  FlowCounter(std::uint64_t now_ns, std::chrono::nanoseconds active_window);

  // One connection-table entry. Inline: it runs once per flow of the table. `client_state`
  // (XLB_FLOW_S_*) tells an established connection (ipvsadm's ActiveConn) from one in its
  // handshake, closed, UDP or written by xlbd (InActConn).
  void add(std::uint32_t vip_id, std::uint32_t real_id, std::uint64_t last_seen, std::uint32_t client_state = 0) {
    ++total_;
    // A last_seen after `now` (a packet during the walk) is idle 0, as Flow::idle has it.
    const std::uint64_t idle = now_ns_ > last_seen ? now_ns_ - last_seen : 0;
    if (idle >= window_ns_) return;
    const std::uint64_t pair = (std::uint64_t{vip_id} << 32) | real_id;
    // Neighbouring entries often share a pair; a one-entry cache spares most hash lookups.
    if (pair != last_pair_ || last_count_ == nullptr) {
      last_pair_ = pair;
      last_count_ = &active_[pair];
    }
    ++last_count_->recent;
    if ((client_state & (XLB_FLOW_S_OPEN | XLB_FLOW_S_ENDED)) == XLB_FLOW_S_OPEN) ++last_count_->established;
  }

  std::uint64_t total() const { return total_; }
  // Distinct (vip id, real id) pairs with at least one active entry.
  std::size_t active_pairs() const { return active_.size(); }

  using ServiceOf = std::function<std::optional<ServiceKey>(std::uint32_t vip_id)>;
  using AddressOf = std::function<std::optional<IpAddress>(std::uint32_t real_id)>;
  // The counts by name. A pair whose VIP id or real id names nothing (a service being removed,
  // ids adopted from an earlier run and not taken over yet) counts in `flows` but not in
  // `active`: no configured (service, real) can be it. Pairs that resolve to the same names
  // are added up.
  FlowCounts counts(const ServiceOf& service_of, const AddressOf& address_of) const;

 private:
  std::uint64_t now_ns_;
  std::uint64_t window_ns_;
  std::uint64_t total_ = 0;
  struct PairCount {
    std::uint64_t recent = 0;       // a packet within the window
    std::uint64_t established = 0;  // of those, open and not ended by the client
  };
  std::unordered_map<std::uint64_t, PairCount> active_;  // (vip id << 32 | real id) -> flows
  std::uint64_t last_pair_ = 0;
  PairCount* last_count_ = nullptr;  // node-based map: stays valid across inserts
};

}  // namespace xlb::dataplane
