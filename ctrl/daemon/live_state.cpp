#include "ctrl/daemon/live_state.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

namespace xlb::daemon {

std::string RealRef::text() const {
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(port);
}

RealRef RealRef::parse(const std::string& text) {
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw std::invalid_argument("real server \"" + text + "\": expected [ADDR]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("real server \"" + text + "\": expected ADDR:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  boost::system::error_code ec;
  RealRef ref;
  ref.address = boost::asio::ip::make_address(host, ec);
  if (ec) throw std::invalid_argument("real server \"" + text + "\": bad address");
  try {
    const unsigned long value = std::stoul(port);
    if (value > 65535) throw std::out_of_range("port");
    ref.port = static_cast<std::uint16_t>(value);
  } catch (const std::exception&) {
    throw std::invalid_argument("real server \"" + text + "\": bad port");
  }
  return ref;
}

namespace {

bool lists(const dataplane::ServiceSpec& spec, const RealRef& ref) {
  return std::any_of(spec.reals.begin(), spec.reals.end(), [&](const dataplane::RealServer& r) {
    return r.address == ref.address && r.port == ref.port;
  });
}

}  // namespace

bool LiveState::vip_active(const dataplane::IpAddress& vip) const {
  return !vrrp_managed_.contains(vip) || owned_.contains(vip);
}

dataplane::ServiceSpec LiveState::effective(const dataplane::ServiceSpec& healthy) const {
  dataplane::ServiceSpec spec = healthy;
  spec.active = spec.key.fwmark != 0 || vip_active(spec.key.address);
  for (auto& real : spec.reals) {
    const auto it = overrides_.find(RealRef{real.address, real.port});
    // An override changes the weight of a live real; it never revives a failed one.
    if (it != overrides_.end() && real.weight != 0) real.weight = it->second;
  }
  if (const auto r = retired_.find(spec.key); r != retired_.end()) {
    for (const auto& [ref, real] : r->second) {
      if (!lists(spec, ref)) spec.reals.push_back(real);
    }
  }
  return spec;
}

void LiveState::push(const dataplane::ServiceKey& key) {
  const auto it = healthy_.find(key);
  if (it == healthy_.end()) return;
  auto spec = effective(it->second);
  const auto applied = applied_.find(key);
  if (applied != applied_.end() && applied->second == spec) return;
  try {
    backend_.apply(spec);
    applied_[key] = std::move(spec);
  } catch (const std::exception& e) {
    // The previous state stays in the dataplane; the next change retries.
    spdlog::error("dataplane: cannot apply {}: {}", key.address.to_string(), e.what());
  }
}

void LiveState::on_health(const dataplane::ServiceSpec& spec) {
  ++generation_;
  healthy_[spec.key] = spec;
  if (const auto r = retired_.find(spec.key); r != retired_.end()) {
    for (const auto& real : spec.reals) r->second.erase(RealRef{real.address, real.port});
    if (r->second.empty()) retired_.erase(r);
  }
  push(spec.key);
}

void LiveState::retire_removed(const std::vector<dataplane::ServiceSpec>& next) {
  ++generation_;
  for (const auto& spec : next) {
    const auto applied = applied_.find(spec.key);
    if (applied == applied_.end()) continue;
    for (const auto& real : applied->second.reals) {
      const RealRef ref{real.address, real.port};
      // A real listed again stays retired until health reports it (a new checker may start
      // with the real down, which must not end its flows either).
      if (lists(spec, ref) || (retired_.contains(spec.key) && retired_[spec.key].contains(ref))) continue;
      auto draining = real;
      draining.weight = 0;
      retired_[spec.key].emplace(ref, draining);
      spdlog::info("{}:{}: real server {} left the configuration; its established flows stay until they end",
                   spec.key.address.to_string(), spec.key.port, ref.text());
    }
  }
}

std::size_t LiveState::release_retired(
    const std::function<bool(const dataplane::ServiceKey&, const dataplane::IpAddress&)>& has_live_flows) {
  ++generation_;
  std::size_t released = 0;
  for (auto svc = retired_.begin(); svc != retired_.end();) {
    const auto key = svc->first;
    std::size_t before = svc->second.size();
    std::erase_if(svc->second, [&](const auto& entry) { return !has_live_flows(key, entry.first.address); });
    released += before - svc->second.size();
    const bool changed = before != svc->second.size();
    svc = svc->second.empty() ? retired_.erase(svc) : std::next(svc);
    if (changed) push(key);
  }
  return released;
}

void LiveState::on_removed(const dataplane::ServiceKey& key) {
  ++generation_;
  retired_.erase(key);
  healthy_.erase(key);
  if (applied_.erase(key) != 0) backend_.remove(key);
}

void LiveState::set_vip_owned(const dataplane::IpAddress& vip, bool owned) {
  ++generation_;
  if (owned) owned_.insert(vip);
  else owned_.erase(vip);
  for (const auto& [key, spec] : healthy_) {
    if (key.address == vip) push(key);
  }
}

void LiveState::set_vrrp_managed(std::set<dataplane::IpAddress> vips) {
  ++generation_;
  vrrp_managed_ = std::move(vips);
  for (const auto& [key, spec] : healthy_) push(key);
}

std::size_t LiveState::set_weight_override(const RealRef& real, std::optional<std::uint32_t> weight) {
  ++generation_;
  std::size_t services = 0;
  for (const auto& [key, spec] : healthy_) {
    for (const auto& r : spec.reals) {
      if (r.address == real.address && r.port == real.port) ++services;
    }
  }
  if (services == 0) return 0;
  if (weight) overrides_[real] = *weight;
  else overrides_.erase(real);
  for (const auto& [key, spec] : healthy_) push(key);
  return services;
}

void LiveState::drop_overrides_changed_by(const std::map<RealRef, std::uint32_t>& old_weights,
                                          const std::map<RealRef, std::uint32_t>& new_weights) {
  ++generation_;
  for (auto it = overrides_.begin(); it != overrides_.end();) {
    const auto before = old_weights.find(it->first);
    const auto after = new_weights.find(it->first);
    const bool changed = after == new_weights.end() || before == old_weights.end() ||
                         before->second != after->second;
    it = changed ? overrides_.erase(it) : std::next(it);
  }
}

}  // namespace xlb::daemon
