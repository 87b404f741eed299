// Writes a model back in keepalived's dialect, every value explicit (defaults included), so
// that an operator can see the configuration xlbd actually runs (`xlbd -t -p` style) and so
// that tests can check that reading what was written gives the same model.
#pragma once

#include <ostream>

#include "ctrl/config/model.hpp"

namespace xlb::config {

void write_config(std::ostream& out, const Config& cfg);

}  // namespace xlb::config
