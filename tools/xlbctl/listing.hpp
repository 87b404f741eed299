// ipvsadm -Ln style listings of the daemon's JSON service table, so that operators keep
// their habits: the same columns, the same order, the same widths.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace xlb::ctl {

using Json = nlohmann::json;

enum class ListMode { plain, stats, rate };

// `services` is the "services" array that `xlbctl list` receives from xlbd (or builds from
// the pinned maps). `previous` and `seconds` are used by ListMode::rate only.
std::string format_listing(const Json& services, ListMode mode, const Json& previous = Json(),
                           double seconds = 1.0);

// vip_route_table: the table, and each VIP announced or not, why and since when.
std::string format_announce(const Json& announce);
std::string format_status(const Json& status);
std::string format_flows(const Json& flows);
std::string format_persistence(const Json& entries);

}  // namespace xlb::ctl
