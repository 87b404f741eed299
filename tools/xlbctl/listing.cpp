#include "tools/xlbctl/listing.hpp"

#include <cstdio>
#include <map>
#include <sstream>

namespace xlb::ctl {

namespace {

std::string endpoint(const Json& item) {
  if (item.value("fwmark", 0) != 0) return std::to_string(item["fwmark"].get<unsigned>());
  std::string address = item.value("address", "");
  if (address.find(':') != std::string::npos) address = "[" + address + "]";
  return address + ":" + std::to_string(item.value("port", 0));
}

std::string service_head(const Json& svc) {
  const bool fwm = svc.value("fwmark", 0) != 0;
  std::string prot = fwm ? "FWM" : svc.value("protocol", "TCP");
  char line[256];
  std::snprintf(line, sizeof(line), "%-4s %s %s", prot.c_str(), endpoint(svc).c_str(),
                svc.value("scheduler", "wrr").c_str());
  std::string out = line;
  if (svc.value("persistence", 0) > 0) {
    out += " persistent " + std::to_string(svc["persistence"].get<unsigned>());
    const unsigned prefix = svc.value("persistence_prefix", 255u);
    if (prefix != 255u) out += " mask /" + std::to_string(prefix);
  }
  if (!svc.value("active", true)) out += " (backup)";
  return out;
}

// ipvsadm prints counters with K/M/G suffixes once they no longer fit the column.
std::string human(double value) {
  const char* suffix[] = {"", "K", "M", "G", "T"};
  int i = 0;
  while (value >= 100000000.0 && i < 4) {
    value /= 1000.0;
    ++i;
  }
  char out[32];
  std::snprintf(out, sizeof(out), "%.0f%s", value, suffix[i]);
  return out;
}

std::string counters_row(const std::string& name, const Json& stats) {
  char line[256];
  std::snprintf(line, sizeof(line), "%-33s %8s %8s %8s %8s %8s", name.c_str(),
                human(stats.value("conns", 0.0)).c_str(), human(stats.value("packets", 0.0)).c_str(),
                "0", human(stats.value("bytes", 0.0)).c_str(), "0");
  return line;
}

std::map<std::string, Json> index_by_endpoint(const Json& services) {
  std::map<std::string, Json> out;
  if (!services.is_array()) return out;
  for (const auto& svc : services) {
    out[service_head(svc)] = svc;
  }
  return out;
}

double delta(const Json& now, const Json& before, const char* field, double seconds) {
  const double a = now.value(field, 0.0);
  const double b = before.is_object() ? before.value(field, 0.0) : 0.0;
  return a > b ? (a - b) / seconds : 0.0;
}

std::string rate_row(const std::string& name, const Json& now, const Json& before, double seconds) {
  char line[256];
  std::snprintf(line, sizeof(line), "%-33s %8s %8s %8s %8s %8s", name.c_str(),
                human(delta(now, before, "conns", seconds)).c_str(),
                human(delta(now, before, "packets", seconds)).c_str(), "0",
                human(delta(now, before, "bytes", seconds)).c_str(), "0");
  return line;
}

}  // namespace

std::string format_listing(const Json& services, ListMode mode, const Json& previous, double seconds) {
  std::ostringstream out;
  out << "IP Virtual Server version 1.2.1 (xlb)\n";
  switch (mode) {
    case ListMode::plain:
      out << "Prot LocalAddress:Port Scheduler Flags\n"
          << "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn Health\n";
      break;
    case ListMode::stats:
      out << "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n"
          << "  -> RemoteAddress:Port\n";
      break;
    case ListMode::rate:
      out << "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n"
          << "  -> RemoteAddress:Port\n";
      break;
  }
  const auto before = index_by_endpoint(previous);
  for (const auto& svc : services) {
    const std::string head = service_head(svc);
    const Json stats = svc.value("stats", Json::object());
    const Json prior = before.count(head) ? before.at(head) : Json();
    if (mode == ListMode::plain) {
      out << head << "\n";
    } else {
      const std::string name = (svc.value("fwmark", 0) != 0 ? std::string("FWM  ")
                                                             : svc.value("protocol", "TCP") + "  ") +
                               endpoint(svc);
      out << (mode == ListMode::stats ? counters_row(name, stats)
                                      : rate_row(name, stats, prior.value("stats", Json::object()), seconds))
          << "\n";
    }
    std::map<std::string, Json> prior_reals;
    if (prior.is_object()) {
      for (const auto& real : prior.value("reals", Json::array())) prior_reals[endpoint(real)] = real;
    }
    for (const auto& real : svc.value("reals", Json::array())) {
      const std::string name = "  -> " + endpoint(real);
      const Json rstats = real.value("stats", Json::object());
      if (mode == ListMode::plain) {
        char line[256];
        std::snprintf(line, sizeof(line), "%-33s %-7s %-6u %-10llu %-9llu %s", name.c_str(),
                      real.value("forward", "Route").c_str(), real.value("weight", 0u),
                      static_cast<unsigned long long>(real.value("active_conns", 0ULL)),
                      static_cast<unsigned long long>(real.value("inactive_conns", 0ULL)),
                      real.value("health", "up").c_str());
        out << line << "\n";
      } else if (mode == ListMode::stats) {
        out << counters_row(name, rstats) << "\n";
      } else {
        const auto it = prior_reals.find(endpoint(real));
        const Json prior_stats = it == prior_reals.end() ? Json() : it->second.value("stats", Json::object());
        out << rate_row(name, rstats, prior_stats, seconds) << "\n";
      }
    }
  }
  return out.str();
}

std::string format_announce(const Json& a) {
  std::ostringstream out;
  out << "announce (table " << a.value("table", 0) << ", dev " << a.value("device", "?") << ", proto "
      << a.value("protocol", 0) << ")" << (a.value("operator_withdrawn", false) ? ": WITHDRAWN by the operator" : "")
      << "\n";
  for (const auto& v : a.value("vips", Json::array())) {
    out << "  " << v.value("vip", "?") << "  " << (v.value("announced", false) ? "announced" : "withdrawn") << "  "
        << v.value("reason", "?") << "  since " << v.value("since", "?") << "\n";
  }
  return out.str();
}

std::string format_status(const Json& status) {
  std::ostringstream out;
  const Json instances = status.value("instances", Json::array());
  if (instances.empty()) out << "no VRRP instances: every virtual server is active on this node\n";
  for (const auto& inst : instances) {
    out << "VRRP instance " << inst.value("name", "?") << ": " << inst.value("state", "?")
        << " (priority " << inst.value("priority", 0) << ", vrid " << inst.value("vrid", 0)
        << ", interface " << inst.value("interface", "?") << ")\n";
    if (inst.contains("master")) out << "  master:          " << inst["master"].get<std::string>() << "\n";
    if (inst.contains("vips")) {
      out << "  virtual IPs:    ";
      for (const auto& vip : inst["vips"]) out << " " << vip.get<std::string>();
      out << "\n";
    }
    if (inst.contains("last_transition"))
      out << "  last transition: " << inst["last_transition"].get<std::string>() << "\n";
    if (inst.contains("reason")) out << "  why:             " << inst["reason"].get<std::string>() << "\n";
    for (const auto& key : {"fault", "split_brain"}) {
      if (inst.contains(key) && !inst[key].is_null() && !(inst[key].is_string() && inst[key].get<std::string>().empty()))
        out << "  " << key << ":     " << inst[key].dump() << "\n";
    }
  }
  if (status.contains("backend")) out << "dataplane: " << status["backend"].get<std::string>() << "\n";
  if (status.contains("reloads")) {
    out << "reloads: " << status.value("reloads", 0) << " applied, " << status.value("reloads_refused", 0)
        << " refused\n";
  }
  const Json errors = status.value("last_reload_errors", Json::array());
  if (!errors.empty()) {
    out << "last reload refused; the running configuration stays:\n";
    for (const auto& e : errors) out << "  " << (e.is_string() ? e.get<std::string>() : e.dump()) << "\n";
  }
  if (status.contains("flow_sync")) {
    const auto& sync = status["flow_sync"];
    const auto n = [&](const char* key) { return sync.value(key, std::uint64_t{0}); };
    const bool peers = sync.value("role", "") == "peer";
    if (peers) {
      out << "flow sync (flow_sync_peers " << sync.value("interface", "?") << "): peer, "
          << (sync.value("synced", false) ? "synced" : "waiting for a peer's table") << "; " << n("bulk_sends")
          << " whole table(s) sent to " << n("joins_answered") << " joining peer(s)\n";
    } else {
      out << "flow sync (lvs_sync_daemon " << sync.value("interface", "?") << " " << sync.value("instance", "?")
          << "): " << sync.value("role", "?") << "\n";
    }
    out
        << "  key:       " << sync.value("key", "?") << "\n"
        << "  sent:      " << n("entries_sent") << " entries in " << n("packets_sent") << " datagrams (at most "
        << n("max_datagrams_per_second") << "/s), backlog " << n("backlog") << ", deferred " << n("entries_deferred")
        << ", dropped " << n("entries_dropped") << "\n"
        << "  received:  " << n("entries_installed") << " entries installed from " << n("packets_received")
        << " datagrams; refused: " << n("rejected_auth") << " auth, " << n("rejected_malformed") << " malformed, "
        << n("rejected_replay") << " replay, " << n("rejected_stale") << " stale (clocks apart?), "
        << n("rejected_sync_id") << " sync id, " << n("entries_unknown") << " unknown entries\n";
  }
  if (status.contains("announce")) out << format_announce(status["announce"]);
  if (status.contains("listeners")) {
    const auto& l = status["listeners"];
    const auto d = l.value("descriptors", Json::object());
    out << "file descriptors: " << d.value("open", 0) << " open of " << d.value("limit", 0) << " (listeners leave the last "
        << d.value("reserve", 0) << ")\n";
    for (const auto& [key, title] : {std::pair{"control", "control socket"}, std::pair{"metrics", "metrics endpoint"}}) {
      if (!l.contains(key)) continue;
      const auto& t = l[key];
      const auto rejected = t.value("rejected", Json::object());
      const auto closed = t.value("closed", Json::object());
      const auto n = [](const Json& j, const char* k) { return j.value(k, std::uint64_t{0}); };
      out << title << ": " << t.value("connections", 0) << " of " << t.value("max_connections", 0)
          << " connections; refused " << n(rejected, "cap") << " at the cap, " << n(rejected, "descriptors")
          << " short of descriptors, " << n(rejected, "accept_error") << " accept errors; closed " << n(closed, "evicted")
          << " evicted, " << n(closed, "idle_timeout") << " idle, " << n(closed, "request_timeout") << " slow\n";
    }
  }
  return out.str();
}

std::string format_flows(const Json& flows) {
  std::ostringstream out;
  out << "Pro Client                         Virtual                        Real                      Age(s)  Idle(s)\n";
  for (const auto& f : flows) {
    char line[512];
    const std::string client = endpoint(Json{{"address", f.value("client", "")}, {"port", f.value("client_port", 0)}});
    const std::string vip = endpoint(Json{{"address", f.value("vip", "")}, {"port", f.value("vip_port", 0)}});
    std::snprintf(line, sizeof(line), "%-3s %-30s %-30s %-25s %6.0f %8.1f", f.value("protocol", "TCP").c_str(),
                  client.c_str(), vip.c_str(), f.value("real", "").c_str(), f.value("age", 0.0),
                  f.value("idle", 0.0));
    out << line << "\n";
  }
  return out.str();
}

std::string format_persistence(const Json& entries) {
  std::ostringstream out;
  out << "Pro Client (masked)                Virtual                        Real                      Idle(s)\n";
  for (const auto& e : entries) {
    char line[512];
    const std::string vip = endpoint(Json{{"address", e.value("vip", "")}, {"port", e.value("vip_port", 0)}});
    std::snprintf(line, sizeof(line), "%-3s %-30s %-30s %-25s %7.1f", e.value("protocol", "TCP").c_str(),
                  e.value("client", "").c_str(), vip.c_str(), e.value("real", "").c_str(), e.value("idle", 0.0));
    out << line << "\n";
  }
  return out.str();
}

}  // namespace xlb::ctl
