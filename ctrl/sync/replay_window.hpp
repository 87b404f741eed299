// Refuses replayed and stale flow-sync datagrams: per sender, the newest epoch and a 64-wide
// sliding window of sequence numbers (as IPsec does). Reordering inside the window is fine;
// a datagram from an older epoch (a previous run of that sender) is refused.
#pragma once

#include <cstdint>
#include <map>

namespace xlb::sync {

class ReplayWindow {
 public:
  static constexpr std::uint64_t width = 64;
  // Call only for datagrams whose MAC checked out; true: new, and now recorded.
  bool accept(std::uint32_t sender, std::uint64_t epoch, std::uint64_t sequence);

 private:
  struct State {
    std::uint64_t epoch = 0;
    std::uint64_t highest = 0;
    std::uint64_t seen = 0;  // bit i: highest - i was accepted
  };
  std::map<std::uint32_t, State> senders_;
};

}  // namespace xlb::sync
