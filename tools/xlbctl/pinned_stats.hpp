// Reads the service table and its counters straight from the pinned BPF maps, for when xlbd
// is not running (the XDP program keeps forwarding without it).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace xlb::ctl {

// The same "services" array shape that xlbd's `list` returns.
nlohmann::json read_pinned_services(const std::string& pin_dir);

}  // namespace xlb::ctl
