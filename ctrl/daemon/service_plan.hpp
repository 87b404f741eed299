// The desired dataplane, derived from the configuration alone: every virtual server as the
// backend's ServiceSpec, with all real servers at their configured weights. Health verdicts
// and VRRP ownership are applied on top of this by the daemon.
#pragma once

#include <string>
#include <vector>

#include "ctrl/config/model.hpp"
#include "ctrl/dataplane/backend.hpp"

namespace xlb::daemon {

struct PlannedService {
  dataplane::ServiceSpec spec;
  const config::VirtualServer* source = nullptr;  // points into the Config it came from
  config::LbBackend backend = config::LbBackend::xdp;
};

dataplane::IpAddress to_asio(const config::IpAddr& address);
config::IpAddr from_asio(const dataplane::IpAddress& address);

// One entry per (virtual server, expanded address); virtual_server_group ranges expand into
// one service each. Throws std::invalid_argument for a scheduler the model cannot express.
std::vector<PlannedService> plan_services(const config::Config& config);

// The VRRP instance whose virtual_ipaddress holds this address, or nullptr (always active).
const config::VrrpInstance* owning_instance(const config::Config& config,
                                            const dataplane::IpAddress& vip);

std::string describe(const dataplane::ServiceKey& key);

}  // namespace xlb::daemon
