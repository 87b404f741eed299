#include "ctrl/dataplane/ring_builder.hpp"

#include <algorithm>
#include <bit>
#include <functional>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace xlb::dataplane {

namespace {

// Seeds for Maglev's offset and skip hashes; changing them reshuffles every table, so two LB
// nodes running different versions would disagree: keep them fixed.
constexpr std::uint64_t kOffsetSeed = 0x6a09e667f3bcc908ULL;
constexpr std::uint64_t kSkipSeed = 0xbb67ae8584caa73bULL;

std::uint64_t mix64(std::uint64_t x) {
  // splitmix64 finaliser: FNV alone leaves the low bits poorly mixed for short strings.
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

struct Weighted {
  std::uint32_t real_id;
  std::uint64_t weight;
};

std::vector<Weighted> usable(std::span<const RingMember> members) {
  std::vector<Weighted> out;
  for (const auto& m : members) {
    if (m.weight > 0) out.push_back({m.real_id, m.weight});
  }
  return out;
}

void reduce_by_gcd(std::vector<Weighted>& ws) {
  std::uint64_t g = 0;
  for (const auto& w : ws) g = std::gcd(g, w.weight);
  if (g > 1) {
    for (auto& w : ws) w.weight /= g;
  }
}

std::uint64_t total_weight(const std::vector<Weighted>& ws) {
  std::uint64_t sum = 0;
  for (const auto& w : ws) sum += w.weight;
  return sum;
}

// Shrinks weights so that they sum to at most max_len, keeping every member at >= 1.
void scale_to(std::vector<Weighted>& ws, std::size_t max_len) {
  const std::uint64_t sum = total_weight(ws);
  if (sum <= max_len) return;
  for (auto& w : ws) {
    // 128-bit product: weights are 32-bit but max_len is size_t.
    const auto scaled = static_cast<std::uint64_t>(static_cast<unsigned __int128>(w.weight) * max_len / sum);
    w.weight = std::max<std::uint64_t>(1, scaled);
  }
  // The floor of 1 can push the sum back over (by up to one per member); the excess is taken
  // from the largest weights. Rings have always taken it one unit at a time from the first of
  // the largest, and a different rule would reshuffle rings on upgrade, so the same result is
  // computed in one pass: that rule cuts every weight above some level h down to h, and the
  // rest of the excess (less than the number of weights now at h) lowers the first of those,
  // in member order, to h - 1.
  const std::uint64_t now = total_weight(ws);
  if (now <= max_len) return;
  const std::uint64_t excess = now - max_len;
  std::vector<std::uint64_t> desc;
  desc.reserve(ws.size() + 1);
  for (const auto& w : ws) desc.push_back(w.weight);
  std::sort(desc.begin(), desc.end(), std::greater<>());
  desc.push_back(0);
  // cut(h) = sum(max(0, w - h)) falls as h rises; find the lowest h with cut(h) <= excess. With
  // the top j weights above the level, cut(h) = top - j * h on (desc[j], desc[j - 1]].
  std::uint64_t top = 0;
  std::uint64_t level = 0;
  std::uint64_t left = 0;
  for (std::size_t j = 1; j < desc.size(); ++j) {
    top += desc[j - 1];
    if (top - j * desc[j] <= excess) continue;  // even cutting down to desc[j] is not enough
    level = std::max(desc[j] + 1, (top - excess + j - 1) / j);
    left = excess - (top - j * level);
    break;
  }
  for (auto& w : ws) {
    if (w.weight < level) continue;
    w.weight = level;
    if (left > 0) {
      --w.weight;
      --left;
    }
  }
}

// Smooth weighted round robin (nginx): every step each member earns its weight, the richest
// is chosen (ties: the first member) and pays the total T. Over T steps each member is chosen
// exactly its weight times, spread out instead of clumped. Rings must not change across
// versions (every LB node must build the same one), so this computes exactly that sequence,
// without scanning every member on every step:
// - after t steps a member chosen s times holds t * w - s * T: a line in t whose intercept
//   rises by T when it is chosen;
// - members of equal weight differ only by s, so within such a group they take turns in
//   member order, and only the group's member on turn competes: one line per distinct weight
//   (at most sqrt(2T) of them);
// - a tournament tree over those lines keeps, per node, the winner and the first step at
//   which the loser's steeper line overtakes it, so a node is only recomputed when that step
//   comes or a line below it changed (a kinetic tournament).
constexpr std::uint64_t kMaxWrrRing = std::uint64_t{1} << 31;

class SmoothWrr {
  using Int = std::int64_t;  // holds t * w and s * T, both up to T^2 <= 2^62

 public:
  explicit SmoothWrr(const std::vector<Weighted>& ws) : ws_(ws), total_(static_cast<Int>(total_weight(ws))) {
    std::vector<std::uint32_t> order(ws.size());
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return ws[a].weight < ws[b].weight; });
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (i == 0 || ws[order[i]].weight != ws[order[i - 1]].weight) {
        const std::size_t begin = members_.size();
        groups_.push_back({static_cast<Int>(ws[order[i]].weight), 0, begin, begin, begin, order[i]});
      }
      members_.push_back(order[i]);
    }
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      groups_[g].end = g + 1 < groups_.size() ? groups_[g + 1].begin : members_.size();
    }
    leaves_ = std::bit_ceil(groups_.size());
    nodes_.resize(2 * leaves_);
  }

  std::vector<std::uint32_t> ring() {
    const auto steps = static_cast<std::size_t>(total_);
    std::vector<std::uint32_t> out;
    out.reserve(steps);
    for (std::size_t t = 1; t <= steps; ++t) {
      refresh(1, static_cast<Int>(t));
      const std::size_t chosen = nodes_[1].winner;
      Group& g = groups_[chosen];
      out.push_back(ws_[g.member].real_id);
      // Next in turn; after the last member every member has been chosen once more.
      if (++g.cursor == g.end) {
        g.cursor = g.begin;
        g.intercept += total_;
      }
      g.member = members_[g.cursor];
      for (std::size_t n = leaves_ + chosen; n > 0; n /= 2) nodes_[n].expires = 0;
    }
    return out;
  }

 private:
  static constexpr std::size_t kNone = ~std::size_t{0};
  static constexpr Int kNever = std::numeric_limits<Int>::max();

  struct Group {
    Int weight;
    Int intercept;         // s * T of the member on turn: its line is weight * t - intercept
    std::size_t begin;     // its members, in member order, are members_[begin, end)
    std::size_t end;
    std::size_t cursor;    // the one on turn
    std::uint32_t member;  // = members_[cursor]
  };
  struct Node {
    std::size_t winner = kNone;  // group
    Int expires = 0;             // first step at which `winner` may be wrong; 0: recompute
  };

  static bool beats(const Group& a, const Group& b, Int t) {
    const Int va = a.weight * t - a.intercept;
    const Int vb = b.weight * t - b.intercept;
    return va > vb || (va == vb && a.member < b.member);
  }
  // First step at which `loser` beats `winner` (which beats it now, at some t >= 1).
  static Int overtaken(const Group& winner, const Group& loser) {
    const Int slope = loser.weight - winner.weight;
    if (slope <= 0) return kNever;
    const Int gap = loser.intercept - winner.intercept;  // >= slope * t > 0 since winner leads
    return loser.member < winner.member ? (gap + slope - 1) / slope : gap / slope + 1;
  }

  void refresh(std::size_t n, Int t) {
    Node& node = nodes_[n];
    if (node.expires > t) return;
    if (n >= leaves_) {
      node.winner = n - leaves_ < groups_.size() ? n - leaves_ : kNone;
      node.expires = kNever;
      return;
    }
    refresh(2 * n, t);
    refresh(2 * n + 1, t);
    const Node& l = nodes_[2 * n];
    const Node& r = nodes_[2 * n + 1];
    node.expires = std::min(l.expires, r.expires);
    if (l.winner == kNone || r.winner == kNone) {
      node.winner = l.winner == kNone ? r.winner : l.winner;
      return;
    }
    const Group& a = groups_[l.winner];
    const Group& b = groups_[r.winner];
    const bool left_wins = beats(a, b, t);
    node.winner = left_wins ? l.winner : r.winner;
    node.expires = std::min(node.expires, left_wins ? overtaken(a, b) : overtaken(b, a));
  }

  const std::vector<Weighted>& ws_;
  Int total_;
  std::vector<std::uint32_t> members_;  // indices into ws_, grouped by weight
  std::vector<Group> groups_;
  std::size_t leaves_ = 1;
  std::vector<Node> nodes_;  // implicit binary tree: 1 is the root, leaves_ + g is group g
};

}  // namespace

