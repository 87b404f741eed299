#include "bench/scale/tables.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "bench/scale/census.hpp"
#include "bench/scale/flow_fill.hpp"
#include "bench/scale/scenario_model.hpp"
#include "ctrl/dataplane/map_codec.hpp"
#include "ctrl/dataplane/xdp_backend.hpp"

namespace xlb::bench::scale {

namespace dp = xlb::dataplane;

Scenario parse_scenario(const std::string& name) {
  if (name == "flows") return Scenario::flows;
  if (name == "vips") return Scenario::vips;
  if (name == "reals") return Scenario::reals;
  throw std::invalid_argument("unknown scenario " + name + " (flows, vips, reals)");
}

const char* to_string(Scenario s) {
  switch (s) {
    case Scenario::flows: return "flows";
    case Scenario::vips: return "vips";
    case Scenario::reals: return "reals";
  }
  return "?";
}

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

dp::BpfSizes sizes_for(const TablesOptions& o) {
  dp::BpfSizes s;  // xlbd's defaults, grown where the scenario needs more
  switch (o.scenario) {
    case Scenario::flows:
      // Per-CPU LRU lists each get max_entries / possible CPUs; the next power of two above
      // the flow count keeps every CPU's share from evicting during the fill.
      s.max_flows = 1;
      while (s.max_flows < o.flows) s.max_flows <<= 1;
      break;
    case Scenario::vips:
      s.max_vips = std::max(s.max_vips, o.vips);
      s.max_reals = std::max(s.max_reals, o.vips * o.reals_per_vip + 1);
      break;
    case Scenario::reals:
      s.max_reals = std::max(s.max_reals, o.reals + 1);
      break;
  }
  return s;
}

}  // namespace

Json run_tables(const TablesOptions& o) {
  const auto services = scenario_services(to_string(o.scenario), o.vips, o.reals_per_vip, o.reals);
  boost::asio::io_context io;
  dp::XdpBackendOptions options;
  options.program.pin_dir = o.pin_dir;
  options.program.sizes = sizes_for(o);
  options.interfaces = {o.interface};
  options.neighbour_refresh = std::chrono::seconds(0);

  auto t0 = std::chrono::steady_clock::now();
  dp::XdpBackend backend(io, options);
  const double load_ms = ms_since(t0);
  backend.set_detach_on_exit(true);

  t0 = std::chrono::steady_clock::now();
  for (const auto& s : services) backend.apply(s);
  const double apply_ms = ms_since(t0);

  auto& program = backend.program();
  Json out{{"scenario", to_string(o.scenario)},
           {"services", services.size()},
           {"reals_total", [&] {
              std::size_t n = 0;
              for (const auto& s : services) n += s.reals.size();
              return n;
            }()},
           {"sizes",
            {{"max_vips", options.program.sizes.max_vips},
             {"max_reals", options.program.sizes.max_reals},
             {"max_flows", options.program.sizes.max_flows},
             {"ring_size", options.program.sizes.ring_size}}},
           {"load_attach_ms", load_ms},
           {"apply_all_ms", apply_ms}};

  if (o.scenario == Scenario::flows) {
    std::vector<std::uint32_t> real_ids;
    for (std::uint32_t id = 1; id <= services.front().reals.size(); ++id) real_ids.push_back(id);
    const auto key = dp::to_vip_key(services.front().key);
    const auto info = program.vips().lookup<xlb_vip_key, xlb_vip_info>(key);
    if (!info) throw std::runtime_error("the flows scenario's VIP is not in the vips map");
    const auto fill = fill_flows(program.flows().fd(), o.flows, key.addr[0], services.front().key.port, info->vip_id,
                                 real_ids);
    const auto count = program.flows().count<xlb_flow_key, xlb_flow>();
    t0 = std::chrono::steady_clock::now();
    const auto listed = backend.flows().size();
    out["flows"] = {{"inserted", fill.inserted},
                    {"fill_seconds", fill.seconds},
                    {"in_table", count},
                    {"listed_by_backend", listed},
                    {"list_all_ms", ms_since(t0)}};
    out["census"] = measure_census(backend, 3);
  }

  // One real's weight, changed back and forth: apply() returns once the new ring half is
  // written and the vips entry points at it. That switch is checked in the map itself.
  std::vector<double> changes;
  auto spec = services.back();
  const auto vip_key = dp::to_vip_key(spec.key);
  for (int i = 0; i < o.weight_changes; ++i) {
    const auto before = program.vips().lookup<xlb_vip_key, xlb_vip_info>(vip_key);
    spec.reals.front().weight = spec.reals.front().weight == 1 ? 3 : 1;
    t0 = std::chrono::steady_clock::now();
    backend.apply(spec);
    changes.push_back(ms_since(t0));
    const auto after = program.vips().lookup<xlb_vip_key, xlb_vip_info>(vip_key);
    if (!before || !after || before->ring_slot == after->ring_slot) {
      throw std::runtime_error("weight change: the vips entry did not switch ring halves");
    }
  }
  out["weight_change_ms"] = changes;
  out["weight_change_median_ms"] = median(changes);

  t0 = std::chrono::steady_clock::now();
  const auto stats = backend.stats();
  out["stats_read_ms"] = ms_since(t0);
  out["memory"] = to_json(pinned_map_memory(program.pin_dir()));
  backend.program().unpin();
  return out;
}

}  // namespace xlb::bench::scale
