#include "ctrl/api/rate_history.hpp"

namespace xlb::api {

namespace {

std::string endpoint(const std::string& address, std::uint64_t port) {
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

}  // namespace

void RateHistory::sample(const std::vector<Reading>& readings, std::chrono::system_clock::time_point now) {
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::map<std::string, Series> next;
  for (const auto& r : readings) {
    if (next.size() >= options_.max_series) {
      ++refused_;
      continue;
    }
    auto old = series_.find(r.key);
    if (old == series_.end()) {
      next[r.key] = Series{now_ms, r.packets, r.bytes, {}, 0};
      continue;
    }
    Series s = std::move(old->second);
    series_.erase(old);
    const bool reset = r.packets < s.last_packets || r.bytes < s.last_bytes;
    const std::int64_t dt_ms = now_ms - s.last_ms;
    if (reset) {
      s = Series{now_ms, r.packets, r.bytes, {}, 0};
    } else if (dt_ms > 0) {
      const double seconds = static_cast<double>(dt_ms) / 1000.0;
      const Point p{now_ms, static_cast<float>(static_cast<double>(r.packets - s.last_packets) / seconds),
                    static_cast<float>(static_cast<double>(r.bytes - s.last_bytes) / seconds)};
      if (s.ring.size() < options_.points) {
        s.ring.push_back(p);
      } else {
        s.ring[s.next] = p;
        s.next = (s.next + 1) % options_.points;
      }
      s.last_ms = now_ms;
      s.last_packets = r.packets;
      s.last_bytes = r.bytes;
    }
    next.emplace(r.key, std::move(s));
  }
  series_ = std::move(next);  // reals missing from this reading are gone from the configuration
}

std::optional<RateHistory::Point> RateHistory::latest(const std::string& key) const {
  const auto it = series_.find(key);
  if (it == series_.end() || it->second.ring.empty()) return std::nullopt;
  const auto& s = it->second;
  if (s.ring.size() < options_.points) return s.ring.back();
  return s.ring[(s.next + options_.points - 1) % options_.points];
}

nlohmann::json RateHistory::series(const std::string& key) const {
  nlohmann::json out = nlohmann::json::array();
  const auto it = series_.find(key);
  if (it == series_.end()) return out;
  const auto& s = it->second;
  const std::size_t n = s.ring.size();
  const std::size_t first = n < options_.points ? 0 : s.next;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& p = s.ring[(first + i) % n];
    // Whole numbers are plenty for a chart and keep the reply small.
    out.push_back({p.unix_ms, static_cast<std::int64_t>(p.packets_per_second + 0.5f),
                   static_cast<std::int64_t>(p.bytes_per_second + 0.5f)});
  }
  return out;
}

std::string service_label(const nlohmann::json& service) {
  const auto fwmark = service.value("fwmark", std::uint64_t{0});
  if (fwmark != 0) return "FWM " + std::to_string(fwmark);
  return service.value("protocol", std::string("TCP")) + " " +
         endpoint(service.value("address", std::string()), service.value("port", std::uint64_t{0}));
}

std::string real_series_key(const nlohmann::json& service, const nlohmann::json& real) {
  return service_label(service) + " " +
         endpoint(real.value("address", std::string()), real.value("port", std::uint64_t{0}));
}

std::vector<RateHistory::Reading> readings_of(const nlohmann::json& services) {
  std::vector<RateHistory::Reading> out;
  if (!services.is_array()) return out;
  for (const auto& svc : services) {
    for (const auto& real : svc.value("reals", nlohmann::json::array())) {
      const auto& stats = real.contains("stats") ? real["stats"] : nlohmann::json::object();
      out.push_back({real_series_key(svc, real), stats.value("packets", std::uint64_t{0}),
                     stats.value("bytes", std::uint64_t{0})});
    }
  }
  return out;
}

}  // namespace xlb::api
