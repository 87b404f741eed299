// xlbctl: the operator's command line. Talks to xlbd over its control socket; `list --stats`
// falls back to the pinned maps when xlbd is not running.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>

#include "ctrl/api/control_server.hpp"
#include "tools/xlbctl/capture_command.hpp"
#include "tools/xlbctl/listing.hpp"
#include "tools/xlbctl/pinned_stats.hpp"

namespace {

using xlb::ctl::Json;

Json call(const std::string& socket, const std::string& command, const Json& args) {
  Json reply = xlb::api::control_request(socket, command, args);
  if (!reply.value("ok", false)) {
    throw std::runtime_error(reply.value("error", std::string("request failed")));
  }
  return reply["result"];
}

// `list` and `persist` also work without xlbd: from the pinned maps, saying so on stderr.
template <class ReadPins>
Json from_xlbd_or_pins(const std::string& socket, const std::string& command, const std::string& pin_dir,
                       ReadPins read_pins) {
  try {
    return call(socket, command, Json::object());
  } catch (const std::exception& e) {
    std::error_code ec;
    if (!std::filesystem::is_directory(pin_dir, ec)) {
      throw std::runtime_error(std::string("xlbd is not running (") + e.what() + ") and there are no pinned maps under " +
                               pin_dir + " (--pin-dir): nothing to show");
    }
    std::cerr << "xlbctl: xlbd not reachable (" << e.what() << "); reading pinned maps in " << pin_dir << "\n";
    return read_pins(pin_dir);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xlbctl: inspect and steer a running xlbd"};
  app.require_subcommand(1);
  // `xlbctl status --json` as well as `xlbctl --json status`: a subcommand passes the options
  // it does not know (--json, --socket, --pin-dir) to the top level.
  app.fallthrough();
  std::string socket = "/run/xlb/xlbd.sock";
  std::string pin_dir = "/sys/fs/bpf/xlb";
  bool json = false;
  app.add_option("-s,--socket", socket, "xlbd control socket")->capture_default_str();
  app.add_option("--pin-dir", pin_dir, "pinned maps, read when xlbd is not running")->capture_default_str();
  app.add_flag("--json", json, "print the raw JSON reply");

  auto* status = app.add_subcommand("status", "VRRP instances, states and why");
  auto* list = app.add_subcommand("list", "virtual and real servers, as ipvsadm -Ln");
  bool stats = false, rate = false;
  list->add_flag("--stats", stats, "packet and byte counters");
  list->add_flag("--rate", rate, "rates over one second");
  auto* flows = app.add_subcommand("flows", "connection-table entries");
  std::string vip, client;
  flows->add_option("vip", vip, "only flows to this VIP");
  flows->add_option("--client", client, "only flows from this client address");
  auto* persist = app.add_subcommand("persist", "persistence-table entries (from the pinned maps when xlbd is down)");
  std::string real;
  unsigned weight = 0;
  auto* drain = app.add_subcommand("drain", "weight 0 for a real server (kept until the file says otherwise)");
  drain->add_option("real", real, "ADDR:PORT of the real server")->required();
  auto* undrain = app.add_subcommand("undrain", "give a drained real its configured weight back");
  undrain->add_option("real", real, "ADDR:PORT of the real server")->required();
  auto* set_weight = app.add_subcommand("weight", "set a real server's weight at run time");
  set_weight->add_option("real", real, "ADDR:PORT of the real server")->required();
  set_weight->add_option("weight", weight, "new weight")->required();
  auto* reload = app.add_subcommand("reload", "re-read the configuration (as SIGHUP)");
  bool allow_empty = false;
  reload->add_flag("--allow-empty", allow_empty,
                   "apply a file without any virtual_server or vrrp_instance (refused otherwise: it stops everything)");
  auto* withdraw = app.add_subcommand("withdraw", "remove every VIP route from vip_route_table (maintenance)");
  auto* announce = app.add_subcommand("announce", "lift `withdraw`: VIPs that can serve are routed again");
  auto* dump = app.add_subcommand("dump", "the daemon's whole state as JSON");
  auto* stop = app.add_subcommand("stop", "stop xlbd; the XDP program keeps forwarding unless --detach");
  bool detach = false;
  stop->add_flag("--detach", detach, "detach the XDP program and remove the pinned maps (drops every flow)");

  // Capture and trace read the program's capture ring from the pins, not through xlbd.
  xlb::ctl::CaptureRun capture_run;
  std::string write_to, trace_client;
  bool arrived = false;
  auto* capture = app.add_subcommand("capture", "copy the packets the XDP program decides, as pcapng, with its verdicts");
  capture->add_option("-w", write_to, "pcapng file to write, - for standard output")->required();
  capture->add_flag("--arrived", arrived, "also write each forwarded frame as it arrived (before the DR rewrite)");
  auto* trace = app.add_subcommand("trace", "one line per packet from a client: what the program decided and why");
  trace->add_option("client", trace_client, "CLIENT or CLIENT:PORT ([IPv6]:PORT)")->required();
  for (auto* cmd : {capture, trace}) {
    auto& f = capture_run.filter;
    cmd->add_option("--vip", f.vip, "only packets to ADDR or ADDR:PORT");
    cmd->add_option("--real", f.real, "only packets forwarded to this real server's ADDR");
    cmd->add_option("--count", capture_run.count, "stop after N packets");
    cmd->add_option("--duration", capture_run.duration, "stop after S seconds");
    cmd->add_option("--snaplen", f.snaplen, "bytes of each frame to copy")->capture_default_str();
    cmd->add_option("--sample", f.sample, "copy 1 of every N matching packets (per CPU): 1/N");
  }
  capture->add_option("--client", capture_run.filter.client, "only packets from ADDR or ADDR/LEN");
  capture->add_option("--verdict", capture_run.filter.verdict, "forwarded, dropped, passed or any (comma-separated)")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  if (capture->parsed() || trace->parsed()) {
    try {
      auto& run = capture_run;
      run.pin_dir = pin_dir;
      if (trace->parsed()) {
        run.filter.verdict = "any";
        if (run.count == 0 && run.duration == 0) run.count = 20;
      }
      // It stops by itself: without --count or --duration, after a minute.
      if (run.count == 0 && run.duration == 0) run.duration = 60;
      try {
        run.services = call(socket, "list", Json::object())["services"];
      } catch (const std::exception&) {  // weights then come from the ring's shares
      }
      return capture->parsed() ? xlb::ctl::run_capture(run, write_to, arrived)
                               : xlb::ctl::run_trace(run, trace_client);
    } catch (const std::exception& e) {
      std::cerr << "xlbctl: " << e.what() << "\n";
      return 1;
    }
  }
  try {
    if (list->parsed()) {
      const Json services = from_xlbd_or_pins(socket, "list", pin_dir, [](const std::string& dir) {
        return Json{{"services", xlb::ctl::read_pinned_services(dir)}};
      })["services"];
      if (json) {
        std::cout << services.dump(2) << "\n";
      } else if (rate) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        Json later;
        try {
          later = call(socket, "list", Json::object())["services"];
        } catch (const std::exception&) {
          later = xlb::ctl::read_pinned_services(pin_dir);
        }
        std::cout << xlb::ctl::format_listing(later, xlb::ctl::ListMode::rate, services, 1.0);
      } else {
        std::cout << xlb::ctl::format_listing(services, stats ? xlb::ctl::ListMode::stats : xlb::ctl::ListMode::plain);
      }
      return 0;
    }
    if (persist->parsed()) {
      const Json entries = from_xlbd_or_pins(socket, "persist", pin_dir, xlb::ctl::read_pinned_persistence);
      std::cout << (json ? entries.dump(2) + "\n" : xlb::ctl::format_persistence(entries));
      return 0;
    }
    Json result;
    if (status->parsed()) result = call(socket, "status", Json::object());
    if (flows->parsed()) result = call(socket, "flows", Json{{"vip", vip}, {"client", client}});
    if (drain->parsed()) result = call(socket, "weight", Json{{"real", real}, {"weight", 0}, {"drain", true}});
    if (undrain->parsed()) result = call(socket, "weight", Json{{"real", real}, {"undrain", true}});
    if (set_weight->parsed()) result = call(socket, "weight", Json{{"real", real}, {"weight", weight}});
    if (reload->parsed()) result = call(socket, "reload", Json{{"allow_empty", allow_empty}});
    if (withdraw->parsed()) result = call(socket, "withdraw", Json::object());
    if (announce->parsed()) result = call(socket, "announce", Json::object());
    if (dump->parsed()) json = true, result = call(socket, "dump", Json::object());
    if (stop->parsed()) result = call(socket, "stop", Json{{"detach", detach}});
    if (json) {
      std::cout << result.dump(2) << "\n";
    } else if (status->parsed()) {
      std::cout << xlb::ctl::format_status(result);
    } else if (flows->parsed()) {
      std::cout << xlb::ctl::format_flows(result);
    } else if (withdraw->parsed() || announce->parsed()) {
      std::cout << xlb::ctl::format_announce(result);
    } else {
      std::cout << (result.is_string() ? result.get<std::string>() : result.dump()) << "\n";
    }
  } catch (const xlb::api::DaemonNotRunning& e) {
    std::cerr << "xlbctl: " << e.what() << "\n"
              << "xlbctl: xlbd does not seem to be running (or it listens elsewhere: --socket PATH). Without it,\n"
              << "        `xlbctl list`, `list --stats` and `persist` read the pinned maps (--pin-dir " << pin_dir
              << ").\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "xlbctl: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
