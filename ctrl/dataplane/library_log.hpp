// libbpf and libxdp print to stderr by default, before and between xlbd's own lines (a benign
// "skipping unrecognized data section", libxdp's dispatcher fallback). Routed through spdlog at
// debug level: xlbd says in its own words what failed or which attach mode it used, and -D shows
// the libraries' details (a verifier log, libxdp's reasons).
#pragma once

namespace xlb::dataplane {

void route_library_logs_to_spdlog();

}  // namespace xlb::dataplane
