// Decides whether a sealed flow-sync datagram can be a live one, from its sent_ms alone, so
// that a receiver that remembers nothing (it just started: its replay window is empty) still
// refuses what was captured earlier:
//  - before_start: sealed before this receiver started. No datagram sent then was meant for
//    this process, so it is a replay (or one that waited in a queue across the restart). No
//    allowance for clock skew on this side: a sender whose clock lags refuses itself only its
//    first datagrams after the restart, which the sender's refresh cycle sends again anyway;
//    an allowance would reopen the replay window by exactly that much.
//  - stale: further than max_skew from the receiver's clock, either way. This bounds how long
//    a captured datagram stays usable against a receiver that has never heard its sender
//    (sender ids are random per process). It is also what two nodes whose clocks are apart
//    see, so it is counted apart from replays.
// Inside those bounds the per-sender replay window (replay_window.hpp) refuses duplicates.
// Why time, and not a counter persisted across restarts: a receiver cannot tell a new epoch
// from an old one it never saw without either shared time or memory, and the memory (a pin on
// bpffs, or a file in /run) is gone after a reboot or a `stop --detach`, which is when a
// replay installs flows into an empty table. LB nodes in one VRRP pair run NTP in practice;
// the cost of clocks apart is a sync that refuses (and counts, and logs), never one that
// accepts too much.
#pragma once

#include <chrono>
#include <cstdint>

namespace xlb::sync {

class Freshness {
 public:
  enum class Verdict { fresh, before_start, stale };

  Freshness(std::uint64_t start_ms, std::chrono::milliseconds max_skew)
      : start_ms_(start_ms), max_skew_ms_(static_cast<std::uint64_t>(max_skew.count())) {}

  Verdict check(std::uint64_t sent_ms, std::uint64_t now_ms) const;
  std::uint64_t start_ms() const { return start_ms_; }

 private:
  std::uint64_t start_ms_;
  std::uint64_t max_skew_ms_;
};

}  // namespace xlb::sync
