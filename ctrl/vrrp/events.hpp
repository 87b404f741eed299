// What the VRRP subsystem tells the rest of xlbd: state changes (for notify scripts, the
// dataplane and logs), status snapshots (xlbctl status) and counters (metrics).
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xlb/asio.hpp"
#include "ctrl/vrrp/packet.hpp"
#include "ctrl/vrrp/state_machine.hpp"

namespace xlb::vrrp {

struct StateChange {
  std::string instance;
  State old_state = State::init;
  State new_state = State::init;
  int priority = 0;  // effective priority at the time of the change
  Reason reason = Reason::startup;
  // A detected split brain is reported while the state itself may not change yet;
  // notify scripts get the keepalived-style word SPLIT_BRAIN (xlb-specific).
  bool split_brain = false;
  std::string detail;
  // MASTER, BACKUP, FAULT, STOP or SPLIT_BRAIN: the word keepalived's notify scripts receive.
  std::string_view notify_state() const {
    return split_brain ? std::string_view("SPLIT_BRAIN") : to_string(new_state);
  }
};

using StateObserver = std::function<void(const StateChange&)>;

// Runs one vrrp_script check (argv, timeout) and yields its exit status (non-zero: failed,
// including a timeout). Injected by xlbd (notify's runner) so that vrrp never forks itself.
using ScriptRunner = std::function<boost::asio::awaitable<int>(const std::vector<std::string>& argv,
                                                                std::chrono::milliseconds timeout)>;

struct Counters {
  std::uint64_t adverts_sent = 0;
  std::uint64_t adverts_received = 0;  // valid ones, for this VRID
  std::uint64_t send_errors = 0;
  std::uint64_t became_master = 0;
  std::uint64_t left_master = 0;
  std::uint64_t priority_zero_sent = 0;
  std::uint64_t priority_zero_received = 0;
  std::uint64_t garp_sent = 0;
  std::uint64_t vip_errors = 0;
  std::uint64_t split_brain_detected = 0;
  std::uint64_t script_runs = 0;
  std::array<std::uint64_t, kDropReasonCount> drops{};
  std::uint64_t dropped(DropReason r) const { return drops[static_cast<std::size_t>(r)]; }
};

struct InstanceStatus {
  std::string name;
  std::string interface;
  std::uint8_t vrid = 0;
  State state = State::init;
  int base_priority = 0;
  int effective_priority = 0;
  std::optional<Address> master;
  std::chrono::milliseconds master_advert_int{0};
  bool vips_installed = false;
  Counters counters;
};

}  // namespace xlb::vrrp
