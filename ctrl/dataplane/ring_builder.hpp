// Scheduler tables for the XDP program: every scheduler is a ring of real ids that the
// program indexes (rr/wrr with a per-CPU cursor, sh/mh with a hash). Pure functions, so the
// same input gives the same table on every LB node and in every test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xlb::dataplane {

struct RingMember {
  std::uint32_t real_id = 0;
  std::uint32_t weight = 0;  // 0: not in the ring
  std::string identity;      // "addr:port"; hashed by Maglev, so it must not depend on ids
};

// Each member with weight > 0 once, in the given order.
std::vector<std::uint32_t> build_rr_ring(std::span<const RingMember> members);

// Smoothly interleaved weighted round robin (nginx's smooth WRR: weights 2:1 give A B A,
// 5:1:1 give A A B A C A A). The length is sum(weight)/gcd(weights); when that exceeds max_len
// the weights are scaled down proportionally (every member keeps at least one entry). The
// sequence is fixed across versions (LB nodes must agree). Cost for n members, k distinct
// weights and T entries: O(n log n), then per entry a tournament update over k lines (about
// log2(k) node recomputations, measured). Throws std::invalid_argument when more members have
// weight > 0 than max_len, or when the ring would exceed 2^31 entries.
std::vector<std::uint32_t> build_wrr_ring(std::span<const RingMember> members, std::size_t max_len);

// Weighted Maglev lookup table of exactly `size` entries (size must be prime), or an empty
// table when no member has weight > 0. Depends only on identities and weights, not on the
// order of `members` or their ids' values.
std::vector<std::uint32_t> build_maglev_ring(std::span<const RingMember> members, std::size_t size);

// The fixed 64-bit hash behind Maglev's permutations (stable across processes and builds).
std::uint64_t ring_hash(std::string_view text, std::uint64_t seed);

bool is_prime(std::size_t n);

}  // namespace xlb::dataplane