std::uint64_t ring_hash(std::string_view text, std::uint64_t seed) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ mix64(seed);
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

bool is_prime(std::size_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  for (std::size_t d = 3; d * d <= n; d += 2) {
    if (n % d == 0) return false;
  }
  return true;
}

std::vector<std::uint32_t> build_rr_ring(std::span<const RingMember> members) {
  std::vector<std::uint32_t> ring;
  for (const auto& m : members) {
    if (m.weight > 0) ring.push_back(m.real_id);
  }
  return ring;
}

std::vector<std::uint32_t> build_wrr_ring(std::span<const RingMember> members, std::size_t max_len) {
  auto ws = usable(members);
  if (ws.empty()) return {};
  if (ws.size() > max_len) {
    throw std::invalid_argument("wrr: " + std::to_string(ws.size()) + " reals with weight > 0 do not fit a ring of " +
                                std::to_string(max_len));
  }
  reduce_by_gcd(ws);
  scale_to(ws, max_len);
  reduce_by_gcd(ws);

  // The tournament's products t * w and s * T reach T^2; no ring map holds 2^31 entries.
  if (total_weight(ws) > kMaxWrrRing) {
    throw std::invalid_argument("wrr: a ring of " + std::to_string(total_weight(ws)) + " entries exceeds " +
                                std::to_string(kMaxWrrRing));
  }
  return SmoothWrr(ws).ring();
}

