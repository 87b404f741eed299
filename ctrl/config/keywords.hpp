// What xlb does with each keyword it knows; the reference documentation is checked against it.
#pragma once

#include <string>
#include <vector>

namespace xlb::config {

enum class Support {
  supported,  // parsed into the model and acted on
  warned,     // accepted with a warning: xlb does not implement it, it has no effect
  refused,    // an error: ignoring it would change what the configuration means
};

struct KeywordInfo {
  std::string section;  // "global_defs", "vrrp_instance", ... ("top" for top-level blocks)
  std::string name;
  Support support = Support::supported;
  std::string default_text;
  bool xlb_specific = false;
  std::string note;
  // Its shape, so that a test can write a statement the parser accepts up to the status check.
  bool block = false;
  unsigned min_args = 0;
};

// Every keyword of every section, in table order.
std::vector<KeywordInfo> keyword_reference();

}  // namespace xlb::config
