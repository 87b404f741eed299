#include "tools/xlbctl/pinned_stats.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <netinet/in.h>

#include <filesystem>
#include <map>

#include "ctrl/dataplane/map_values.hpp"
#include "ctrl/dataplane/pending_traffic.hpp"
#include "ctrl/dataplane/pinned_map.hpp"
#include "ctrl/dataplane/ring_codec.hpp"
#include "xlb/xlb_abi.h"

namespace xlb::ctl {

namespace {


// A pinned map of pin_dir as a typed view; the PinnedMap owns the fd and must outlive it.
// The forwarding method as ipvsadm -Ln names it, from the real's flags in the shared ABI.
const char* forward_name(__u32 real_flags) {
  if (real_flags & XLB_REAL_F_TUNNEL) return "Tunnel";
  if (real_flags & XLB_REAL_F_LOCAL) return "Local";
  return "Route";
}

dataplane::BpfMap view_of(const dataplane::PinnedMap& map) { return dataplane::BpfMap(map.required_fd()); }

nlohmann::json stats_json(const xlb_traffic_stats& s) {
  return {{"conns", s.new_flows}, {"packets", s.packets}, {"bytes", s.bytes}};
}

}  // namespace

nlohmann::json read_pinned_services(const std::string& pin_dir) {
  const std::filesystem::path dir(pin_dir);
  const dataplane::PinnedMap vips_pin(dir / "vips"), ring(dir / "ring"), reals_pin(dir / "reals"),
      vip_stats_pin(dir / "vip_stats"), real_stats_pin(dir / "real_stats"), settings_pin(dir / "settings"),
      flow_cache_pin(dir / "flow_cache"), vip_state_pin(dir / "vip_state");
  const auto vips = view_of(vips_pin), reals = view_of(reals_pin), vip_stats = view_of(vip_stats_pin),
             real_stats = view_of(real_stats_pin);
  const dataplane::PendingTraffic pending(view_of(flow_cache_pin), view_of(vip_state_pin), reals);
  const auto cfg = view_of(settings_pin).lookup<__u32, xlb_settings>(0).value_or(xlb_settings{});

  nlohmann::json services = nlohmann::json::array();
  vips.for_each_entry<xlb_vip_key, xlb_vip_info>([&](const xlb_vip_key& key, const xlb_vip_info& info) {
    nlohmann::json svc{{"protocol", key.proto == IPPROTO_UDP ? "UDP" : "TCP"},
                       {"address", dataplane::address_text(key.addr, key.family)},
                       {"port", ntohs(key.port)},
                       {"scheduler", dataplane::sched_name(info.sched)},
                       {"persistence", info.persist_timeout},
                       {"active", (info.flags & XLB_VIP_F_ACTIVE) != 0},
                       {"stats", stats_json(dataplane::sum_traffic(vip_stats, info.vip_id, pending.vip(info.vip_id)))}};
    // The live ring half lists the reals with their share; weights are the share counts.
    std::map<__u32, unsigned> share;
    if (cfg.ring_size != 0) {
      const dataplane::RingLayout layout(cfg.ring_size);
      for (const __u32 id : layout.read_half(ring.required_fd(), info.vip_id, info.ring_slot, info.ring_len)) {
        if (id != 0) ++share[id];
      }
    }
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [real_id, count] : share) {
      const auto real = reals.lookup<__u32, xlb_real>(real_id);
      if (!real) continue;
      list.push_back({{"address", dataplane::address_text(real->addr, real->family)},
                      {"port", ntohs(key.port)},
                      {"forward", forward_name(real->flags)},
                      {"weight", count},
                      {"health", "unknown"},
                      {"stats", stats_json(dataplane::sum_traffic(real_stats, real_id, pending.real(real_id)))}});
    }
    svc["reals"] = list;
    services.push_back(svc);
  });
  return services;
}

nlohmann::json read_pinned_persistence(const std::string& pin_dir) {
  const std::filesystem::path dir(pin_dir);
  const dataplane::PinnedMap vips_pin(dir / "vips"), reals_pin(dir / "reals"), persist_pin(dir / "persist");
  const auto reals = view_of(reals_pin);
  // The persist key names its service by vip_id only; the vips map says which VIP that is.
  std::map<__u32, xlb_vip_key> services;
  view_of(vips_pin).for_each_entry<xlb_vip_key, xlb_vip_info>(
      [&](const xlb_vip_key& key, const xlb_vip_info& info) { services[info.vip_id] = key; });
  const double now = static_cast<double>(dataplane::monotonic_ns()) / 1e9;

  nlohmann::json out = nlohmann::json::array();
  view_of(persist_pin).for_each_entry<xlb_persist_key, xlb_persist>([&](const xlb_persist_key& key,
                                                                         const xlb_persist& value) {
    const auto real = reals.lookup<__u32, xlb_real>(value.real_id);
    const bool known_real = real && real->family != 0;
    nlohmann::json entry{{"client", dataplane::address_text(key.client, key.family)},
                         {"real", known_real ? dataplane::address_text(real->addr, real->family)
                                             : "real#" + std::to_string(value.real_id)},
                         {"idle", now - static_cast<double>(value.last_seen) / 1e9}};
    const auto svc = services.find(key.vip_id);
    if (svc != services.end()) {
      entry["vip"] = dataplane::address_text(svc->second.addr, svc->second.family);
      entry["vip_port"] = ntohs(svc->second.port);
      entry["protocol"] = svc->second.proto == IPPROTO_UDP ? "UDP" : "TCP";
    } else {
      entry["vip"] = "vip#" + std::to_string(key.vip_id);
    }
    out.push_back(entry);
  });
  return out;
}

}  // namespace xlb::ctl
