// The two facts about an interface that the generator and the target need.
#pragma once

#include <string>

#include "options.hpp"

namespace xlb::pktgen {

MacAddress device_mac(const std::string& device);  // throws std::system_error
int device_index(const std::string& device);        // throws std::system_error
unsigned device_mtu(const std::string& device);      // throws std::system_error

}  // namespace xlb::pktgen
