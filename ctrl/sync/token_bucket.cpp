#include "ctrl/sync/token_bucket.hpp"

#include <algorithm>

namespace xlb::sync {

TokenBucket::TokenBucket(double rate_per_second, double capacity, std::uint64_t now_ns)
    : rate_(std::max(rate_per_second, 1e-9)), capacity_(std::max(capacity, 1.0)), tokens_(capacity_), last_ns_(now_ns) {}

void TokenBucket::refill(std::uint64_t now_ns) {
  if (now_ns <= last_ns_) return;  // a clock read before the last one credits nothing
  const double elapsed = static_cast<double>(now_ns - last_ns_) / 1e9;
  tokens_ = std::min(capacity_, tokens_ + elapsed * rate_);
  last_ns_ = now_ns;
}

bool TokenBucket::take(double n) {
  // The epsilon absorbs rounding in elapsed * rate: a slice that waited exactly its share of
  // time must get its whole quota, not one datagram less.
  if (tokens_ + 1e-6 < n) return false;
  tokens_ = std::max(0.0, tokens_ - n);
  return true;
}

}  // namespace xlb::sync
