#include "ctrl/daemon/live_state.hpp"

#include <spdlog/spdlog.h>

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
  healthy_[spec.key] = spec;
  push(spec.key);
}

void LiveState::on_removed(const dataplane::ServiceKey& key) {
  healthy_.erase(key);
  if (applied_.erase(key) != 0) backend_.remove(key);
}

void LiveState::set_vip_owned(const dataplane::IpAddress& vip, bool owned) {
  if (owned) owned_.insert(vip);
  else owned_.erase(vip);
  for (const auto& [key, spec] : healthy_) {
    if (key.address == vip) push(key);
  }
}

void LiveState::set_vrrp_managed(std::set<dataplane::IpAddress> vips) {
  vrrp_managed_ = std::move(vips);
  for (const auto& [key, spec] : healthy_) push(key);
}

std::size_t LiveState::set_weight_override(const RealRef& real, std::optional<std::uint32_t> weight) {
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
  for (auto it = overrides_.begin(); it != overrides_.end();) {
    const auto before = old_weights.find(it->first);
    const auto after = new_weights.find(it->first);
    const bool changed = after == new_weights.end() || before == old_weights.end() ||
                         before->second != after->second;
    it = changed ? overrides_.erase(it) : std::next(it);
  }
}

}  // namespace xlb::daemon
