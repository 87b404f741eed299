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
  bool checks_pending = false;  // a real has had no check verdict yet (it is up only by assumption)
};

struct VipInputs {
  bool vrrp_managed = false;  // the VIP belongs to a vrrp_instance
  bool vrrp_master = false;   // ... which is MASTER here
  std::vector<ServiceReadiness> services;
  bool dataplane_ready = false;     // XDP attached and the VIP's services in the maps
  bool flows_synced = true;         // flow_sync_peers: the peers' flows arrived (or the wait ended)
  bool operator_withdrawn = false;  // xlbctl withdraw
  bool stopping = false;            // SIGTERM: withdrawn for the grace period
  bool routed = false;              // the route is in the table now (the previous decision)
};

// Most decisive first: the first that applies is the one reported.
enum class Reason {
  announced,
  stopping,
  operator_withdrawn,
  dataplane_not_ready,
  flow_sync_pending,
  not_master,
  checks_pending,
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
// with its quorum held or to the sorry server. Either only once every real of its services
// has had its first check verdict: a node starting with dead reals (up by assumption) would
// otherwise announce, then withdraw at the verdict, and the router rehash twice for nothing.
// A route already in the table stays for that (a real added by a reload).
Decision decide(const VipInputs& in);

// "announced", "operator_withdrawn", ...: for logs, JSON and metric labels.
const char* reason_name(Reason reason);

}  // namespace xlb::announce
