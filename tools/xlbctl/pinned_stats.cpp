#include "tools/xlbctl/pinned_stats.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <vector>

#include "ctrl/dataplane/pinned_map.hpp"
#include "ctrl/dataplane/ring_codec.hpp"
#include "xlb/xlb_abi.h"

namespace xlb::ctl {

namespace {

std::string address_text(const __u32* addr, __u8 family) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == XLB_FAMILY_V6 ? AF_INET6 : AF_INET, addr, text, sizeof(text));
  return text;
}

xlb_traffic_stats sum_percpu(int fd, __u32 index, int cpus) {
  std::vector<xlb_traffic_stats> values(cpus);
  xlb_traffic_stats total{};
  if (bpf_map_lookup_elem(fd, &index, values.data()) != 0) return total;
  for (const auto& v : values) {
    total.packets += v.packets;
    total.bytes += v.bytes;
    total.new_flows += v.new_flows;
  }
  return total;
}

nlohmann::json stats_json(const xlb_traffic_stats& s) {
  return {{"conns", s.new_flows}, {"packets", s.packets}, {"bytes", s.bytes}};
}

const char* scheduler_name(__u32 sched) {
  switch (sched) {
    case XLB_SCHED_RR: return "rr";
    case XLB_SCHED_WRR: return "wrr";
    case XLB_SCHED_SH: return "sh";
    case XLB_SCHED_MH: return "mh";
  }
  return "?";
}

}  // namespace

nlohmann::json read_pinned_services(const std::string& pin_dir) {
  dataplane::PinnedMap vips(std::filesystem::path(pin_dir) / "vips"), ring(std::filesystem::path(pin_dir) / "ring"), reals(std::filesystem::path(pin_dir) / "reals"),
      vip_stats(std::filesystem::path(pin_dir) / "vip_stats"), real_stats(std::filesystem::path(pin_dir) / "real_stats"), settings(std::filesystem::path(pin_dir) / "settings");
  const int cpus = libbpf_num_possible_cpus();
  __u32 zero = 0;
  xlb_settings cfg{};
  bpf_map_lookup_elem(settings.required_fd(), &zero, &cfg);

  nlohmann::json services = nlohmann::json::array();
  xlb_vip_key key{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(vips.required_fd(), prev, &next) == 0) {
    key = next;
    prev = &key;
    xlb_vip_info info{};
    if (bpf_map_lookup_elem(vips.required_fd(), &key, &info) != 0) continue;
    nlohmann::json svc{{"protocol", key.proto == IPPROTO_UDP ? "UDP" : "TCP"},
                       {"address", address_text(key.addr, key.family)},
                       {"port", ntohs(key.port)},
                       {"scheduler", scheduler_name(info.sched)},
                       {"persistence", info.persist_timeout},
                       {"active", (info.flags & XLB_VIP_F_ACTIVE) != 0},
                       {"stats", stats_json(sum_percpu(vip_stats.required_fd(), info.vip_id, cpus))}};
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
      xlb_real real{};
      __u32 id = real_id;
      if (bpf_map_lookup_elem(reals.required_fd(), &id, &real) != 0) continue;
      list.push_back({{"address", address_text(real.addr, real.family)},
                      {"port", ntohs(key.port)},
                      {"forward", "Route"},
                      {"weight", count},
                      {"health", "unknown"},
                      {"stats", stats_json(sum_percpu(real_stats.required_fd(), real_id, cpus))}});
    }
    svc["reals"] = list;
    services.push_back(svc);
  }
  return services;
}

nlohmann::json read_pinned_persistence(const std::string& pin_dir) {
  dataplane::PinnedMap vips(std::filesystem::path(pin_dir) / "vips"), reals(std::filesystem::path(pin_dir) / "reals"), persist(std::filesystem::path(pin_dir) / "persist");
  // The persist key names its service by vip_id only; the vips map says which VIP that is.
  std::map<__u32, xlb_vip_key> services;
  xlb_vip_key vkey{}, vnext{};
  const void* vprev = nullptr;
  while (bpf_map_get_next_key(vips.required_fd(), vprev, &vnext) == 0) {
    vkey = vnext;
    vprev = &vkey;
    xlb_vip_info info{};
    if (bpf_map_lookup_elem(vips.required_fd(), &vkey, &info) == 0) services[info.vip_id] = vkey;
  }
  // last_seen is bpf_ktime_get_ns(): CLOCK_MONOTONIC.
  timespec now_ts{};
  clock_gettime(CLOCK_MONOTONIC, &now_ts);
  const double now = static_cast<double>(now_ts.tv_sec) + static_cast<double>(now_ts.tv_nsec) / 1e9;

  nlohmann::json out = nlohmann::json::array();
  xlb_persist_key key{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(persist.required_fd(), prev, &next) == 0) {
    key = next;
    prev = &key;
    xlb_persist value{};
    if (bpf_map_lookup_elem(persist.required_fd(), &key, &value) != 0) continue;  // expired meanwhile
    xlb_real real{};
    __u32 id = value.real_id;
    const bool known_real = bpf_map_lookup_elem(reals.required_fd(), &id, &real) == 0 && real.family != 0;
    nlohmann::json entry{{"client", address_text(key.client, key.family)},
                         {"real", known_real ? address_text(real.addr, real.family) : "real#" + std::to_string(id)},
                         {"idle", now - static_cast<double>(value.last_seen) / 1e9}};
    const auto svc = services.find(key.vip_id);
    if (svc != services.end()) {
      entry["vip"] = address_text(svc->second.addr, svc->second.family);
      entry["vip_port"] = ntohs(svc->second.port);
      entry["protocol"] = svc->second.proto == IPPROTO_UDP ? "UDP" : "TCP";
    } else {
      entry["vip"] = "vip#" + std::to_string(key.vip_id);
    }
    out.push_back(entry);
  }
  return out;
}

}  // namespace xlb::ctl
