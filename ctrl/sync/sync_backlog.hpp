// What a master still has to send when the send budget is short: entries of new flows (and
// recently used persistence templates) ahead of refreshes and of a new master's full table,
// so that a takeover burst or a big table never delays the flows a failover would lose first.
// Bounded: past `capacity` entries a new-flow entry evicts the newest refresh, and whatever
// cannot be queued is dropped and counted by the caller (its next refresh repairs it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "ctrl/sync/sync_codec.hpp"

namespace xlb::sync {

class SyncBacklog {
 public:
  explicit SyncBacklog(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  enum class Lane { fresh, refresh };
  // `scan` names the scan that queued the entry (see pop). Returns how many entries were
  // dropped to make room or because there was none: 0 or 1.
  std::size_t push(const SyncEntry& entry, Lane lane, std::uint64_t scan);
  // Moves up to n entries into out, fresh lane first. Returns how many of them were queued by
  // a scan other than `current_scan` (entries that waited for a later slice).
  std::size_t pop(std::size_t n, std::vector<SyncEntry>& out, std::uint64_t current_scan);
  // Empties both lanes; returns how many entries were discarded.
  std::size_t clear();

  std::size_t size() const { return fresh_.size() + refresh_.size(); }
  std::size_t fresh_size() const { return fresh_.size(); }
  std::size_t refresh_size() const { return refresh_.size(); }
  bool empty() const { return fresh_.empty() && refresh_.empty(); }

 private:
  struct Item {
    SyncEntry entry;
    std::uint64_t scan;
  };
  std::deque<Item> fresh_;
  std::deque<Item> refresh_;
  std::size_t capacity_;
};

}  // namespace xlb::sync
