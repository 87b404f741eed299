// The checker subsystem as xlbd sees it: give it the virtual servers, it runs every probe
// (once per distinct probe, however many virtual servers share it) and tells the dataplane
// what to forward to.
//
//   xlb::check::MonitorHooks hooks;
//   hooks.apply = [&](const ServiceSpec& s) { backend.apply(s); };
//   hooks.flush_flows_to = [&](const ServiceKey& k, const IpAddress& ip) { backend.flush_flows_to(k, ip); };
//   hooks.remove = [&](const ServiceKey& k) { backend.remove(k); };
//   hooks.run_script = notify_runner;  // see probes.hpp ScriptRunner
//   xlb::check::HealthMonitor monitor(io.get_executor(), hooks);
//   monitor.start(services);      // calls hooks.apply once per service, then on every change
//   monitor.reconfigure(services) // on SIGHUP; unchanged probes keep their state
//   co_await monitor.shutdown();  // on exit; runs omega scripts
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "ctrl/check/checker.hpp"
#include "ctrl/check/service_state.hpp"
#include "ctrl/check/settings.hpp"

namespace xlb::check {

struct MonitorHooks {
  std::function<void(const dataplane::ServiceSpec&)> apply;
  std::function<void(const dataplane::ServiceKey&, const IpAddress&)> flush_flows_to;
  std::function<void(const dataplane::ServiceKey&)> remove;  // service gone after reconfigure
  // A real went down or up, or the quorum was lost or regained (for mail alerts). `why` is
  // the failing check's last error (empty when up).
  std::function<void(const VirtualServerSettings&, const HealthEvent&, const std::string& why)> on_event;
  // After any probe's verdict changed or came in for the first time (settled): the daemon's
  // announce decision waits for first verdicts, which change no spec and call no apply.
  std::function<void()> verdicts_changed;
  ScriptRunner run_script;  // MISC_CHECK and notify/quorum scripts; may be empty (no scripts)
  Millis script_timeout{30000};  // notify_up/down, quorum_up/down
};

struct CheckHealth {
  CheckKind kind = CheckKind::tcp;
  IpAddress address;
  std::uint16_t port = 0;
  CheckStatus status;
};

struct RealHealth {
  IpAddress address;
  std::uint16_t port = 0;
  bool up = false;
  std::uint32_t weight = 0;  // in the dataplane now (0: inhibited, quorum lost, or dynamic 0)
  bool in_dataplane = false;
  // No verdict yet: no check settled, or none of the settled ones failed while another has
  // not settled. `up` is then only the starting assumption (up without alpha).
  bool verdict_pending = false;
  std::vector<CheckHealth> checks;
};

struct ServiceHealth {
  std::string name;
  dataplane::ServiceKey key;
  bool quorum_up = true;
  bool sorry_in_use = false;
  std::uint64_t alive_weight = 0;
  bool checks_pending = false;  // some real's verdict_pending
  std::vector<RealHealth> reals;
};

class HealthMonitor {
 public:
  HealthMonitor(boost::asio::any_io_executor ex, MonitorHooks hooks);
  ~HealthMonitor();
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  void start(std::vector<VirtualServerSettings> services);
  // Probes with the same identity keep their verdicts and schedule; services keep their
  // quorum state; apply is called only for services whose effective spec changed.
  void reconfigure(std::vector<VirtualServerSettings> services);
  // Stops every probe, then runs the omega scripts and waits for them.
  boost::asio::awaitable<void> shutdown();

  std::vector<dataplane::ServiceSpec> specs() const;
  std::vector<ServiceHealth> snapshot() const;
  std::size_t probe_count() const { return probes_.size(); }
  std::uint64_t checks_run() const;  // attempts since start, all probes

 private:
  struct Service;
  Checker::ProbeFn probe_for(CheckKind kind);
  std::vector<RealVerdict> verdicts_of(const Service& service) const;
  bool verdict_pending(const std::vector<std::string>& probe_ids) const;
  void on_probe_change(const std::string& id);
  void perform(const dataplane::ServiceKey& key, Actions actions);
  void run_scripts(std::vector<std::string> scripts);

  boost::asio::any_io_executor ex_;
  MonitorHooks hooks_;
  struct TlsContext;
  std::unique_ptr<TlsContext> tls_;
  std::unordered_map<std::string, std::shared_ptr<Checker>> probes_;
  std::vector<std::unique_ptr<Service>> services_;
  std::unordered_map<std::string, std::vector<Service*>> users_;  // probe id -> services
  std::mt19937_64 rng_;
  bool stopped_ = false;
};

}  // namespace xlb::check
