#include "ctrl/announce/decision.hpp"

#include <algorithm>

namespace xlb::announce {

Decision decide(const VipInputs& in) {
  if (in.stopping) return {false, Reason::stopping};
  if (in.operator_withdrawn) return {false, Reason::operator_withdrawn};
  // Attaching can reset a link and flap BGP; a route before the maps would draw traffic the
  // program cannot forward yet.
  if (!in.dataplane_ready) return {false, Reason::dataplane_not_ready};
  // A node that restarted with empty tables would reset every flow the router moves to it
  // (wrr, persistence) until its peers' flows arrive.
  if (!in.flows_synced) return {false, Reason::flow_sync_pending};
  const bool pending = !in.routed && std::any_of(in.services.begin(), in.services.end(),
                                                 [](const ServiceReadiness& s) { return s.checks_pending; });
  if (in.vrrp_managed) {
    if (!in.vrrp_master) return {false, Reason::not_master};
    return pending ? Decision{false, Reason::checks_pending} : Decision{true, Reason::announced};
  }
  if (in.services.empty()) return {false, Reason::no_service};
  if (pending) return {false, Reason::checks_pending};
  const auto serves = [](const ServiceReadiness& s) { return s.sorry_server || (s.usable_real && s.quorum_up); };
  if (std::any_of(in.services.begin(), in.services.end(), serves)) return {true, Reason::announced};
  const bool quorum_only = std::any_of(in.services.begin(), in.services.end(),
                                       [](const ServiceReadiness& s) { return s.usable_real && !s.quorum_up; });
  return {false, quorum_only ? Reason::quorum_lost : Reason::no_usable_real};
}

const char* reason_name(Reason reason) {
  switch (reason) {
    case Reason::announced: return "announced";
    case Reason::stopping: return "stopping";
    case Reason::operator_withdrawn: return "operator_withdrawn";
    case Reason::dataplane_not_ready: return "dataplane_not_ready";
    case Reason::flow_sync_pending: return "flow_sync_pending";
    case Reason::not_master: return "not_master";
    case Reason::checks_pending: return "checks_pending";
    case Reason::no_service: return "no_service";
    case Reason::quorum_lost: return "quorum_lost";
    case Reason::no_usable_real: return "no_usable_real";
  }
  return "unknown";
}

}  // namespace xlb::announce
