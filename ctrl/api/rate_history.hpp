// Packets and bytes per second of each real over the last minutes, for the status page's
// charts. The counters themselves are the dataplane's (the model `xlbctl dump` serialises);
// a rate needs two readings, and a chart needs a few dozen, which is why the views keep this
// ring. It is bounded twice: `points` per real (the chart's width), and `max_series` reals
// (a real missing from a reading is forgotten at once, so the ring follows the configuration;
// the cap only matters for a configuration larger than the XDP real table's default).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xlb::api {

class RateHistory {
 public:
  struct Options {
    std::chrono::milliseconds interval{2000};  // between readings (the sampler's period)
    std::size_t points = 90;                   // per real: 3 minutes at the default interval
    std::size_t max_series = 4096;             // reals tracked at most (xdp_max_reals' default)
  };
  struct Reading {
    std::string key;  // real_series_key()
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
  };
  struct Point {
    std::int64_t unix_ms = 0;
    float packets_per_second = 0;
    float bytes_per_second = 0;
  };

  RateHistory() : RateHistory(Options{}) {}
  explicit RateHistory(Options options) : options_(options) {}

  // One reading of every real's counters, taken at `now`. A counter that went backwards (the
  // dataplane was restarted, a real re-added) starts its series again rather than chart a spike.
  void sample(const std::vector<Reading>& readings,
              std::chrono::system_clock::time_point now = std::chrono::system_clock::now());
  std::optional<Point> latest(const std::string& key) const;
  // Oldest first: [[unix_ms, packets/s, bytes/s], ...].
  nlohmann::json series(const std::string& key) const;
  std::size_t size() const { return series_.size(); }
  std::uint64_t refused_series() const { return refused_; }
  const Options& options() const { return options_; }

 private:
  struct Series {
    std::int64_t last_ms = 0;
    std::uint64_t last_packets = 0;
    std::uint64_t last_bytes = 0;
    std::vector<Point> ring;  // capacity options_.points
    std::size_t next = 0;     // where the next point goes once the ring is full
  };
  Options options_;
  std::map<std::string, Series> series_;
  std::uint64_t refused_ = 0;
};

// The series key of a real in the services model (one element of `xlbctl list --json`):
// "TCP 198.18.0.100:80 198.18.0.11:80", "UDP [2001:db8::1]:53 ...", "FWM 7 ...".
std::string service_label(const nlohmann::json& service);
std::string real_series_key(const nlohmann::json& service, const nlohmann::json& real);
// The readings of a services model, for RateHistory::sample.
std::vector<RateHistory::Reading> readings_of(const nlohmann::json& services);

}  // namespace xlb::api
