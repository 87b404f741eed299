// The VRRP state machine (RFC 3768 6.4 / RFC 5798 6.4) as a pure component: it owns no socket,
// timer or clock. The caller feeds it events with the current time and carries out the
// returned Output (send an advert, own or release the VIPs), then arms one timer for
// next_deadline(). This is what makes it testable as a table of transitions.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "ctrl/vrrp/settings.hpp"

namespace xlb::vrrp {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

enum class State : std::uint8_t { init, backup, master, fault, stop };
std::string_view to_string(State s);  // keepalived's words: INIT BACKUP MASTER FAULT STOP

enum class Reason : std::uint8_t {
  startup,
  peer_lost,             // master-down timer expired
  priority_zero_seen,    // the master left and said so
  higher_priority_seen,
  preempted,             // we preempted a lower-priority master
  script_failed,
  link_down,
  fault_cleared,
  split_brain,
  sync_group,
  shutdown,
};
std::string_view to_string(Reason r);

struct FsmConfig {
  int version = 2;
  std::uint8_t priority = 100;
  Millis advert_int{1000};
  InitialState initial_state = InitialState::backup;
  bool nopreempt = false;
  Millis preempt_delay{0};
  Address primary;  // our source address: equal priorities are broken by it
};

struct Transition {
  State from;
  State to;
  Reason reason;
};

// What the caller must do, in this order: apply the transition (own/release VIPs), then send.
struct Output {
  std::optional<Transition> transition;
  bool send_advert = false;
  std::uint8_t advert_priority = 0;
};

// An advert that already passed validation.
struct PeerAdvert {
  std::uint8_t priority = 0;
  Millis interval{1000};
  Address src;
};

class StateMachine {
 public:
  explicit StateMachine(FsmConfig cfg);

  Output start(TimePoint now);
  Output on_advert(const PeerAdvert& a, TimePoint now);
  Output on_timer(TimePoint now);  // call when now >= next_deadline()
  // Effective priority from tracked interfaces/scripts; fault = a weight-0 item failed.
  Output set_tracking(int effective_priority, bool fault, Reason why, TimePoint now);
  // Sync groups and split-brain resolution move the instance from outside.
  Output force(State to, Reason why, TimePoint now);
  // Another node is seen holding the VIP (split-brain probe answered): as good as an advert.
  Output on_master_evidence(TimePoint now);
  Output shutdown();

  State state() const { return state_; }
  std::uint8_t effective_priority() const { return effective_; }
  std::optional<TimePoint> next_deadline() const;
  Millis master_down_interval() const;
  Millis master_advert_interval() const { return master_adver_int_; }
  const std::optional<Address>& master_address() const { return master_addr_; }

 private:
  Output go(State to, Reason why, TimePoint now);
  Millis skew() const;
  bool peer_wins(const PeerAdvert& a) const;
  Output advert(Output o) const;

  FsmConfig cfg_;
  State state_ = State::init;
  std::uint8_t effective_;
  bool tracking_fault_ = false;
  Millis master_adver_int_;
  std::optional<TimePoint> adver_deadline_;       // master: next advert
  std::optional<TimePoint> master_down_deadline_;  // backup: take over
  std::optional<TimePoint> preempt_allowed_at_;    // backup: preempt_delay running
  std::optional<Address> master_addr_;
  bool zero_seen_ = false;  // the master said it leaves: the takeover reason
  bool preempting_ = false;  // the last advert was a lower master's, discarded: the takeover reason
};

}  // namespace xlb::vrrp
