// What IPVS destinations a service should have, and the smallest change to get there.
#pragma once

#include <vector>

#include "ctrl/dataplane/backend.hpp"
#include "ctrl/dataplane/ipvs/messages.hpp"

namespace xlb::dataplane::ipvs {

// Reals as IPVS destinations. As keepalived does: the sorry server is the only addition
// when no real can take new flows (none with weight > 0), and it leaves when one can again.
// DR and TUN cannot change the port, so their destination port is the service's.
std::vector<DestSpec> desired_dests(const ServiceSpec& spec);

struct DestPlan {
  std::vector<DestSpec> add;
  std::vector<DestSpec> update;  // same address and port, new weight, forwarding method or tunnel
  std::vector<DestSpec> remove;
  bool empty() const { return add.empty() && update.empty() && remove.empty(); }
};

DestPlan plan_dests(const std::vector<DestSpec>& current, const std::vector<DestSpec>& desired);

// The canonical identity IPVS gives back for a key: a fwmark service has no port/protocol.
ServiceKey normalized(const ServiceKey& key);

}  // namespace xlb::dataplane::ipvs