std::vector<std::uint32_t> build_maglev_ring(std::span<const RingMember> members, std::size_t size) {
  if (!is_prime(size)) {
    throw std::invalid_argument("maglev: table size " + std::to_string(size) + " is not prime");
  }
  struct Slot {
    std::uint32_t real_id;
    std::uint64_t weight;
    std::uint64_t offset;
    std::uint64_t skip;
    std::uint64_t next = 0;    // how far along its permutation the member is
    std::uint64_t credit = 0;  // weight earned but not yet spent on entries
    const std::string* identity;
  };
  std::vector<Slot> slots;
  for (const auto& m : members) {
    if (m.weight == 0) continue;
    const std::uint64_t offset = ring_hash(m.identity, kOffsetSeed) % size;
    const std::uint64_t skip = size == 1 ? 1 : ring_hash(m.identity, kSkipSeed) % (size - 1) + 1;
    slots.push_back({m.real_id, m.weight, offset, skip, 0, 0, &m.identity});
  }
  if (slots.empty()) return {};
  // Turn order decides who wins contested entries; sort by identity so that it does not
  // depend on the order the configuration listed the reals in.
  std::sort(slots.begin(), slots.end(), [](const Slot& a, const Slot& b) {
    if (*a.identity != *b.identity) return *a.identity < *b.identity;
    return a.weight < b.weight;
  });
  const std::uint64_t max_weight =
      std::max_element(slots.begin(), slots.end(), [](const Slot& a, const Slot& b) { return a.weight < b.weight; })
          ->weight;

  constexpr std::uint32_t kEmpty = 0;
  std::vector<std::uint32_t> table(size, kEmpty);
  std::vector<bool> taken(size, false);
  std::size_t filled = 0;
  while (filled < size) {
    for (auto& s : slots) {
      // Each round a member earns weight/max_weight entries; heavier members claim more
      // often, so the table shares follow the weights.
      s.credit += s.weight;
      while (s.credit >= max_weight && filled < size) {
        s.credit -= max_weight;
        std::uint64_t pos;
        do {
          pos = (s.offset + s.next * s.skip) % size;
          ++s.next;
        } while (taken[pos]);
        taken[pos] = true;
        table[pos] = s.real_id;
        ++filled;
      }
      if (filled == size) break;
    }
  }
  return table;
}

}  // namespace xlb::dataplane
