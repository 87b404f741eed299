// Table scale through the control plane's own XdpBackend, in the calling network namespace:
// maps sized for the scenario, every service applied, one weight changed, the maps' memory.
// xlbd's table sizes are fixed (BpfSizes defaults), so this is where the sizes beyond them
// are measured.
#pragma once

#include <string>

#include "bench/scale/common.hpp"

namespace xlb::bench::scale {

enum class Scenario { flows, vips, reals };
Scenario parse_scenario(const std::string& name);
const char* to_string(Scenario s);

struct TablesOptions {
  Scenario scenario = Scenario::reals;
  std::string interface = "eth0";  // the balancer is attached here; reals are on its link
  std::string pin_dir;             // on a bpffs; emptied by the caller
  std::uint32_t flows = 1000000;
  std::uint32_t vips = 10000;
  std::uint32_t reals_per_vip = 16;
  std::uint32_t reals = 1000;
  int weight_changes = 5;
};

Json run_tables(const TablesOptions& options);

}  // namespace xlb::bench::scale
