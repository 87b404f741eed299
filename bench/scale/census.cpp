#include "bench/scale/census.hpp"

#include <algorithm>
#include <fstream>
#include <stdexcept>
#include <string>

namespace xlb::bench::scale {

namespace dp = xlb::dataplane;

namespace {

// A line of /proc/self/status in KiB ("VmRSS:   1234 kB").
std::uint64_t status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1));
  }
  throw std::runtime_error("/proc/self/status has no " + field);
}

// The peak RSS (VmHWM) starts again from the current RSS (clear_refs 5, Linux 4.0).
void reset_peak_rss() {
  std::ofstream("/proc/self/clear_refs") << "5";
}

struct Walk {
  std::vector<double> ms;
  std::uint64_t rss_growth_kib = 0;  // largest over the rounds
  dp::FlowCounts counts;
};

template <class Fn>
Walk measure(int rounds, Fn&& count) {
  Walk w;
  for (int i = 0; i < rounds; ++i) {
    reset_peak_rss();
    const auto rss = status_kib("VmRSS");
    const auto t0 = std::chrono::steady_clock::now();
    w.counts = count();
    w.ms.push_back(ms_since(t0));
    const auto peak = status_kib("VmHWM");
    w.rss_growth_kib = std::max(w.rss_growth_kib, peak > rss ? peak - rss : 0);
  }
  return w;
}

Json to_json(const Walk& w) {
  auto sorted = w.ms;
  std::sort(sorted.begin(), sorted.end());
  return {{"walk_ms", w.ms}, {"walk_median_ms", sorted[sorted.size() / 2]}, {"peak_rss_growth_kib", w.rss_growth_kib}};
}

}  // namespace

Json measure_census(dp::XdpBackend& backend, int rounds) {
  rounds = std::max(rounds, 1);
  const auto window = std::chrono::seconds(60);  // FlowCensus' default active window
  // The new walk first: the old one's freed vectors must not be what the new one reuses.
  const auto by_ids = measure(rounds, [&] { return backend.count_flows(window); });
  const auto by_objects = measure(rounds, [&] { return dp::count_flows(backend.flows(), window); });
  // The floor: the kernel's batch reads alone, with nothing done per entry.
  const auto bare = measure(rounds, [&] {
    dp::FlowCounts c;
    backend.program().flows().for_each_entry<xlb_flow_key, xlb_flow>([&](const auto&, const auto&) { ++c.flows; });
    return c;
  });
  if (by_ids.counts.flows != by_objects.counts.flows || by_ids.counts.active != by_objects.counts.active) {
    throw std::runtime_error("census: count_flows and the count over flows() disagree (" +
                             std::to_string(by_ids.counts.flows) + " vs " + std::to_string(by_objects.counts.flows) +
                             " flows)");
  }
  std::uint64_t active = 0;
  for (const auto& [pair, n] : by_ids.counts.active) active += n;
  return {{"flows", by_ids.counts.flows},
          {"active", active},
          {"active_pairs", by_ids.counts.active.size()},
          {"count_flows", to_json(by_ids)},
          {"via_flows_objects", to_json(by_objects)},
          {"bare_batch_walk", to_json(bare)}};
}

}  // namespace xlb::bench::scale
