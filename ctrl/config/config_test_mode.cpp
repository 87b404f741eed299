#include <ostream>

#include "ctrl/config/config.hpp"

namespace xlb::config {

int run_config_test(const std::string& path, std::ostream& out) {
  const LinuxSystemProbe probe;
  const LoadResult r = load_file(path, Options{Mode::config_test, &probe, {}});
  print_diagnostics(out, r.diagnostics);
  return r.ok() ? 0 : 1;
}

}  // namespace xlb::config
