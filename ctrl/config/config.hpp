// The configuration subsystem's entry point: read a keepalived-dialect file (with its
// includes), build the typed model, validate it, and return every problem found.
//
//   xlb::config::LinuxSystemProbe probe;
//   auto r = xlb::config::load_file(path, {.mode = Mode::config_test, .probe = &probe});
//   xlb::config::print_diagnostics(std::cerr, r.diagnostics);
//   return r.ok() ? 0 : 1;
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ctrl/config/diagnostics.hpp"
#include "ctrl/config/keywords.hpp"
#include "ctrl/config/model.hpp"
#include "ctrl/config/source.hpp"
#include "ctrl/config/system_probe.hpp"

namespace xlb::config {

enum class Mode {
  config_test,  // xlbd -t: what this machine lacks is a warning
  start,        // xlbd starting: what this machine lacks is an error
};

struct Options {
  Mode mode = Mode::config_test;
  const SystemProbe* probe = nullptr;  // null: skip the checks that need the machine
  SourceLimits limits{};
  std::string sync_key_file = "/etc/xlb/sync.key";  // lvs_sync_daemon's key, as xlbd will read it
};

struct LoadResult {
  Config config;
  std::vector<Diagnostic> diagnostics;  // in the order found
  bool ok() const;                      // no errors (warnings allowed)
  std::size_t error_count() const;
  std::size_t warning_count() const;
  std::size_t machine_count() const;  // what this machine lacks (warnings under -t, errors at start)
};

LoadResult load_file(const std::string& path, const Options& options = {});
// For tests and tools: `name` stands in for the file name in diagnostics; includes resolve
// against its folder.
LoadResult load_string(std::string_view text, const std::string& name, const Options& options = {});

// Checks that need the whole model (and, through options.probe, the machine).
void validate(const Config& cfg, const Options& options, Diagnostics& diags);

}  // namespace xlb::config

namespace xlb::config {

// `xlbd -t`: loads `path` with this machine's LinuxSystemProbe in config_test mode (what the
// machine lacks is a warning), prints every problem to `out` in GNU form, and returns the
// process exit status: 0 when there is no error, 1 otherwise.
int run_config_test(const std::string& path, std::ostream& out);

}  // namespace xlb::config
