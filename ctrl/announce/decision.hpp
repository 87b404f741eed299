// Whether a VIP may be announced (its host route in vip_route_table) and, when not, why.
// Pure: the daemon gathers the inputs from live state; tests drive it directly.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace xlb::announce {

// One virtual server of the VIP as health leaves it.
struct ServiceReadiness {
  bool usable_real = false;  // a real with weight > 0 that passed its checks
  bool sorry_server = false; // the sorry server takes new flows (quorum lost and one configured)
  bool quorum_up = true;
};

struct VipInputs {
  bool vrrp_managed = false;  // the VIP belongs to a vrrp_instance
  bool vrrp_master = false;   // ... which is MASTER here
  std::vector<ServiceReadiness> services;
  bool dataplane_ready = false;     // XDP attached and the VIP's services in the maps
  bool flows_synced = true;         // flow_sync_peers: the peers' flows arrived (or the wait ended)
  bool operator_withdrawn = false;  // xlbctl withdraw
  bool stopping = false;            // SIGTERM: withdrawn for the grace period
};

// Most decisive first: the first that applies is the one reported.
enum class Reason {
  announced,
  stopping,
  operator_withdrawn,
  dataplane_not_ready,
  flow_sync_pending,
  not_master,
  no_service,
  quorum_lost,
  no_usable_real,
};

struct Decision {
  bool announce = false;
  Reason reason = Reason::no_service;
  bool operator==(const Decision&) const = default;
};

// A VIP of a vrrp_instance: while the instance is MASTER (VRRP already follows health through
// track scripts). Any other VIP: while one of its virtual servers takes new flows, to a real
// with its quorum held or to the sorry server.
Decision decide(const VipInputs& in);

// "announced", "operator_withdrawn", ...: for logs, JSON and metric labels.
const char* reason_name(Reason reason);

}  // namespace xlb::announce
