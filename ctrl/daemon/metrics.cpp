// Daemon::metrics(): the Prometheus page. Every family is read live at scrape time, except the
// connection-table counts, which come from the periodic flow census.
#include <unistd.h>

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string_view>

#include "ctrl/api/control_server.hpp"
#include "ctrl/api/metrics_server.hpp"
#include "ctrl/api/prometheus.hpp"
#include "ctrl/check/health_monitor.hpp"
#include "ctrl/daemon/announce_plan.hpp"
#include "ctrl/daemon/daemon.hpp"
#include "ctrl/daemon/flow_census.hpp"
#include "ctrl/daemon/dataplane_stack.hpp"
#include "ctrl/daemon/live_state.hpp"
#include "ctrl/dataplane/pinned_map.hpp"
#include "ctrl/notify/notifier.hpp"
#include "ctrl/sync/flow_sync.hpp"
#include "ctrl/vrrp/router.hpp"
#include "xlb/xlb_abi.h"

namespace xlb::daemon {

using api::Labels;
using api::MetricsText;

namespace {

std::string service_label(const dataplane::ServiceKey& key) {
  return RealRef{key.address, key.port}.text();
}

// Fill levels of the hash maps that can run full (entries vs max_entries).
// The flows map is too large to walk per scrape: its count comes from the flow census.
void write_map_fill(MetricsText& m, const std::filesystem::path& pin_dir, const FlowCensusSample& census) {
  struct Fill {
    std::string name;
    std::uint64_t entries;
    std::uint32_t max;
  };
  std::vector<Fill> fills;
  // Opened per scrape: the metrics page does not reach into the dataplane's own handles.
  const auto fill = [&](const char* name, auto count) {
    const dataplane::PinnedMap map(pin_dir / name);
    if (map.ok()) fills.push_back({name, count(map), map.info().max_entries});
  };
  fill("vips", [](const dataplane::PinnedMap& m) { return m.count_entries<xlb_vip_key, xlb_vip_info>(); });
  fill("flows", [&](const dataplane::PinnedMap&) { return census.flows; });
  fill("persist", [](const dataplane::PinnedMap& m) { return m.count_entries<xlb_persist_key, xlb_persist>(); });
  m.family("xlb_map_entries", MetricsText::Type::gauge, "Entries in a pinned BPF hash map now.");
  for (const auto& f : fills) m.sample({{"map", f.name}}, static_cast<double>(f.entries));
  m.family("xlb_map_max_entries", MetricsText::Type::gauge, "Capacity of a pinned BPF hash map.");
  for (const auto& f : fills) m.sample({{"map", f.name}}, f.max);
  m.family("xlb_flow_census_age_seconds", MetricsText::Type::gauge,
           "Age of the connection-table count behind xlb_map_entries{map=\"flows\"} and active connections.");
  m.sample({}, std::chrono::duration<double>(std::chrono::steady_clock::now() - census.taken).count());
  m.family("xlb_flow_census_walk_seconds", MetricsText::Type::gauge, "Time the last connection-table count took.");
  m.sample({}, census.walk.count());
}

void write_flow_sync(MetricsText& m, const sync::FlowSync& sync) {
  const auto& c = sync.counters();
  const std::pair<const char*, std::uint64_t> sent[] = {{"datagrams", c.packets_sent}, {"entries", c.entries_sent},
                                                        {"bytes", c.bytes_sent}};
  m.family("xlb_sync_sent_total", MetricsText::Type::counter, "lvs_sync_daemon: what the master sent, by unit.");
  for (const auto& [unit, value] : sent) m.sample({{"unit", unit}}, static_cast<double>(value));
  m.family("xlb_sync_entries_installed_total", MetricsText::Type::counter,
           "lvs_sync_daemon: entries a backup wrote into its maps.");
  m.sample({}, static_cast<double>(c.entries_installed));
  const std::pair<const char*, std::uint64_t> trouble[] = {
      {"send_error", c.send_errors},          {"deferred", c.entries_deferred},
      {"dropped", c.entries_dropped},         {"unknown_service_or_real", c.entries_unknown},
      {"rejected_auth", c.rejected_auth},     {"rejected_malformed", c.rejected_malformed},
      {"rejected_replay", c.rejected_replay}, {"rejected_stale", c.rejected_stale},
      {"rejected_sync_id", c.rejected_sync_id}};
  m.family("xlb_sync_problems_total", MetricsText::Type::counter,
           "lvs_sync_daemon: entries deferred or dropped by the send budget, datagrams refused, by reason.");
  for (const auto& [reason, value] : trouble) m.sample({{"reason", reason}}, static_cast<double>(value));
  m.family("xlb_sync_backlog_entries", MetricsText::Type::gauge, "lvs_sync_daemon: entries waiting for send budget.");
  m.sample({}, static_cast<double>(sync.backlog()));
}

void write_listeners(MetricsText& m, const std::vector<const api::ConnectionTable*>& tables,
                     const api::DescriptorBudget& descriptors) {
  // "control socket" -> control_socket: label values without spaces.
  const auto label = [](const api::ConnectionTable* t) {
    std::string name = t->name();
    std::replace(name.begin(), name.end(), ' ', '_');
    return name;
  };
  m.family("xlb_listener_connections", MetricsText::Type::gauge, "Connections a listener holds now.");
  for (const auto* t : tables) m.sample({{"listener", label(t)}}, static_cast<double>(t->size()));
  m.family("xlb_listener_max_connections", MetricsText::Type::gauge, "A listener's connection cap.");
  for (const auto* t : tables) m.sample({{"listener", label(t)}}, static_cast<double>(t->limits().max_connections));
  m.family("xlb_listener_rejected_total", MetricsText::Type::counter,
           "Connections a listener refused (cap: every connection busy; descriptors: within the reserve of the "
           "limit) or could not accept (accept_error).");
  for (const auto* t : tables) {
    const auto& c = t->counters();
    m.sample({{"listener", label(t)}, {"reason", "cap"}}, static_cast<double>(c.rejected_cap));
    m.sample({{"listener", label(t)}, {"reason", "descriptors"}}, static_cast<double>(c.rejected_descriptors));
    m.sample({{"listener", label(t)}, {"reason", "accept_error"}}, static_cast<double>(c.accept_errors));
  }
  m.family("xlb_listener_closed_total", MetricsText::Type::counter,
           "Connections a listener closed: evicted to make room, or timed out idle or mid-request.");
  for (const auto* t : tables) {
    const auto& c = t->counters();
    m.sample({{"listener", label(t)}, {"reason", "evicted"}}, static_cast<double>(c.evicted));
    m.sample({{"listener", label(t)}, {"reason", "idle_timeout"}}, static_cast<double>(c.idle_timeouts));
    m.sample({{"listener", label(t)}, {"reason", "request_timeout"}}, static_cast<double>(c.request_timeouts));
  }
  m.family("xlb_file_descriptors", MetricsText::Type::gauge,
           "xlbd's descriptors: open now, the limit, and the reserve listeners leave to the rest.");
  m.sample({{"what", "open"}}, static_cast<double>(api::DescriptorBudget::open_descriptors()));
  m.sample({{"what", "limit"}}, static_cast<double>(descriptors.limit()));
  m.sample({{"what", "reserve"}}, static_cast<double>(descriptors.reserve()));
}

}  // namespace

std::string Daemon::metrics() const {
  MetricsText m;
  m.family("xlb_up", MetricsText::Type::gauge, "1 while xlbd runs.");
  m.sample({}, 1);
  if (announcer_) announcer_->write_metrics(m);

  const auto traffic = dataplane_->traffic();  // services and counters of one moment
  const auto& stats = traffic.services;
  // The labels of every service and real, spelled once for the three families each repeats them in.
  std::vector<std::string> vip_labels;
  std::vector<std::vector<std::string>> real_labels(stats.size());
  vip_labels.reserve(stats.size());
  for (std::size_t i = 0; i < stats.size(); ++i) {
    const auto vip = service_label(stats[i].key);
    vip_labels.push_back(MetricsText::label_text({{"vip", vip}}));
    real_labels[i].reserve(stats[i].reals.size());
    for (const auto& r : stats[i].reals)
      real_labels[i].push_back(MetricsText::label_text({{"vip", vip}, {"real", RealRef{r.real.address, r.real.port}.text()}}));
  }
  const auto vip_family = [&](const char* name, const char* help, auto value) {
    m.family(name, MetricsText::Type::counter, help);
    for (std::size_t i = 0; i < stats.size(); ++i) m.sample_spelled(vip_labels[i], static_cast<double>(value(stats[i].counters)));
  };
  const auto real_family = [&](const char* name, const char* help, auto value) {
    m.family(name, MetricsText::Type::counter, help);
    for (std::size_t i = 0; i < stats.size(); ++i)
      for (std::size_t j = 0; j < stats[i].reals.size(); ++j)
        m.sample_spelled(real_labels[i][j], static_cast<double>(value(stats[i].reals[j].counters)));
  };
  using Counters = dataplane::TrafficCounters;
  vip_family("xlb_vip_packets_total", "Packets forwarded for a virtual service.", [](const Counters& c) { return c.packets; });
  vip_family("xlb_vip_bytes_total", "Bytes forwarded for a virtual service.", [](const Counters& c) { return c.bytes; });
  vip_family("xlb_vip_new_flows_total", "Connections scheduled for a virtual service.",
             [](const Counters& c) { return c.new_flows; });
  real_family("xlb_real_packets_total", "Packets forwarded to a real server.", [](const Counters& c) { return c.packets; });
  real_family("xlb_real_bytes_total", "Bytes forwarded to a real server.", [](const Counters& c) { return c.bytes; });
  real_family("xlb_real_new_flows_total", "Connections scheduled to a real server.",
              [](const Counters& c) { return c.new_flows; });

  const auto health = health_->snapshot();
  m.family("xlb_real_up", MetricsText::Type::gauge, "1 when the real server passes its checks.");
  for (const auto& h : health)
    for (const auto& r : h.reals)
      m.sample({{"vip", service_label(h.key)}, {"real", RealRef{r.address, r.port}.text()}}, r.up ? 1 : 0);
  m.family("xlb_real_weight", MetricsText::Type::gauge, "Weight the dataplane uses for the real server now.");
  for (const auto& [key, spec] : live_->applied())
    for (const auto& r : spec.reals)
      m.sample({{"vip", service_label(key)}, {"real", RealRef{r.address, r.port}.text()}}, r.weight);
  m.family("xlb_vip_quorum_up", MetricsText::Type::gauge, "1 while the virtual service has its quorum.");
  for (const auto& h : health) m.sample({{"vip", service_label(h.key)}}, h.quorum_up ? 1 : 0);
  m.family("xlb_vip_sorry_server_active", MetricsText::Type::gauge, "1 while new flows go to the sorry server.");
  for (const auto& h : health) m.sample({{"vip", service_label(h.key)}}, h.sorry_in_use ? 1 : 0);
  m.family("xlb_check_duration_seconds", MetricsText::Type::histogram, "Duration of check attempts.");
  for (const auto& h : health)
    for (const auto& r : h.reals)
      for (const auto& c : r.checks) {
        api::Histogram histogram({check::kLatencyBounds.begin(), check::kLatencyBounds.end()});
        histogram.buckets.assign(c.status.latency_buckets.begin(), c.status.latency_buckets.end());
        histogram.count = c.status.runs;
        histogram.sum = c.status.latency_sum;
        histogram.write(m, {{"vip", service_label(h.key)}, {"real", RealRef{r.address, r.port}.text()},
                            {"check", check::to_string(c.kind)}});
      }
  m.family("xlb_check_runs_total", MetricsText::Type::counter, "Check attempts.");
  for (const auto& h : health)
    for (const auto& r : h.reals)
      for (const auto& c : r.checks)
        m.sample({{"real", RealRef{r.address, r.port}.text()}, {"check", check::to_string(c.kind)}},
                 static_cast<double>(c.status.runs));
  m.family("xlb_check_failures_total", MetricsText::Type::counter, "Failed check attempts.");
  for (const auto& h : health)
    for (const auto& r : h.reals)
      for (const auto& c : r.checks)
        m.sample({{"real", RealRef{r.address, r.port}.text()}, {"check", check::to_string(c.kind)}},
                 static_cast<double>(c.status.failures));

  const auto vrrp_status = vrrp_->status();
  m.family("xlb_vrrp_state", MetricsText::Type::gauge, "1 for the state each VRRP instance is in.");
  for (const auto& s : vrrp_status) {
    for (auto state : {vrrp::State::init, vrrp::State::backup, vrrp::State::master, vrrp::State::fault}) {
      m.sample({{"instance", s.name}, {"state", std::string(vrrp::to_string(state))}}, s.state == state ? 1 : 0);
    }
  }
  m.family("xlb_vrrp_priority", MetricsText::Type::gauge, "Effective VRRP priority.");
  for (const auto& s : vrrp_status) m.sample({{"instance", s.name}}, s.effective_priority);
  m.family("xlb_vrrp_became_master_total", MetricsText::Type::counter, "Transitions to MASTER.");
  for (const auto& s : vrrp_status) m.sample({{"instance", s.name}}, static_cast<double>(s.counters.became_master));
  m.family("xlb_vrrp_adverts_sent_total", MetricsText::Type::counter, "VRRP adverts sent.");
  for (const auto& s : vrrp_status) m.sample({{"instance", s.name}}, static_cast<double>(s.counters.adverts_sent));
  m.family("xlb_vrrp_adverts_received_total", MetricsText::Type::counter, "Valid VRRP adverts received.");
  for (const auto& s : vrrp_status) m.sample({{"instance", s.name}}, static_cast<double>(s.counters.adverts_received));
  m.family("xlb_vrrp_adverts_dropped_total", MetricsText::Type::counter, "Received VRRP packets dropped, by reason.");
  for (const auto& s : vrrp_status) {
    for (std::size_t i = 1; i < vrrp::kDropReasonCount; ++i) {
      m.sample({{"instance", s.name}, {"reason", std::string(vrrp::to_string(static_cast<vrrp::DropReason>(i)))}},
               static_cast<double>(s.counters.drops[i]));
    }
  }
  m.family("xlb_vrrp_split_brain_total", MetricsText::Type::counter, "Another MAC answered for one of our VIPs.");
  for (const auto& s : vrrp_status) m.sample({{"instance", s.name}}, static_cast<double>(s.counters.split_brain_detected));

  m.family("xlb_dataplane_packets_total", MetricsText::Type::counter,
           "XDP program verdicts and events, by action or drop reason.");
  for (const auto& [name, value] : traffic.counters) m.sample({{"what", name}}, static_cast<double>(value));
  write_map_fill(m, options_.pin_dir ? *options_.pin_dir : *config_.global_defs.xdp_pin_dir, census_->latest());
  m.family("xlb_dataplane_services", MetricsText::Type::gauge, "Virtual services programmed in the dataplane.");
  m.sample({}, static_cast<double>(live_->applied().size()));

  if (flow_sync_) write_flow_sync(m, *flow_sync_);
  std::vector<const api::ConnectionTable*> listeners;
  if (control_) listeners.push_back(&control_->connections());
  if (metrics_) listeners.push_back(&metrics_->connections());
  write_listeners(m, listeners, descriptors_);

  const auto mail = notifier_->counters();
  m.family("xlb_mail_delivered_total", MetricsText::Type::counter, "Alert mails delivered.");
  m.sample({}, static_cast<double>(mail.mail.delivered));
  m.family("xlb_mail_failed_total", MetricsText::Type::counter, "Alert mails given up.");
  m.sample({}, static_cast<double>(mail.mail.failed));
  m.family("xlb_mail_queued", MetricsText::Type::gauge, "Alert mails waiting.");
  m.sample({}, static_cast<double>(mail.mail.queued));
  m.family("xlb_config_reloads_total", MetricsText::Type::counter, "Reloads, by result.");
  m.sample({{"result", "applied"}}, static_cast<double>(history_.reloads));
  m.sample({{"result", "refused"}}, static_cast<double>(history_.reloads_refused));
  return m.text();
}

}  // namespace xlb::daemon
