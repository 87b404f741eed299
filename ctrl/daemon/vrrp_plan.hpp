// VRRP settings from the configuration, in the VRRP subsystem's own terms.
#pragma once

#include <set>

#include "ctrl/config/model.hpp"
#include "ctrl/dataplane/backend.hpp"
#include "ctrl/vrrp/settings.hpp"

namespace xlb::daemon {

vrrp::RouterSettings plan_vrrp(const config::Config& config);

// Every address some instance announces (the VIPs whose dataplane entries follow VRRP).
std::set<dataplane::IpAddress> vrrp_addresses(const vrrp::RouterSettings& settings);

}  // namespace xlb::daemon
