// Split-brain detection for an Instance: a master ARP-probes its IPv4 VIPs; a reply from
// another MAC means a second node holds the VIP.
//
// Resolution rule (documented in ctrl/vrrp/README.md): the node with the lower effective
// priority yields, and on equal priorities the one with the lower primary address. An xlb
// master learns the other side's priority and address from the tag in that side's own probes.
// A holder that sends no tagged probe within two probe intervals is not xlb (keepalived, a
// misconfigured host): xlb yields to it, since that side never will. A yielded backup keeps
// probing and treats the holder's replies as a live master, so it does not flap back while
// adverts are still cut; the first valid advert ends that mode.
#include <spdlog/spdlog.h>

#include "ctrl/vrrp/instance.hpp"

namespace xlb::vrrp {
namespace {
using boost::asio::use_awaitable;
}

boost::asio::awaitable<void> Instance::probe_loop() {
  boost::asio::steady_timer t(ex_);
  while (!stopped_) {
    State st = fsm_.state();
    if (st == State::master || (st == State::backup && yielded_)) {
      ProbeTag tag{st == State::master, fsm_.effective_priority(), primary_.is_v4() ? primary_.to_v4()
                                                                 : boost::asio::ip::address_v4()};
      for (const auto& v : vips_.vips())
        if (v.address.is_v4() && vips_.device_of(v) == probe_ifc_.name) {
          if (auto ec = prober_->probe(v.address.to_v4(), tag)) ++counters_.send_errors;
        }
    }
    t.expires_after(s_.split_brain_interval);
    co_await t.async_wait(use_awaitable);
  }
}

boost::asio::awaitable<void> Instance::probe_receive_loop() {
  while (!stopped_) {
    ArpSeen seen = co_await prober_->receive();
    if (stopped_) break;
    on_arp(seen);
  }
}

void Instance::on_arp(const ArpSeen& seen) {
  auto ours = [&](const boost::asio::ip::address_v4& a) {
    for (const auto& v : vips_.vips())
      if (v.address.is_v4() && v.address.to_v4() == a) return true;
    return false;
  };
  TimePoint now = Clock::now();
  bool holder = false;  // the sender claims or holds one of our VIPs
  if (seen.tag && ours(seen.target_ip)) {
    peer_tags_[seen.sender_mac] = *seen.tag;
    holder = seen.tag->master;
  } else if (seen.op == 2 && ours(seen.sender_ip)) {
    holder = true;
  }
  if (!holder) return;
  State st = fsm_.state();
  if (st == State::backup && yielded_) {
    fsm_.on_master_evidence(now);
    rearm();
    return;
  }
  if (st != State::master) return;

  std::string who = format_mac(seen.sender_mac);
  bool yield;
  auto tag = peer_tags_.find(seen.sender_mac);
  if (tag != peer_tags_.end()) {
    const ProbeTag& p = tag->second;
    yield = fsm_.effective_priority() < p.priority ||
            (fsm_.effective_priority() == p.priority && primary_.is_v4() &&
             primary_.to_v4() < p.primary);
  } else {
    auto [it, fresh] = first_reply_.try_emplace(seen.sender_mac, now);
    yield = now - it->second >= 2 * s_.split_brain_interval;
    if (fresh) {
      ++counters_.split_brain_detected;
      spdlog::warn("vrrp_instance {}: split brain: {} also answers for a VIP", s_.name, who);
      if (hook_)
        hook_(*this, StateChange{s_.name, st, st, fsm_.effective_priority(), Reason::split_brain,
                                 true, "VIP also held by " + who});
    }
  }
  if (tag != peer_tags_.end() && first_reply_.try_emplace(seen.sender_mac, now).second) {
    ++counters_.split_brain_detected;
    spdlog::warn("vrrp_instance {}: split brain: xlb node {} (priority {}) also holds a VIP",
                 s_.name, who, tag->second.priority);
    if (hook_)
      hook_(*this, StateChange{s_.name, st, st, fsm_.effective_priority(), Reason::split_brain,
                               true, "VIP also held by " + who});
  }
  if (yield) yield_split_brain("VIP also held by " + who);
}

void Instance::yield_split_brain(const std::string& detail) {
  spdlog::warn("vrrp_instance {}: giving up the VIPs to resolve split brain ({})", s_.name, detail);
  yielded_ = true;
  first_reply_.clear();
  apply(fsm_.force(State::backup, Reason::split_brain, Clock::now()));
}

InstanceStatus Instance::status() const {
  InstanceStatus st;
  st.name = s_.name;
  st.interface = s_.interface;
  st.vrid = s_.vrid;
  st.state = fsm_.state();
  st.base_priority = s_.priority;
  st.effective_priority = fsm_.effective_priority();
  st.master = fsm_.master_address();
  st.master_advert_int = fsm_.master_advert_interval();
  st.vips_installed = vips_.installed();
  st.counters = counters_;
  return st;
}

}  // namespace xlb::vrrp
