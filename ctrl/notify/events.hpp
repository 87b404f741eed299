// What the rest of xlbd reports to notify: VRRP transitions, real servers going down and up,
// quorum changes and VIP announcements. Plain values so that vrrp/ and check/ need not know about mail.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace xlb::notify {

// keepalived's states, plus SPLIT_BRAIN (xlb: a second master answered for our VIP).
enum class VrrpState { init, backup, master, fault, stop, split_brain };
std::string_view to_string(VrrpState s);  // INIT BACKUP MASTER FAULT STOP SPLIT_BRAIN

struct VrrpTransition {
  std::string instance;   // vrrp_instance or vrrp_sync_group name
  bool is_group = false;  // sync group: keepalived passes GROUP instead of INSTANCE
  VrrpState from = VrrpState::init;
  VrrpState to = VrrpState::backup;
  int priority = 0;
  std::string reason;     // "peer lost", "higher priority seen", "script failed", "link down", ...
};

struct RealServerChange {
  std::string virtual_server;  // "198.18.0.10:80 tcp"
  std::string real_server;     // "198.18.1.1:80"
  std::string checker;         // "HTTP_GET", "TCP_CHECK" ...
  bool up = false;
  std::string reason;          // "connection refused", "status 503" ...
};

struct QuorumChange {
  std::string virtual_server;
  bool lost = false;
  unsigned alive_weight = 0;
  unsigned quorum = 0;
};

// vip_route_table (issue 29): this node started or stopped announcing a VIP to the routers.
struct AnnounceChange {
  std::string vip;         // "198.18.0.10"
  bool announced = false;
  std::string reason;      // why not, as xlbctl status shows it: "no_usable_real", "operator_withdrawn" ...
  // The VIP's first state, not announced (at start, "checks_pending" say): told to the script
  // so that it knows why the VIP is not out yet; no route changed, so no mail.
  bool initial = false;
};

using Event = std::variant<VrrpTransition, RealServerChange, QuorumChange, AnnounceChange>;

struct TimedEvent {
  std::chrono::system_clock::time_point at;
  Event event;
};

// A fault opened by this event (key names the thing that is now broken), or closed by it.
struct FaultEffect {
  std::string key;
  bool opens = false;
  bool closes = false;
};
FaultEffect fault_effect(const Event& e);

// keepalived-style one-line summary: "VRRP Instance VI_1 - Entering MASTER state".
std::string summary(const Event& e);
// One paragraph with every detail, in English (the event data itself may be UTF-8).
std::string describe(const TimedEvent& e);

// Subject and body of the mail for a batch of events (one event: keepalived's form).
struct MailText {
  std::string subject;
  std::string body;
};
MailText compose_mail(const std::string& router_id, const std::vector<TimedEvent>& events,
                      std::size_t open_faults, bool held_for_quiet_hours);

}  // namespace xlb::notify
