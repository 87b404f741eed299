// xlb-bench-scale: table scale of the XDP balancer (bench/scale/run.sh drives it).
//   packet  ns/packet with a full connection table vs a 1-flow table (BPF_PROG_TEST_RUN)
//   tables  a scenario through XdpBackend with maps sized for it: load, apply, weight change,
//           memory (in the namespace that has the interface)
//   xlbd    a scenario through xlbd: start time, weight change, reload, memory, restart
//           over a full flow table
//   conf    print a scenario's keepalived.conf
// Each writes one JSON document to --json (or stdout).
#include <cstdio>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "bench/scale/packet_scale.hpp"
#include "bench/scale/scenario_model.hpp"
#include "bench/scale/tables.hpp"
#include "bench/scale/xlbd_run.hpp"

namespace {

void emit(const xlb::bench::scale::Json& doc, const std::string& path) {
  if (path.empty()) {
    std::cout << doc.dump(2) << "\n";
    return;
  }
  std::ofstream out(path);
  out << doc.dump(2) << "\n";
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace

int main(int argc, char** argv) {
  namespace s = xlb::bench::scale;
  CLI::App app{"xlb-bench-scale: table scale of the XDP balancer"};
  app.require_subcommand(1);
  std::string json_path;
  app.add_option("--json", json_path, "write the result here (default: stdout)");

  s::PacketScaleOptions po;
  auto* packet = app.add_subcommand("packet", "ns/packet with a full vs a 1-flow connection table");
  packet->add_option("--flows", po.max_flows, "table size, filled completely")->capture_default_str();
  packet->add_option("--repeat", po.repeat)->capture_default_str();
  packet->add_option("--distinct", po.distinct)->capture_default_str();
  packet->add_option("--rounds", po.rounds)->capture_default_str();

  s::TablesOptions to;
  std::string scenario = "reals";
  auto* tables = app.add_subcommand("tables", "a scenario through XdpBackend");
  tables->add_option("--scenario", scenario, "flows | vips | reals")->capture_default_str();
  tables->add_option("--interface", to.interface)->capture_default_str();
  tables->add_option("--pin-dir", to.pin_dir)->required();
  tables->add_option("--flows", to.flows)->capture_default_str();
  tables->add_option("--vips", to.vips)->capture_default_str();
  tables->add_option("--reals-per-vip", to.reals_per_vip)->capture_default_str();
  tables->add_option("--reals", to.reals)->capture_default_str();

  s::XlbdOptions xo;
  auto* xlbd = app.add_subcommand("xlbd", "a scenario through xlbd");
  xlbd->add_option("--scenario", xo.scenario)->capture_default_str();
  xlbd->add_option("--xlbd", xo.xlbd)->required();
  xlbd->add_option("--xlbctl", xo.xlbctl, "also time `xlbctl weight` (a process per change)");
  xlbd->add_option("--workdir", xo.workdir)->required();
  xlbd->add_option("--pin-dir", xo.pin_dir)->required();
  xlbd->add_option("--interface", xo.interface)->capture_default_str();
  xlbd->add_option("--vips", xo.vips)->capture_default_str();
  xlbd->add_option("--reals-per-vip", xo.reals_per_vip)->capture_default_str();
  xlbd->add_option("--reals", xo.reals)->capture_default_str();
  xlbd->add_option("--flows", xo.flows, "flows scenario: fill this many and restart over them")->capture_default_str();
  xlbd->add_option("--rounds", xo.rounds)->capture_default_str();

  auto* conf = app.add_subcommand("conf", "print a scenario's keepalived.conf");
  conf->add_option("--scenario", scenario)->capture_default_str();
  conf->add_option("--vips", to.vips)->capture_default_str();
  conf->add_option("--reals-per-vip", to.reals_per_vip)->capture_default_str();
  conf->add_option("--reals", to.reals)->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  try {
    if (packet->parsed()) emit(s::run_packet_scale(po), json_path);
    if (tables->parsed()) {
      to.scenario = s::parse_scenario(scenario);
      emit(s::run_tables(to), json_path);
    }
    if (xlbd->parsed()) emit(s::run_xlbd(xo), json_path);
    if (conf->parsed()) {
      std::cout << s::keepalived_conf(s::scenario_services(scenario, to.vips, to.reals_per_vip, to.reals));
    }
  } catch (const std::exception& e) {
    std::cerr << "xlb-bench-scale: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
