// Reading IPVS connection entries from /proc/net/ip_vs_conn.
#pragma once

#include <istream>
#include <vector>

#include "ctrl/dataplane/backend.hpp"

namespace xlb::dataplane::ipvs {

// Parses the text of /proc/net/ip_vs_conn. Persistence templates (client port 0, shown with
// the service's protocol or "IP") and lines that do not parse are left out. IPVS does not expose a flow's age or idle time, so both
// stay zero; `expires_s` of the line is the time left before IPVS forgets the flow.
struct ConnEntry {
  Flow flow;
  std::uint32_t expires_s = 0;
  std::string state;
};
std::vector<ConnEntry> parse_ip_vs_conn(std::istream& in);

}  // namespace xlb::dataplane::ipvs
