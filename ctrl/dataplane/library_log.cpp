#include "ctrl/dataplane/library_log.hpp"

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include <cstdarg>
#include <cstdio>
#include <string>

#include <spdlog/spdlog.h>

namespace xlb::dataplane {
namespace {

void log_line(const char* library, const char* format, va_list args) {
  char buf[1024];
  std::vsnprintf(buf, sizeof(buf), format, args);
  std::string line(buf);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  if (!line.empty()) spdlog::debug("{}: {}", library, line);
}

int from_libbpf(enum libbpf_print_level level, const char* format, va_list args) {
  if (level != LIBBPF_DEBUG) log_line("libbpf", format, args);
  return 0;
}

int from_libxdp(enum libxdp_print_level level, const char* format, va_list args) {
  if (level != LIBXDP_DEBUG) log_line("libxdp", format, args);
  return 0;
}

}  // namespace

void route_library_logs_to_spdlog() {
  libbpf_set_print(from_libbpf);
  libxdp_set_print(from_libxdp);
}

}  // namespace xlb::dataplane
