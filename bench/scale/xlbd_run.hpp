// xlbd itself at scale: a generated keepalived.conf, the time from exec until the maps hold
// every service and until the control socket answers `status`, a weight change through the
// control socket (as `xlbctl weight`) and through a reload, timed until the vips map points
// at the new ring, and the maps' memory. Runs in the calling network namespace.
#pragma once

#include <filesystem>
#include <string>

#include "bench/scale/common.hpp"

namespace xlb::bench::scale {

struct XlbdOptions {
  std::string scenario = "reals";
  std::filesystem::path xlbd;     // the binary
  std::filesystem::path xlbctl;   // optional: also time `xlbctl weight` as a process
  std::filesystem::path workdir;  // config, socket and log go here
  std::filesystem::path pin_dir;  // on a bpffs
  std::string interface = "eth0";
  std::uint32_t vips = 255;
  std::uint32_t reals_per_vip = 16;
  std::uint32_t reals = 1000;
  std::uint32_t flows = 0;  // flows scenario: fill this many, then restart xlbd over them
  int rounds = 3;           // starts and weight changes; the best is the figure
  double start_timeout_s = 120;
};

Json run_xlbd(const XlbdOptions& options);

}  // namespace xlb::bench::scale
