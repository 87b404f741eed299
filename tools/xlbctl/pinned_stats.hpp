// Reads the service table and its counters straight from the pinned BPF maps, for when xlbd
// is not running (the XDP program keeps forwarding without it).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace xlb::ctl {

// The same "services" array shape that xlbd's `list` returns.
nlohmann::json read_pinned_services(const std::string& pin_dir);

// Entries of the persistence table: client (masked by persistence_granularity), the virtual
// service, the real it sticks to, and seconds since its last new connection.
nlohmann::json read_pinned_persistence(const std::string& pin_dir);

}  // namespace xlb::ctl
