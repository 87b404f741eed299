// Health-check settings from the configuration: every planned service with its real servers'
// checkers, in the checker subsystem's own terms.
#pragma once

#include <vector>

#include "ctrl/check/settings.hpp"
#include "ctrl/daemon/service_plan.hpp"

namespace xlb::daemon {

std::vector<check::VirtualServerSettings> plan_checks(const std::vector<PlannedService>& services);

}  // namespace xlb::daemon
