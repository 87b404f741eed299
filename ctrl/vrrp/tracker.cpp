#include "ctrl/vrrp/tracker.hpp"

#include <algorithm>

namespace xlb::vrrp {

Tracker::Tracker(const InstanceSettings& s) : base_(s.priority) {
  // The instance's own interface is always tracked: without it VRRP cannot work (keepalived
  // does the same).
  links_.push_back({s.interface, 0});
  for (const auto& t : s.track_interfaces) links_.push_back({t.name, t.weight});
  for (const auto& t : s.track_scripts)
    scripts_.push_back({t.weight, std::max(1, t.rise), std::max(1, t.fall)});
}

bool Tracker::set_links(const std::function<bool(const std::string&)>& is_up) {
  int prio = effective_priority();
  bool f = fault();
  for (auto& l : links_) l.up = is_up(l.name);
  return prio != effective_priority() || f != fault();
}

bool Tracker::record_script(std::size_t index, int exit_status) {
  int prio = effective_priority();
  bool f = fault();
  Script& s = scripts_.at(index);
  bool ok = exit_status == 0;
  if (!s.known) {
    // The first result decides at once: waiting for rise/fall at start-up would run the
    // instance for seconds on a guess.
    s.known = true;
    s.ok = ok;
  } else if (ok == s.ok) {
    s.streak = 0;
  } else if (++s.streak >= (ok ? s.rise : s.fall)) {
    s.ok = ok;
    s.streak = 0;
  }
  return prio != effective_priority() || f != fault();
}

int Tracker::effective_priority() const {
  int delta = 0;
  for (const auto& l : links_) {
    if (l.weight > 0 && l.up) delta += l.weight;
    if (l.weight < 0 && !l.up) delta += l.weight;
  }
  for (const auto& s : scripts_) {
    if (s.weight > 0 && s.ok) delta += s.weight;
    if (s.weight < 0 && !s.ok) delta += s.weight;
  }
  if (delta == 0) return base_;
  return std::clamp(base_ + delta, 1, 254);
}

bool Tracker::fault() const {
  for (const auto& l : links_)
    if (l.weight == 0 && !l.up) return true;
  for (const auto& s : scripts_)
    if (s.weight == 0 && !s.ok) return true;
  return false;
}

Reason Tracker::fault_reason() const {
  for (const auto& l : links_)
    if (l.weight == 0 && !l.up) return Reason::link_down;
  return Reason::script_failed;
}

}  // namespace xlb::vrrp
