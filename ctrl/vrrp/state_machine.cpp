#include "ctrl/vrrp/state_machine.hpp"

namespace xlb::vrrp {

std::string_view to_string(State s) {
  switch (s) {
    case State::init: return "INIT";
    case State::backup: return "BACKUP";
    case State::master: return "MASTER";
    case State::fault: return "FAULT";
    case State::stop: return "STOP";
  }
  return "UNKNOWN";
}

std::string_view to_string(Reason r) {
  switch (r) {
    case Reason::startup: return "startup";
    case Reason::peer_lost: return "peer lost";
    case Reason::priority_zero_seen: return "master left (priority 0)";
    case Reason::higher_priority_seen: return "higher priority seen";
    case Reason::preempted: return "preempted lower priority master";
    case Reason::script_failed: return "script failed";
    case Reason::link_down: return "link down";
    case Reason::fault_cleared: return "fault cleared";
    case Reason::split_brain: return "split brain";
    case Reason::sync_group: return "sync group";
    case Reason::shutdown: return "shutdown";
  }
  return "unknown";
}

StateMachine::StateMachine(FsmConfig cfg)
    : cfg_(std::move(cfg)), effective_(cfg_.priority), master_adver_int_(cfg_.advert_int) {}

Millis StateMachine::skew() const {
  // v2 (RFC 3768): (256 - priority) / 256 seconds. v3 (RFC 5798): scaled by the master's interval.
  Millis base = cfg_.version == 3 ? master_adver_int_ : Millis{1000};
  return Millis{(256 - effective_) * base.count() / 256};
}

Millis StateMachine::master_down_interval() const {
  Millis adv = cfg_.version == 3 ? master_adver_int_ : cfg_.advert_int;
  return 3 * adv + skew();
}

std::optional<TimePoint> StateMachine::next_deadline() const {
  std::optional<TimePoint> d;
  for (const auto& t : {adver_deadline_, master_down_deadline_})
    if (t && (!d || *t < *d)) d = t;
  return d;
}

bool StateMachine::peer_wins(const PeerAdvert& a) const {
  if (a.priority != effective_) return a.priority > effective_;
  return cfg_.primary < a.src;
}

Output StateMachine::advert(Output o) const {
  o.send_advert = true;
  o.advert_priority = effective_;
  return o;
}

Output StateMachine::go(State to, Reason why, TimePoint now) {
  Output o;
  State from = state_;
  if (from == to) return o;
  state_ = to;
  zero_seen_ = false;
  o.transition = Transition{from, to, why};
  adver_deadline_.reset();
  master_down_deadline_.reset();
  switch (to) {
    case State::master:
      master_addr_ = cfg_.primary;
      adver_deadline_ = now + cfg_.advert_int;
      return advert(o);
    case State::backup:
      if (from == State::master) master_addr_.reset();
      master_adver_int_ = cfg_.advert_int;
      master_down_deadline_ = now + master_down_interval();
      return o;
    case State::fault:
    case State::stop:
    case State::init:
      master_addr_.reset();
      // A master that leaves says so with priority 0, so that a backup takes over at once.
      if (from == State::master) {
        o.send_advert = true;
        o.advert_priority = 0;
      }
      return o;
  }
  return o;
}

Output StateMachine::start(TimePoint now) {
  if (cfg_.preempt_delay.count() > 0) preempt_allowed_at_ = now + cfg_.preempt_delay;
  if (tracking_fault_) return go(State::fault, Reason::startup, now);
  if (cfg_.priority == 255 || cfg_.initial_state == InitialState::master)
    return go(State::master, Reason::startup, now);
  return go(State::backup, Reason::startup, now);
}

Output StateMachine::on_advert(const PeerAdvert& a, TimePoint now) {
  Output o;
  if (state_ == State::backup) {
    if (a.priority == 0) {
      master_down_deadline_ = now + skew();
      zero_seen_ = true;
      return o;
    }
    zero_seen_ = false;
    // RFC 5798 6.4.2: an equal priority is accepted; only masters break ties by address.
    bool lower = a.priority < effective_;
    bool delaying = false;
    if (lower && !cfg_.nopreempt && cfg_.preempt_delay.count() > 0) {
      if (!preempt_allowed_at_) preempt_allowed_at_ = now + cfg_.preempt_delay;
      delaying = now < *preempt_allowed_at_;
    }
    preempting_ = false;
    if (!lower || cfg_.nopreempt || delaying) {
      if (!lower) preempt_allowed_at_.reset();
      if (cfg_.version == 3) master_adver_int_ = a.interval;
      master_addr_ = a.src;
      master_down_deadline_ = now + master_down_interval();
      return o;
    }
    // A lower-priority master and we may preempt: RFC 5798 6.4.2 discards the advert, so
    // the master-down timer, which it does not reset, hands us the VIP. Taking over at once
    // would let one forged or misconfigured advert move the VIP (and every client's ARP entry)
    // to us and back.
    preempting_ = true;
    return o;
  }
  if (state_ == State::master) {
    if (a.priority == 0) {
      adver_deadline_ = now + cfg_.advert_int;
      return advert(o);
    }
    if (peer_wins(a)) {
      Output out = go(State::backup, Reason::higher_priority_seen, now);
      if (cfg_.version == 3) {
        master_adver_int_ = a.interval;
        master_down_deadline_ = now + master_down_interval();
      }
      master_addr_ = a.src;
      return out;
    }
    // A lower-priority master exists (it missed us): answer at once so that it backs down.
    adver_deadline_ = now + cfg_.advert_int;
    return advert(o);
  }
  return o;
}

Output StateMachine::on_timer(TimePoint now) {
  if (state_ == State::master && adver_deadline_ && now >= *adver_deadline_) {
    adver_deadline_ = now + cfg_.advert_int;
    return advert(Output{});
  }
  if (state_ == State::backup && master_down_deadline_ && now >= *master_down_deadline_) {
    const Reason why = zero_seen_ ? Reason::priority_zero_seen : preempting_ ? Reason::preempted : Reason::peer_lost;
    return go(State::master, why, now);
  }
  return {};
}

Output StateMachine::set_tracking(int effective_priority, bool fault, Reason why, TimePoint now) {
  bool changed = effective_priority != effective_;
  effective_ = static_cast<std::uint8_t>(effective_priority);
  tracking_fault_ = fault;
  if (state_ == State::init || state_ == State::stop) return {};
  if (fault) return go(State::fault, why, now);
  if (state_ == State::fault) return go(State::backup, Reason::fault_cleared, now);
  if (state_ == State::master && changed) {
    // Tell the backups now: a lowered priority lets a preempting backup take over at once.
    adver_deadline_ = now + cfg_.advert_int;
    return advert(Output{});
  }
  return {};
}

Output StateMachine::force(State to, Reason why, TimePoint now) {
  if (state_ == State::init || state_ == State::stop || to == state_) return {};
  if (tracking_fault_ && to != State::fault) return {};
  return go(to, why, now);
}

Output StateMachine::on_master_evidence(TimePoint now) {
  if (state_ == State::backup) master_down_deadline_ = now + master_down_interval();
  return {};
}

Output StateMachine::shutdown() {
  Output o = go(State::stop, Reason::shutdown, TimePoint{});
  return o;
}

}  // namespace xlb::vrrp
