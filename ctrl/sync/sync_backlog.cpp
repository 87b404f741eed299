#include "ctrl/sync/sync_backlog.hpp"

namespace xlb::sync {

std::size_t SyncBacklog::push(const SyncEntry& entry, Lane lane, std::uint64_t scan) {
  std::size_t dropped = 0;
  if (size() >= capacity_) {
    if (lane == Lane::refresh || refresh_.empty()) return 1;
    refresh_.pop_back();
    dropped = 1;
  }
  (lane == Lane::fresh ? fresh_ : refresh_).push_back(Item{entry, scan});
  return dropped;
}

std::size_t SyncBacklog::pop(std::size_t n, std::vector<SyncEntry>& out, std::uint64_t current_scan) {
  std::size_t waited = 0;
  for (auto* lane : {&fresh_, &refresh_}) {
    while (n > 0 && !lane->empty()) {
      const Item& item = lane->front();
      if (item.scan != current_scan) ++waited;
      out.push_back(item.entry);
      lane->pop_front();
      --n;
    }
  }
  return waited;
}

std::size_t SyncBacklog::clear() {
  const std::size_t n = size();
  fresh_.clear();
  refresh_.clear();
  return n;
}

}  // namespace xlb::sync
