// Counts the connection table now and then, so that `xlbctl list` and a metrics scrape read a
// recent count instead of walking the whole table each time (Backend::count_flows: a quarter
// to half a second per million XDP flows, nearly all of it the kernel's batch reads, bench/scale).
// The walk repeats every `interval`, or less often when the table is so large that the walk
// would take more than 5% of one CPU.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <utility>

#include "ctrl/dataplane/backend.hpp"
#include "xlb/asio.hpp"

namespace xlb::daemon {

struct FlowCensusSample {
  std::chrono::steady_clock::time_point taken{};  // epoch: no count yet
  std::uint64_t flows = 0;                        // entries in the connection table
  // Flows per (service, real address) that carried a packet within the census' active window.
  std::map<std::pair<dataplane::ServiceKey, dataplane::IpAddress>, std::uint64_t> active;
  // Of those, the established connections (FlowCounts::established).
  std::map<std::pair<dataplane::ServiceKey, dataplane::IpAddress>, std::uint64_t> established;
  std::chrono::duration<double> walk{0};  // how long the count took
};

class FlowCensus {
 public:
  // Counts the table with the census' active window (Backend::count_flows).
  using Source = std::function<dataplane::FlowCounts(std::chrono::nanoseconds active_window)>;
  struct Options {
    std::chrono::milliseconds interval{5000};
    std::chrono::nanoseconds active_window = std::chrono::seconds(60);
    double max_cpu_share = 0.05;  // the walk's time as a share of the wait between walks
    std::function<void(const FlowCensusSample&)> on_sample = {};  // after every count
  };

  FlowCensus(boost::asio::io_context& io, Source source, Options options);
  FlowCensus(const FlowCensus&) = delete;
  FlowCensus& operator=(const FlowCensus&) = delete;

  void start();
  void stop();
  // The last count; the first call before any count takes one at once.
  const FlowCensusSample& latest();
  // The last count, taken again now if it is older than `max_age` and the last walk was cheap
  // (under 50 ms: a table of some 100,000 flows), so that a listing right after a burst shows the burst.
  const FlowCensusSample& fresh(std::chrono::milliseconds max_age);
  // The wait before the next walk, given how long the last one took.
  static std::chrono::milliseconds next_wait(const Options& options, std::chrono::duration<double> walk);

 private:
  void take();
  boost::asio::awaitable<void> loop();

  boost::asio::steady_timer timer_;
  Source source_;
  Options options_;
  FlowCensusSample latest_;
  bool running_ = false;
};

}  // namespace xlb::daemon
