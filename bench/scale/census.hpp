// The flow census at scale: Backend::count_flows (by ids) beside the count it replaced
// (every entry as a Flow object, then counted), on the same full table: walk time and how far
// the walk raises the process's resident memory above where it started; and a walk that does
// nothing per entry (the kernel's batch reads alone) as the floor.
#pragma once

#include "bench/scale/common.hpp"
#include "ctrl/dataplane/xdp_backend.hpp"

namespace xlb::bench::scale {

Json measure_census(dataplane::XdpBackend& backend, int rounds);

}  // namespace xlb::bench::scale
