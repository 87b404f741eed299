// The status page and /api/v1 (ctrl/api/status_api.hpp) wired to xlbd's model, and the events
// they list. Each record_* is called where xlbd already logs the same news.
#include <spdlog/spdlog.h>

#include "ctrl/api/metrics_server.hpp"
#include "ctrl/api/status_api.hpp"
#include "ctrl/daemon/announce_plan.hpp"
#include "ctrl/daemon/daemon.hpp"
#include "ctrl/daemon/dataplane_stack.hpp"
#include "ctrl/daemon/flow_census.hpp"
#include "ctrl/daemon/live_state.hpp"
#include "ctrl/notify/mail_settings.hpp"
#include "ctrl/vrrp/events.hpp"

namespace xlb::daemon {

using Json = nlohmann::json;

void Daemon::start_status_views() {
  api::StatusApi::Model model;
  model.status = [this] { return status(); };
  model.services = [this] { return service_rows(false); };
  model.dump = [this] { return dump(); };
  // The sampler reads only the dataplane's counters, keyed as the page's series
  // (rate_history.hpp): no census walk, no health snapshot, no JSON.
  model.readings = [this] {
    std::vector<api::RateHistory::Reading> out;
    for (const auto& s : dataplane_->stats()) {
      const auto label = api::service_label(s.key.protocol == dataplane::Protocol::udp ? "UDP" : "TCP",
                                            s.key.address.to_string(), s.key.port, s.key.fwmark);
      for (const auto& r : s.reals)
        out.push_back({api::real_series_key(label, r.real.address.to_string(), r.real.port), r.counters.packets,
                       r.counters.bytes});
    }
    return out;
  };
  // A reload changes the plan and records an event; every other change goes through live state.
  // The counters and flow counts in the views' text are read again with each flow census (every
  // 5 s); the rates, which the page shows, come from the rate ring at each request. Both numbers
  // only grow, so their sum moves whenever either does.
  model.generation = [this] {
    return live_->generation() +
           static_cast<std::uint64_t>(census_->latest().taken.time_since_epoch().count());
  };
  status_api_ = std::make_unique<api::StatusApi>(io_.get_executor(), std::move(model), events_, rates_,
                                                 api::StatusApi::Options{.page = *config_.global_defs.status_page,
                                                                         .node = notify::local_host_name()});
  metrics_->serve_pages([this](std::string_view target) { return status_api_->get(target); });
  status_api_->start();
  events_.record("start", options_.config_path,
                 "xlbd started: " + std::to_string(plan_.size()) + " virtual service(s), dataplane " + dataplane_->name());
}

void Daemon::record_vrrp_event(const vrrp::StateChange& change) {
  std::string text = std::string(vrrp::to_string(change.old_state)) + " -> " + std::string(change.notify_state()) +
                     " (priority " + std::to_string(change.priority) + ", " + std::string(vrrp::to_string(change.reason)) +
                     (change.detail.empty() ? "" : ": " + change.detail) + ")";
  const bool lost_master = change.old_state == vrrp::State::master && change.new_state != vrrp::State::master;
  events_.record("vrrp", change.instance, std::move(text),
                 lost_master || change.split_brain || change.new_state == vrrp::State::fault);
}

void Daemon::record_health_event(const std::string& service, const std::string& real, bool up, const std::string& why) {
  events_.record("health", real,
                 service + ": real server " + real + (up ? " is up" : " is down" + (why.empty() ? "" : ": " + why)), !up);
}

void Daemon::record_quorum_event(const std::string& service, bool up, std::uint64_t alive_weight, std::uint32_t quorum) {
  events_.record("quorum", service,
                 service + ": quorum " + (up ? "regained" : "lost") + " (alive weight " + std::to_string(alive_weight) +
                     ", quorum " + std::to_string(quorum) + ")",
                 !up);
}

void Daemon::record_reload_event(const std::vector<std::string>& errors) {
  if (errors.empty()) {
    events_.record("reload", options_.config_path, "reloaded: " + std::to_string(plan_.size()) + " virtual service(s)");
  } else {
    events_.record("reload", options_.config_path,
                   "reload refused, the running configuration stays: " + errors.front() +
                       (errors.size() > 1 ? " (and " + std::to_string(errors.size() - 1) + " more)" : ""),
                   true);
  }
}

}  // namespace xlb::daemon
