// Packets and bytes per second of each real over the last minutes, for the status page's
// charts. The counters themselves are the dataplane's (the model `xlbctl dump` serialises);
// a rate needs two readings, and a chart needs a few dozen, which is why the views keep this
// ring. It is bounded twice: `points` per real (the chart's width), and `max_series` reals
// (a real missing from a reading is forgotten at once, so the ring follows the configuration;
// the cap only matters for a configuration larger than the XDP real table's default).
// Every reading has a sequence number, so that a page that has the points up to one asks for
// the newer ones only (`since`), instead of all of them at every poll.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctrl/api/service_rows.hpp"

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
  // 12 bytes: the reading's time is kept once per reading (times_), not once per real.
  struct Point {
    std::uint32_t seq = 0;  // the reading it came from
    float packets_per_second = 0;
    float bytes_per_second = 0;
  };

  RateHistory() : RateHistory(Options{}) {}
  explicit RateHistory(Options options) : options_(options), times_(options.points == 0 ? 1 : options.points) {}

  // One reading of every real's counters, taken at `now`. A counter that went backwards (the
  // dataplane was restarted, a real re-added) starts its series again rather than chart a spike.
  void sample(const std::vector<Reading>& readings,
              std::chrono::system_clock::time_point now = std::chrono::system_clock::now());
  std::optional<Point> latest(const std::string& key) const;
  // Appends the series as JSON, oldest first: [[unix_ms, packets/s, bytes/s], ...], only the
  // points of readings after `since` (0: all).
  void write_series(std::string& out, const std::string& key, std::uint64_t since = 0) const;
  // The last reading's sequence number: 1, 2, ... (0: none yet).
  std::uint64_t sequence() const { return seq_; }
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
  std::vector<std::int64_t> times_;  // unix ms of reading seq, at seq % points
  std::uint64_t seq_ = 0;
  std::uint64_t refused_ = 0;
};

// The series key of a real: "TCP 198.18.0.100:80 198.18.0.11:80", "UDP [2001:db8::1]:53 ...",
// "FWM 7 ...". From plain values: the sampler reads the dataplane's structs, the views the
// services model's rows.
std::string service_label(std::string_view protocol, const std::string& address, std::uint64_t port,
                          std::uint64_t fwmark);
std::string real_series_key(const std::string& service_label, const std::string& address, std::uint64_t port);
// The readings of a services model, for RateHistory::sample.
std::vector<RateHistory::Reading> readings_of(const std::vector<ServiceRow>& services);

}  // namespace xlb::api
