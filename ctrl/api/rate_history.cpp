#include "ctrl/api/rate_history.hpp"

#include <charconv>

namespace xlb::api {

namespace {

std::string endpoint(const std::string& address, std::uint64_t port) {
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

void append_number(std::string& out, std::int64_t value) {
  char buffer[24];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, end);
}

}  // namespace

void RateHistory::sample(const std::vector<Reading>& readings, std::chrono::system_clock::time_point now) {
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  ++seq_;
  times_[seq_ % times_.size()] = now_ms;
  const auto seq = static_cast<std::uint32_t>(seq_);
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
      const Point p{seq, static_cast<float>(static_cast<double>(r.packets - s.last_packets) / seconds),
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

void RateHistory::write_series(std::string& out, const std::string& key, std::uint64_t since) const {
  out += '[';
  const auto it = series_.find(key);
  if (it != series_.end()) {
    const auto& s = it->second;
    const std::size_t n = s.ring.size();
    const std::size_t first = n < options_.points ? 0 : s.next;
    // A reading's time is kept for the last times_.size() readings; an older point (a series
    // that skipped readings while the clock stepped back) has none and is left out.
    const std::uint64_t oldest = seq_ >= times_.size() ? seq_ - times_.size() + 1 : 1;
    bool comma = false;
    for (std::size_t i = 0; i < n; ++i) {
      const auto& p = s.ring[(first + i) % n];
      if (p.seq <= since || p.seq < oldest) continue;
      if (comma) out += ',';
      comma = true;
      // Whole numbers are plenty for a chart and keep the reply small.
      out += '[';
      append_number(out, times_[p.seq % times_.size()]);
      out += ',';
      append_number(out, static_cast<std::int64_t>(p.packets_per_second + 0.5f));
      out += ',';
      append_number(out, static_cast<std::int64_t>(p.bytes_per_second + 0.5f));
      out += ']';
    }
  }
  out += ']';
}

std::string service_label(std::string_view protocol, const std::string& address, std::uint64_t port,
                          std::uint64_t fwmark) {
  if (fwmark != 0) return "FWM " + std::to_string(fwmark);
  return std::string(protocol) + " " + endpoint(address, port);
}

std::string real_series_key(const std::string& service_label, const std::string& address, std::uint64_t port) {
  return service_label + " " + endpoint(address, port);
}

std::vector<RateHistory::Reading> readings_of(const std::vector<ServiceRow>& services) {
  std::vector<RateHistory::Reading> out;
  for (const auto& svc : services) {
    const auto label = service_label(svc.protocol, svc.address, svc.port, svc.fwmark);
    for (const auto& real : svc.reals)
      out.push_back({real_series_key(label, real.address, real.port), real.stats.packets, real.stats.bytes});
  }
  return out;
}

}  // namespace xlb::api
