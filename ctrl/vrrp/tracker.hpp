// Effective priority and fault from track_interface and track_script results. Pure: the
// instance feeds it link states and script exit codes.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "ctrl/vrrp/settings.hpp"
#include "ctrl/vrrp/state_machine.hpp"

namespace xlb::vrrp {

class Tracker {
 public:
  explicit Tracker(const InstanceSettings& s);

  // Both return true when the effective priority or the fault state changed.
  bool set_links(const std::function<bool(const std::string&)>& is_up);
  bool record_script(std::size_t index, int exit_status);

  int effective_priority() const;
  bool fault() const;
  Reason fault_reason() const;  // link_down or script_failed
  bool script_ok(std::size_t index) const { return scripts_[index].ok; }

 private:
  struct Link {
    std::string name;
    int weight;
    bool up = true;
  };
  struct Script {
    int weight, rise, fall;
    bool ok = true;
    bool known = false;
    int streak = 0;  // consecutive results that disagree with ok
  };
  int base_;
  std::vector<Link> links_;
  std::vector<Script> scripts_;
};

}  // namespace xlb::vrrp
