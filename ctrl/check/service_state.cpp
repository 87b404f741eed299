#include "ctrl/check/service_state.hpp"

#include <stdexcept>

namespace xlb::check {

ServiceState::ServiceState(VirtualServerSettings settings, std::vector<RealVerdict> verdicts,
                           std::optional<bool> quorum_up)
    : settings_(std::move(settings)), verdicts_(std::move(verdicts)) {
  if (verdicts_.size() != settings_.reals.size())
    throw std::invalid_argument("ServiceState: one verdict per real server expected");
  std::uint64_t alive = alive_weight();
  quorum_up_ = quorum_up.value_or(alive > 0 && alive >= settings_.quorum);
  quorum_up_ = quorum_up ? next_quorum_state(alive) : quorum_up_;
  spec_ = build_spec();
}

bool ServiceState::inhibit(std::size_t real) const {
  return settings_.reals[real].inhibit_on_failure.value_or(settings_.inhibit_on_failure);
}

std::uint32_t ServiceState::effective_weight(std::size_t real) const {
  return verdicts_[real].weight.value_or(settings_.reals[real].weight);
}

std::uint64_t ServiceState::alive_weight() const {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < verdicts_.size(); ++i)
    if (verdicts_[i].up) sum += effective_weight(i);
  return sum;
}

// keepalived: quorum is lost below quorum - hysteresis (or with nothing alive) and regained
// at quorum + hysteresis, so that a real flapping at the threshold does not flap the service.
bool ServiceState::next_quorum_state(std::uint64_t alive) const {
  std::uint64_t quorum = settings_.quorum;
  std::uint64_t hysteresis = settings_.hysteresis;
  if (quorum_up_) {
    std::uint64_t low = quorum > hysteresis ? quorum - hysteresis : 0;
    return !(alive == 0 || alive < low);
  }
  return alive > 0 && alive >= quorum + hysteresis;
}

dataplane::ServiceSpec ServiceState::build_spec() const {
  dataplane::ServiceSpec spec = settings_.spec;
  spec.reals.clear();
  bool sorry = !quorum_up_ && settings_.spec.sorry_server.has_value();
  if (!sorry) spec.sorry_server.reset();
  for (std::size_t i = 0; i < verdicts_.size(); ++i) {
    const RealSettings& rs = settings_.reals[i];
    dataplane::RealServer real{rs.address, rs.port, effective_weight(i), rs.forwarding};
    if (!verdicts_[i].up) {
      if (!inhibit(i)) continue;
      real.weight = 0;
    } else if (sorry) {
      // Quorum lost: new flows go to the sorry server; live reals keep the flows they have.
      real.weight = 0;
    }
    spec.reals.push_back(real);
  }
  return spec;
}

Actions ServiceState::update(const std::vector<RealVerdict>& verdicts) {
  if (verdicts.size() != verdicts_.size())
    throw std::invalid_argument("ServiceState::update: one verdict per real server expected");
  Actions actions;
  for (std::size_t i = 0; i < verdicts.size(); ++i) {
    if (verdicts[i].up == verdicts_[i].up) continue;
    actions.events.push_back({HealthEvent::Kind::real, i, verdicts[i].up, 0});
    const auto& script = verdicts[i].up ? settings_.reals[i].notify_up : settings_.reals[i].notify_down;
    if (!script.empty()) actions.scripts.push_back(script);
  }
  verdicts_ = verdicts;
  bool was_up = quorum_up_;
  quorum_up_ = next_quorum_state(alive_weight());
  if (was_up != quorum_up_) {
    actions.events.push_back({HealthEvent::Kind::quorum, 0, quorum_up_, alive_weight()});
    const auto& script = quorum_up_ ? settings_.quorum_up : settings_.quorum_down;
    if (!script.empty()) actions.scripts.push_back(script);
  }
  dataplane::ServiceSpec next = build_spec();
  if (next != spec_) {
    for (const auto& old_real : spec_.reals) {
      bool kept = false;
      for (const auto& r : next.reals)
        kept = kept || (r.address == old_real.address && r.port == old_real.port);
      if (!kept) actions.flush.push_back(old_real.address);
    }
    spec_ = next;
    actions.apply = spec_;
  }
  return actions;
}

Actions ServiceState::shutdown() const {
  Actions actions;
  if (!settings_.omega) return actions;
  for (std::size_t i = 0; i < verdicts_.size(); ++i)
    if (verdicts_[i].up && !settings_.reals[i].notify_down.empty())
      actions.scripts.push_back(settings_.reals[i].notify_down);
  if (quorum_up_ && !settings_.quorum_down.empty()) actions.scripts.push_back(settings_.quorum_down);
  return actions;
}

}  // namespace xlb::check
