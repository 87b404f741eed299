#include "ctrl/api/descriptor_budget.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <spdlog/spdlog.h>

namespace xlb::api {
namespace {

// RLIM_INFINITY is not a table size; the kernel caps the table at fs.nr_open (2^20 by default).
constexpr rlim_t unlimited_stand_in = rlim_t{1} << 20;

rlim_t soft_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return 1024;
  return r.rlim_cur == RLIM_INFINITY ? unlimited_stand_in : r.rlim_cur;
}

}  // namespace

std::size_t DescriptorBudget::default_reserve(std::size_t limit) { return std::max<std::size_t>(32, limit / 4); }

DescriptorBudget DescriptorBudget::current() {
  const auto limit = static_cast<std::size_t>(soft_limit());
  return {limit, default_reserve(limit)};
}

DescriptorBudget DescriptorBudget::raise_to_hard_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur != r.rlim_max) {
    const rlim_t before = r.rlim_cur;
    r.rlim_cur = r.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &r) != 0) {
      spdlog::warn("cannot raise the descriptor limit from {} to {}: {}", before, r.rlim_max, std::strerror(errno));
    }
  }
  return current();
}

std::size_t DescriptorBudget::open_descriptors() {
  std::error_code ec;
  std::size_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    ++n;
  return n > 0 ? n - 1 : 0;  // less the walk's own descriptor
}

}  // namespace xlb::api
