#include "ctrl/sync/replay_window.hpp"

namespace xlb::sync {

bool ReplayWindow::accept(std::uint32_t sender, std::uint64_t epoch, std::uint64_t sequence) {
  auto [it, fresh] = senders_.try_emplace(sender);
  State& s = it->second;
  if (fresh || epoch > s.epoch) {
    s = State{epoch, sequence, 1};
    return true;
  }
  if (epoch < s.epoch) return false;
  if (sequence > s.highest) {
    const std::uint64_t shift = sequence - s.highest;
    s.seen = shift >= width ? 1 : (s.seen << shift) | 1;
    s.highest = sequence;
    return true;
  }
  const std::uint64_t back = s.highest - sequence;
  if (back >= width) return false;
  const std::uint64_t bit = std::uint64_t{1} << back;
  if (s.seen & bit) return false;
  s.seen |= bit;
  return true;
}

}  // namespace xlb::sync
