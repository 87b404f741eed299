#include "events.hpp"

#include <ctime>

namespace xlb::notify {

namespace {

template <class... F>
struct Overload : F... {
  using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;

std::string local_time(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

}  // namespace

std::string_view to_string(VrrpState s) {
  switch (s) {
    case VrrpState::init: return "INIT";
    case VrrpState::backup: return "BACKUP";
    case VrrpState::master: return "MASTER";
    case VrrpState::fault: return "FAULT";
    case VrrpState::stop: return "STOP";
    case VrrpState::split_brain: return "SPLIT_BRAIN";
  }
  return "UNKNOWN";
}

FaultEffect fault_effect(const Event& e) {
  return std::visit(Overload{
                        [](const VrrpTransition& v) {
                          bool bad = v.to == VrrpState::fault || v.to == VrrpState::split_brain;
                          return FaultEffect{"vrrp:" + v.instance, bad, !bad};
                        },
                        [](const RealServerChange& r) {
                          return FaultEffect{"real:" + r.virtual_server + "/" + r.real_server, !r.up, r.up};
                        },
                        [](const QuorumChange& q) { return FaultEffect{"quorum:" + q.virtual_server, q.lost, !q.lost}; },
                        [](const AnnounceChange& a) {
                          return FaultEffect{"announce:" + a.vip, !a.announced, a.announced};
                        },
                    },
                    e);
}

std::string summary(const Event& e) {
  return std::visit(Overload{
                        [](const VrrpTransition& v) {
                          return std::string(v.is_group ? "VRRP Group " : "VRRP Instance ") + v.instance +
                                 " - Entering " + std::string(to_string(v.to)) + " state";
                        },
                        [](const RealServerChange& r) {
                          return "Realserver [" + r.real_server + "] of " + r.virtual_server + " - " +
                                 (r.up ? "UP" : "DOWN");
                        },
                        [](const QuorumChange& q) {
                          return "Virtual server " + q.virtual_server + " - quorum " + (q.lost ? "lost" : "regained");
                        },
                        [](const AnnounceChange& a) {
                          return "VIP " + a.vip + " - " + (a.announced ? "ANNOUNCED" : "WITHDRAWN (" + a.reason + ")");
                        },
                    },
                    e);
}

std::string describe(const TimedEvent& te) {
  std::string when = local_time(te.at) + "  ";
  return std::visit(
      Overload{
          [&](const VrrpTransition& v) {
            std::string s = when + summary(te.event) + "\n    " + std::string(to_string(v.from)) + " -> " +
                            std::string(to_string(v.to)) + ", priority " + std::to_string(v.priority);
            if (!v.reason.empty()) s += ", reason: " + v.reason;
            if (v.to == VrrpState::master) s += "\n    => this node now owns the virtual addresses <=";
            if (v.to == VrrpState::split_brain) s += "\n    => another node also claims the virtual addresses <=";
            return s;
          },
          [&](const RealServerChange& r) {
            std::string s = when + summary(te.event) + "\n    checker " + (r.checker.empty() ? "?" : r.checker);
            if (!r.reason.empty()) s += ": " + r.reason;
            s += r.up ? "\n    => back in the pool <=" : "\n    => removed from the pool <=";
            return s;
          },
          [&](const QuorumChange& q) {
            return when + summary(te.event) + "\n    alive weight " + std::to_string(q.alive_weight) + ", quorum " +
                   std::to_string(q.quorum) +
                   (q.lost ? "\n    => the service is withdrawn (sorry server if any) <=" : "");
          },
          [&](const AnnounceChange& a) {
            return when + summary(te.event) +
                   (a.announced ? "\n    => the routers send this node the VIP's traffic again <="
                                : "\n    => the routers stop sending this node the VIP's traffic <=");
          },
      },
      te.event);
}

MailText compose_mail(const std::string& router_id, const std::vector<TimedEvent>& events, std::size_t open_faults,
                      bool held_for_quiet_hours) {
  MailText m;
  const std::string prefix = "[" + router_id + "] ";
  if (events.size() == 1) {
    m.subject = prefix + summary(events.front().event);
  } else {
    m.subject = prefix + std::to_string(events.size()) + " events";
    if (open_faults) m.subject += ", " + std::to_string(open_faults) + " fault(s) open";
    m.subject += ": " + summary(events.back().event);
  }
  if (held_for_quiet_hours) m.body += "Held during quiet hours; events in the order they happened.\n\n";
  else if (events.size() > 1) m.body += "Events in the order they happened.\n\n";
  for (const auto& e : events) m.body += describe(e) + "\n\n";
  if (open_faults) m.body += std::to_string(open_faults) + " fault(s) still open when this mail was sent.\n";
  m.body += "-- \nxlb on " + router_id + "\n";
  return m;
}

}  // namespace xlb::notify
