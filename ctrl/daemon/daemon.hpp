// xlbd as a whole: the configuration turned into a running dataplane, health checks and VRRP,
// reachable through the control socket and the metrics endpoint, reloadable on SIGHUP.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrl/api/descriptor_budget.hpp"
#include "ctrl/api/event_log.hpp"
#include "ctrl/api/rate_history.hpp"
#include "ctrl/api/service_rows.hpp"
#include "ctrl/config/config.hpp"
#include "ctrl/daemon/service_plan.hpp"
#include "xlb/asio.hpp"

namespace xlb::check {
class HealthMonitor;
struct VirtualServerSettings;
struct HealthEvent;
}
namespace xlb::vrrp {
class Router;
struct StateChange;
}
namespace xlb::notify {
class Notifier;
}
namespace xlb::sync {
class FlowSync;
}
namespace xlb::api {
class ControlServer;
class MetricsServer;
class StatusApi;
}

namespace xlb::daemon {

class DataplaneStack;
class LiveState;
class VipAnnouncer;
class FlowCensus;
struct FlowCensusSample;

struct DaemonOptions {
  std::string config_path = "/etc/xlb/xlb.conf";
  std::vector<std::string> interfaces;   // empty: derived from the configuration
  std::optional<std::string> pin_dir;    // empty: global_defs xdp_pin_dir
  std::string socket_path = "/run/xlb/xlbd.sock";
  std::string socket_group;
  std::string pid_file;
  std::string dump_file = "/run/xlb/xlbd.json";
  bool detach_on_exit = false;           // default: the XDP program keeps forwarding
  std::string sync_key_file = "/etc/xlb/sync.key";  // lvs_sync_daemon's HMAC secret, else auth_pass
  std::uint32_t sync_rate = 20'000;  // lvs_sync_daemon's send budget, datagrams per second
};

class Daemon {
 public:
  Daemon(boost::asio::io_context& io, DaemonOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Loads the configuration and starts every subsystem. Throws with a message (and logs
  // every configuration error) when it cannot.
  void start();
  // Re-reads the file on a worker thread, so that adverts and checks keep their timing, then
  // applies it here; an invalid one changes nothing, nor does one without any virtual_server or
  // vrrp_instance unless `allow_empty`. Returns the errors (empty: applied).
  boost::asio::awaitable<std::vector<std::string>> reload(bool allow_empty = false);
  // Stops VRRP (priority 0), checks and the sockets; the dataplane keeps forwarding unless
  // `detach` (or --detach-on-exit) says otherwise. The io_context runs out afterwards.
  void stop(bool detach);

  nlohmann::json status() const;
  // fresh_census: count the flows again when the census is older than a second (xlbctl list
  // right after a burst); the status views read the last count (at most FlowCensus' interval old).
  nlohmann::json services(bool fresh_census = true) const;
  // service_listing.cpp: the same model as rows, which the status views write as text.
  std::vector<api::ServiceRow> service_rows(bool fresh_census = true) const;
  nlohmann::json flows(const std::string& vip, const std::string& client) const;
  nlohmann::json dump() const;
  std::string metrics() const;

 private:
  std::vector<std::string> apply(config::LoadResult loaded, bool allow_empty);
  std::vector<std::string> refuse(std::vector<std::string> errors);
  boost::asio::awaitable<void> reload_on_signal();
  void start_subsystems();
  void start_api();
  // status_views.cpp: the status page and /api/v1 on the metrics listener, and what they list.
  void start_status_views();
  void record_vrrp_event(const vrrp::StateChange& change);
  void record_health_event(const std::string& service, const std::string& real, bool up, const std::string& why);
  void record_quorum_event(const std::string& service, bool up, std::uint64_t alive_weight, std::uint32_t quorum);
  void record_reload_event(const std::vector<std::string>& errors);
  // After refresh_announce: a VIP whose route came or went.
  nlohmann::json listeners() const;
  void watch_signals();
  void on_vrrp(const vrrp::StateChange& change);
  void on_health_event(const check::VirtualServerSettings& vs, const check::HealthEvent& event,
                       const std::string& why);
  void write_pid_file() const;
  void release_drained(const FlowCensusSample& sample);
  // Recomputes which VIPs vip_route_table holds; call it after any input changed.
  void refresh_announce();
  void stop_after_withdrawal();

  boost::asio::io_context& io_;
  DaemonOptions options_;
  std::unique_ptr<config::SystemProbe> probe_;
  config::Config config_;
  std::vector<PlannedService> plan_;
  api::DescriptorBudget descriptors_ = api::DescriptorBudget::current();
  // Declared in dependency order: what is declared later uses what is declared earlier, and
  // members are destroyed in reverse.
  std::unique_ptr<DataplaneStack> dataplane_;
  std::unique_ptr<FlowCensus> census_;
  std::unique_ptr<LiveState> live_;
  std::unique_ptr<VipAnnouncer> announcer_;  // null without vip_route_table
  bool health_started_ = false;               // the monitor's snapshot has every service
  bool withdrawing_for_stop_ = false;          // SIGTERM: routes gone, forwarding through the grace
  bool announce_refresh_posted_ = false;       // a first check verdict queued a refresh_announce
  std::unique_ptr<boost::asio::steady_timer> grace_timer_;
  std::unique_ptr<notify::Notifier> notifier_;
  std::unique_ptr<check::HealthMonitor> health_;
  std::unique_ptr<sync::FlowSync> flow_sync_;
  std::unique_ptr<vrrp::Router> vrrp_;
  std::unique_ptr<api::ControlServer> control_;
  std::unique_ptr<api::MetricsServer> metrics_;
  // The status views' own state, bounded (event_log.hpp, rate_history.hpp), and the views.
  api::EventLog events_;
  api::RateHistory rates_;
  std::unique_ptr<api::StatusApi> status_api_;
  boost::asio::signal_set signals_;
  // One thread that parses and validates reloads; one reload at a time.
  boost::asio::thread_pool loader_{1};
  bool reloading_ = false;
  bool reload_pending_ = false;  // a SIGHUP during a reload: read the file once more after it
  struct History {
    std::uint64_t reloads = 0;
    std::uint64_t reloads_refused = 0;
    std::uint64_t vrrp_transitions = 0;
    std::vector<std::string> last_reload_errors;
  } history_;
  std::map<std::string, nlohmann::json> last_transition_;  // per instance, for xlbctl status
  bool stopped_ = false;
};

}  // namespace xlb::daemon
