#include "ctrl/dataplane/ring_builder.hpp"

#include <algorithm>
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
  // The floor of 1 can push the sum back over; take the excess from the largest weights.
  std::uint64_t now = total_weight(ws);
  while (now > max_len) {
    auto it = std::max_element(ws.begin(), ws.end(),
                               [](const Weighted& a, const Weighted& b) { return a.weight < b.weight; });
    --it->weight;
    --now;
  }
}

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

  // Smooth weighted round robin: every step each member earns its weight, the richest is
  // chosen and pays the total. Over sum(w) steps each member is chosen exactly w times and
  // the choices are spread out instead of clumped.
  const auto total = static_cast<std::int64_t>(total_weight(ws));
  std::vector<std::int64_t> current(ws.size(), 0);
  std::vector<std::uint32_t> ring;
  ring.reserve(static_cast<std::size_t>(total));
  for (std::int64_t step = 0; step < total; ++step) {
    std::size_t best = 0;
    for (std::size_t i = 0; i < ws.size(); ++i) {
      current[i] += static_cast<std::int64_t>(ws[i].weight);
      if (current[i] > current[best]) best = i;
    }
    current[best] -= total;
    ring.push_back(ws[best].real_id);
  }
  return ring;
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
