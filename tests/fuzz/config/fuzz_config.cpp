// libFuzzer target: any byte string given to the configuration loader must produce a model
// and diagnostics, never a crash, a sanitizer report or a hang. Includes are disabled so that
// the fuzzer cannot walk the file system; the include code is covered by the unit tests.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <sstream>

#include "ctrl/config/config.hpp"
#include "ctrl/config/writer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  xlb::config::Options opt;
  opt.limits.allow_include = false;
  opt.limits.max_file_bytes = 1u << 16;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto r = xlb::config::load_string(text, "fuzz.conf", opt);
  // Exercise the parts xlbd uses after loading: printing and the reload comparison.
  std::size_t chars = 0;
  for (const auto& d : r.diagnostics) chars += to_string(d).size();
  const bool same = r.config == r.config;
  if (!same || (r.ok() && r.error_count() != 0)) __builtin_trap();
  for (const auto& vs : r.config.virtual_servers) (void)effective_backend(vs, r.config.global_defs);
  // An accepted configuration, written out and read again, must give the same model.
  if (r.ok()) {
    std::ostringstream written;
    xlb::config::write_config(written, r.config);
    const auto again = xlb::config::load_string(written.str(), "written.conf", opt);
    if (!again.ok() || !(again.config == r.config)) __builtin_trap();
  }
  return chars == static_cast<std::size_t>(-1) ? 1 : 0;
}
