#include "ctrl/sync/freshness.hpp"

namespace xlb::sync {

Freshness::Verdict Freshness::check(std::uint64_t sent_ms, std::uint64_t now_ms) const {
  const std::uint64_t apart = sent_ms > now_ms ? sent_ms - now_ms : now_ms - sent_ms;
  if (apart > max_skew_ms_) return Verdict::stale;
  if (sent_ms < start_ms_) return Verdict::before_start;
  return Verdict::fresh;
}

}  // namespace xlb::sync
