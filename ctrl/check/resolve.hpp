// Fills a check's inherited settings from its real and virtual server, and names the probe so
// that identical probes requested by several virtual servers run once.
#pragma once

#include <string>

#include "ctrl/check/settings.hpp"

namespace xlb::check {

// Every optional that the probes and the checker loop read is set in the result.
CheckSettings resolve_check(const CheckSettings& check, const RealSettings& real,
                            const VirtualServerSettings& vs);

// Equal strings <=> the same probe with the same schedule and start state.
std::string probe_identity(const CheckSettings& resolved, bool start_up);

}  // namespace xlb::check
