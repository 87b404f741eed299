// xlbd: keepalived's configuration and VRRP, with an XDP program forwarding in DR mode.
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "ctrl/config/config.hpp"
#include "ctrl/daemon/daemon.hpp"
#include "ctrl/dataplane/library_log.hpp"

namespace {

// journald reads stderr line by line and keeps its own timestamps; a terminal wants them.
void setup_logging(bool verbose) {
  auto logger = spdlog::stderr_color_mt("xlbd");
  if (std::getenv("JOURNAL_STREAM") != nullptr || std::getenv("INVOCATION_ID") != nullptr) {
    logger->set_pattern("%l: %v");
  } else {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$: %v");
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xlbd: high-availability layer-4 load balancer (keepalived dialect, XDP dataplane)"};
  xlb::daemon::DaemonOptions options;
  bool config_test = false;
  bool strict = false;
  bool verbose = false;
  std::string pin_dir;
  app.add_option("-f,--use-file", options.config_path, "configuration file")->capture_default_str();
  app.add_flag("-t,--config-test", config_test, "check the configuration, print every problem, exit 0 or 1");
  app.add_flag("--strict", strict,
               "with -t: exit 1 also when this machine lacks what the file needs (xlbd would not start here)");
  app.add_option("-i,--interface", options.interfaces, "attach XDP here (repeatable; default: from the configuration)");
  app.add_option("--pin-dir", pin_dir, "bpffs directory for the pinned maps (default: xdp_pin_dir, /sys/fs/bpf/xlb)");
  app.add_option("--socket", options.socket_path, "control socket for xlbctl")->capture_default_str();
  app.add_option("--socket-group", options.socket_group, "group that may use the control socket (default: root only)");
  app.add_option("-p,--pid-file", options.pid_file, "write the pid here");
  app.add_option("--dump-file", options.dump_file, "where SIGUSR1 writes the state as JSON")->capture_default_str();
  app.add_flag("--detach-on-exit", options.detach_on_exit,
               "on SIGTERM detach the XDP program and remove the pins (default: keep forwarding)");
  app.add_option("--sync-key-file", options.sync_key_file,
                 "lvs_sync_daemon HMAC secret (default: the instance's auth_pass if this file is absent)")
      ->capture_default_str();
  app.add_option("--sync-rate", options.sync_rate,
                 "lvs_sync_daemon send budget in datagrams per second (20 entries each); a new master's table "
                 "and big refreshes are paced to it")
      ->capture_default_str()
      ->check(CLI::Range(1u, 10'000'000u));
  app.add_flag("-D,--verbose", verbose, "debug logging");
  CLI11_PARSE(app, argc, argv);
  if (!pin_dir.empty()) options.pin_dir = pin_dir;

  if (config_test) {
    xlb::config::LinuxSystemProbe probe;
    const auto result = xlb::config::load_file(
        options.config_path,
        {.mode = xlb::config::Mode::config_test, .probe = &probe, .sync_key_file = options.sync_key_file});
    xlb::config::print_diagnostics(std::cerr, result.diagnostics);
    std::cerr << options.config_path << ": " << result.error_count() << " error(s), " << result.warning_count()
              << " warning(s)\n";
    // Interfaces and adjacency are warnings here, so that a file can be checked away from its
    // node; say plainly that start would fail on this one.
    if (const auto lacking = result.machine_count(); lacking > 0) {
      std::cerr << options.config_path << ": would not start on this machine: " << lacking << " problem(s)"
                << (strict ? "" : " (--strict makes this exit 1)") << "\n";
      if (strict) return 1;
    }
    return result.ok() ? 0 : 1;
  }

  setup_logging(verbose);
  xlb::dataplane::route_library_logs_to_spdlog();
  try {
    boost::asio::io_context io;
    xlb::daemon::Daemon daemon(io, options);
    daemon.start();
    io.run();
    spdlog::info("xlbd stopped");
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  return 0;
}
