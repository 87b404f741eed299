#include "bench/scale/memory_floor.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>

namespace xlb::bench::scale {

namespace {

constexpr std::uint64_t kLine = 64;
constexpr std::uint64_t kHugePage = 2u << 20;

// An anonymous mapping, advised to use small or huge pages before it is first touched.
class Region {
 public:
  Region(std::uint64_t bytes, bool huge) {
    // Huge pages need a 2 MiB aligned start: map one huge page more and start inside it.
    const std::uint64_t mapped = bytes + (huge ? kHugePage : 0);
    void* p = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap the chase region");
    base_ = p;
    mapped_ = mapped;
    auto start = reinterpret_cast<std::uintptr_t>(p);
    if (huge) start = (start + kHugePage - 1) & ~(kHugePage - 1);
    data_ = reinterpret_cast<std::uint8_t*>(start);
    ::madvise(data_, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  }
  ~Region() { ::munmap(base_, mapped_); }
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

  std::uint8_t* data() const { return data_; }

  // Whether the region's start is backed by huge pages, from the kernel's smaps (the mapping
  // that holds it, which madvise may have split from or merged with its neighbours).
  bool has_huge_pages() const {
    std::ifstream smaps("/proc/self/smaps");
    const auto at = reinterpret_cast<std::uintptr_t>(data_);
    bool inside = false;
    for (std::string line; std::getline(smaps, line);) {
      unsigned long lo = 0, hi = 0;
      char dash = 0;
      if (std::sscanf(line.c_str(), "%lx%c%lx", &lo, &dash, &hi) == 3 && dash == '-') {
        inside = lo <= at && at < hi;
      } else if (inside && line.rfind("AnonHugePages:", 0) == 0) {
        return std::stoull(line.substr(line.find_first_of("0123456789"))) > 0;
      }
    }
    return false;
  }

 private:
  void* base_ = nullptr;
  std::uint64_t mapped_ = 0;
  std::uint8_t* data_ = nullptr;
};

double chase_ns(const Region& region, std::uint64_t loads) {
  const std::uint8_t* data = region.data();
  std::uint64_t at = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < loads; ++i) at = *reinterpret_cast<const std::uint64_t*>(data + at);
  const auto t1 = std::chrono::steady_clock::now();
  // The last offset feeds a volatile store so that the loop is not dropped.
  volatile std::uint64_t sink = at;
  (void)sink;
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(loads);
}

}  // namespace

std::vector<std::uint32_t> single_cycle_order(std::uint32_t lines, std::uint64_t seed) {
  std::vector<std::uint32_t> next(lines);
  for (std::uint32_t i = 0; i < lines; ++i) next[i] = i;
  std::mt19937_64 rng(seed);
  // Sattolo: swapping only with an earlier element leaves a single cycle.
  for (std::uint32_t i = lines; i > 1; --i) {
    std::uniform_int_distribution<std::uint32_t> earlier(0, i - 2);
    std::swap(next[i - 1], next[earlier(rng)]);
  }
  return next;
}

MemoryFloor measure_memory_floor(std::uint64_t bytes, std::uint64_t loads, int rounds) {
  if (bytes < kLine * 2 || bytes / kLine > UINT32_MAX) throw std::invalid_argument("chase region size out of range");
  MemoryFloor result;
  result.bytes = bytes;
  const auto lines = static_cast<std::uint32_t>(bytes / kLine);
  const auto next = single_cycle_order(lines, 42);
  for (const bool huge : {false, true}) {
    Region region(bytes, huge);
    for (std::uint32_t i = 0; i < lines; ++i) {
      *reinterpret_cast<std::uint64_t*>(region.data() + std::uint64_t{i} * kLine) = std::uint64_t{next[i]} * kLine;
    }
    double best = 0;
    for (int r = 0; r < rounds; ++r) {
      const double ns = chase_ns(region, loads);
      best = r == 0 ? ns : std::min(best, ns);
    }
    if (huge) {
      result.huge_pages_granted = region.has_huge_pages();
      result.ns_huge_pages = best;
    } else {
      result.ns_small_pages = best;
    }
  }
  return result;
}

}  // namespace xlb::bench::scale
