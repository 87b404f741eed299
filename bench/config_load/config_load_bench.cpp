// Peak memory and time of loading a generated keepalived.conf of N virtual servers, each in a
// fresh child process (ru_maxrss is a process's high-water mark). The baseline, measured in
// the same run, is a file of one virtual server: the figures per service are the difference.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "ctrl/config/config.hpp"

namespace {

namespace fs = std::filesystem;

// The shape of the users' block: wrr, DR, persistence, one HTTP_GET real and a TCP one.
void write_config(const fs::path& path, std::size_t services) {
  std::ofstream out(path);
  out << "global_defs {\n  router_id lb1\n  xdp_max_services 65535\n}\n";
  for (std::size_t i = 0; i < services; ++i) {
    const std::size_t a = i / 65536, b = (i / 256) % 256, c = i % 256;
    out << "virtual_server 198." << 18 + a << '.' << b << '.' << c << " 80 {\n"
        << "  delay_loop 6\n  lb_algo wrr\n  lb_kind DR\n  persistence_timeout 50\n  protocol TCP\n"
        << "  real_server 198.19.255.1 80 {\n    weight 3\n    HTTP_GET {\n      url {\n        path /\n"
        << "        status_code 200\n      }\n      connect_timeout 3\n    }\n  }\n"
        << "  real_server 198.19.255.2 80 {\n    weight 1\n    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n"
        << "}\n";
  }
}

struct Sample {
  std::size_t services = 0;
  std::uintmax_t file_bytes = 0;
  long peak_kib = 0;
  double seconds = 0;
  bool ok = false;
};

Sample measure(const fs::path& dir, std::size_t services) {
  Sample s;
  s.services = services;
  const fs::path file = dir / ("bench-" + std::to_string(services) + ".conf");
  write_config(file, services);
  s.file_bytes = fs::file_size(file);
  int report[2];
  if (::pipe(report) != 0) return s;
  const auto begun = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(report[0]);
    const auto loaded = xlb::config::load_file(file.string(), {});
    const char ok = loaded.config.virtual_servers.size() == services ? 1 : 0;
    if (!ok) xlb::config::print_diagnostics(std::cerr, loaded.diagnostics);
    (void)!::write(report[1], &ok, 1);
    ::_exit(0);
  }
  ::close(report[1]);
  char ok = 0;
  (void)!::read(report[0], &ok, 1);
  ::close(report[0]);
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begun).count();
  s.peak_kib = usage.ru_maxrss;
  s.ok = ok == 1 && WIFEXITED(status);
  fs::remove(file);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xlb-bench-config-load: peak memory and time of loading N virtual servers"};
  std::vector<std::size_t> sizes{1000, 10000, 100000};
  std::string json_path;
  std::string dir = fs::temp_directory_path().string();
  app.add_option("--services", sizes, "sizes to load (virtual servers)")->capture_default_str();
  app.add_option("--dir", dir, "where the generated files go")->capture_default_str();
  app.add_option("--json", json_path, "write the results here");
  CLI11_PARSE(app, argc, argv);

  const Sample base = measure(dir, 1);
  if (!base.ok) {
    std::cerr << "the one-service baseline did not load\n";
    return 1;
  }
  std::printf("baseline: 1 virtual server, peak RSS %ld KiB, %.3f s\n", base.peak_kib, base.seconds);
  std::printf("%10s %12s %12s %14s %14s %12s\n", "services", "file MiB", "peak MiB", "B/service", "mem/file", "us/service");
  nlohmann::json out{{"baseline_peak_kib", base.peak_kib}, {"sizes", nlohmann::json::array()}};
  bool all_ok = true;
  for (const auto n : sizes) {
    const Sample s = measure(dir, n);
    all_ok = all_ok && s.ok;
    const double per_service = (static_cast<double>(s.peak_kib - base.peak_kib) * 1024.0) / static_cast<double>(n);
    const double file_per_service = static_cast<double>(s.file_bytes) / static_cast<double>(n);
    const double us = (s.seconds - base.seconds) * 1e6 / static_cast<double>(n);
    std::printf("%10zu %12.1f %12.1f %14.0f %13.1fx %12.2f%s\n", n, static_cast<double>(s.file_bytes) / (1 << 20),
                static_cast<double>(s.peak_kib) / 1024.0, per_service, per_service / file_per_service, us,
                s.ok ? "" : "  (did not load)");
    out["sizes"].push_back({{"services", n},
                            {"file_bytes", s.file_bytes},
                            {"peak_kib", s.peak_kib},
                            {"bytes_per_service", per_service},
                            {"memory_per_file_byte", per_service / file_per_service},
                            {"us_per_service", us},
                            {"ok", s.ok}});
  }
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  return all_ok ? 0 : 1;
}
