#include "ctrl/daemon/daemon.hpp"

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include <algorithm>
#ifdef XLB_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "ctrl/api/control_server.hpp"
#include "ctrl/api/metrics_server.hpp"
#include "ctrl/api/status_api.hpp"
#include "ctrl/check/health_monitor.hpp"
#include "ctrl/daemon/check_plan.hpp"
#include "ctrl/daemon/dataplane_stack.hpp"
#include "ctrl/daemon/flow_census.hpp"
#include "ctrl/dataplane/xdp_backend.hpp"
#include "ctrl/daemon/announce_plan.hpp"
#include "ctrl/daemon/live_state.hpp"
#include "ctrl/daemon/time_text.hpp"
#include "ctrl/daemon/notify_plan.hpp"
#include "ctrl/daemon/vrrp_plan.hpp"
#include "ctrl/notify/notifier.hpp"
#include "ctrl/sync/sync_plan.hpp"
#include "ctrl/vrrp/router.hpp"

namespace xlb::daemon {

namespace asio = boost::asio;
using Json = nlohmann::json;

namespace {

void notify_systemd([[maybe_unused]] const char* state) {
#ifdef XLB_HAVE_SYSTEMD
  sd_notify(0, state);
#endif
}

std::vector<std::string> error_lines(const config::LoadResult& result) {
  std::vector<std::string> out;
  for (const auto& d : result.diagnostics) {
    if (d.severity == config::Severity::error) out.push_back(config::to_string(d));
  }
  return out;
}

// The logger prints the severity already: "error: file:line:col: message", not "error: ...
// error: ...".
void log_diagnostics(const config::LoadResult& result) {
  for (const auto& d : result.diagnostics) {
    if (d.severity == config::Severity::error) spdlog::error("{}: {}", config::to_string(d.loc), d.message);
    else spdlog::warn("{}: {}", config::to_string(d.loc), d.message);
  }
}

std::map<RealRef, std::uint32_t> configured_weights(const std::vector<PlannedService>& plan) {
  std::map<RealRef, std::uint32_t> out;
  for (const auto& p : plan) {
    for (const auto& r : p.spec.reals) out[RealRef{r.address, r.port}] = r.weight;
  }
  return out;
}

notify::VrrpState notify_state(vrrp::State s) {
  switch (s) {
    case vrrp::State::init: return notify::VrrpState::init;
    case vrrp::State::backup: return notify::VrrpState::backup;
    case vrrp::State::master: return notify::VrrpState::master;
    case vrrp::State::fault: return notify::VrrpState::fault;
    default: return notify::VrrpState::stop;
  }
}

// Runs where it is spawned: on the loader thread for a reload. A function, not a capturing
// lambda: GCC 12 destroys a spawned lambda coroutine's captures twice (a double free at reload).
asio::awaitable<config::LoadResult> load_config(std::string path, config::Options options) {
  co_return config::load_file(path, options);
}

// real_server's weight as the configuration accepts it (parse_lvs.cpp).
constexpr std::uint64_t kMaxRealWeight = 65535;

}  // namespace

Daemon::Daemon(asio::io_context& io, DaemonOptions options)
    : io_(io), options_(std::move(options)), signals_(io) {}

Daemon::~Daemon() = default;

void Daemon::start() {
  try {
    start_subsystems();
  } catch (...) {
    // A failed start leaves nothing it created: no attached program, no pinned maps.
    if (dataplane_) dataplane_->undo_start();
    throw;
  }
}

void Daemon::start_subsystems() {
  // Before anything opens descriptors in numbers; see descriptor_budget.hpp.
  descriptors_ = api::DescriptorBudget::raise_to_hard_limit();
  spdlog::info("file descriptors: limit {}, of which the listeners never take the last {}", descriptors_.limit(),
               descriptors_.reserve());
  probe_ = std::make_unique<config::LinuxSystemProbe>();
  auto loaded = config::load_file(options_.config_path, {.mode = config::Mode::start, .probe = probe_.get(),
                                                                 .sync_key_file = options_.sync_key_file});
  log_diagnostics(loaded);
  if (!loaded.ok()) {
    throw std::runtime_error(std::to_string(loaded.error_count()) + " error(s) in " + options_.config_path);
  }
  config_ = std::move(loaded.config);
  plan_ = plan_services(config_);

  DataplaneOptions dp;
  dp.interfaces = options_.interfaces;
  dp.pin_dir = options_.pin_dir ? *options_.pin_dir : *config_.global_defs.xdp_pin_dir;
  dp.detach_on_exit = options_.detach_on_exit;
  dataplane_ = std::make_unique<DataplaneStack>(io_, config_, plan_, dp);
  census_ = std::make_unique<FlowCensus>(io_, [this](auto window) { return dataplane_->count_flows(window); },
                                         FlowCensus::Options{.on_sample = [this](const FlowCensusSample& s) {
                                           if (live_) release_drained(s);
                                         }});
  census_->start();
  live_ = std::make_unique<LiveState>(*dataplane_);
  // After the dataplane: the program is attached and its maps exist before any route can appear.
  if (const auto table = *config_.global_defs.vip_route_table; table != 0) {
    announcer_ = std::make_unique<VipAnnouncer>(table);
    spdlog::info("announce: VIP routes in table {} through {} (protocol {})", table, announcer_->device(),
                 announce::kRouteProtocol);
  }

  notifier_ = std::make_unique<notify::Notifier>(io_.get_executor(), plan_notify(config_));
  if (announcer_) {
    // One place learns of every route change: the scripts, the mail and the status page's events.
    announcer_->set_observer([this](const dataplane::IpAddress& vip, bool announced, announce::Reason why,
                                    bool initial) {
      const auto text = vip.to_string();
      notifier_->announce_change({text, announced, announce::reason_name(why), initial},
                                 *config_.global_defs.notify_announce);
      if (initial) return;  // the status page lists changes; the VIP's row says why it is not out
      events_.record("announce", text,
                     announced ? text + " announced" : text + " withdrawn: " + std::string(announce::reason_name(why)),
                     !announced);
    });
  }

  const auto vrrp_settings = plan_vrrp(config_);
  if (const auto problems = vrrp::check_settings(vrrp_settings); !problems.empty()) {
    for (const auto& p : problems) spdlog::error("{}: {}", options_.config_path, p);
    throw std::runtime_error("the VRRP settings cannot run");
  }
  live_->set_vrrp_managed(vrrp_addresses(vrrp_settings));
  // Until the peers' flows arrived (sync calls back below), no VIP is announced.
  if ((*config_.global_defs.flow_sync_peers).enabled) live_->set_flows_synced(false);

  check::MonitorHooks hooks;
  hooks.apply = [this](const dataplane::ServiceSpec& spec) {
    live_->on_health(spec);
    refresh_announce();
  };
  hooks.remove = [this](const dataplane::ServiceKey& key) {
    live_->on_removed(key);
    refresh_announce();
  };
  hooks.flush_flows_to = [this](const dataplane::ServiceKey& key, const dataplane::IpAddress& real) {
    try {
      dataplane_->flush_flows_to(key, real);
    } catch (const std::exception& e) {
      spdlog::warn("dataplane: cannot end flows to {}: {}", real.to_string(), e.what());
    }
  };
  // A first verdict changes no spec: nothing else would tell the announcer. Many arrive
  // together at start; one refresh serves all that are queued by then.
  hooks.verdicts_changed = [this] {
    if (announce_refresh_posted_ || !announcer_) return;
    announce_refresh_posted_ = true;
    asio::post(io_, [this] {
      announce_refresh_posted_ = false;
      if (!stopped_) refresh_announce();
    });
  };
  hooks.on_event = [this](const check::VirtualServerSettings& vs, const check::HealthEvent& event,
                          const std::string& why) { on_health_event(vs, event, why); };
  hooks.run_script = [this](const std::vector<std::string>& argv, check::Millis timeout,
                            const std::string& user) -> asio::awaitable<int> {
    notify::ScriptOptions options;
    options.timeout = timeout;
    std::optional<notify::ScriptUser> who;
    if (!user.empty()) who = notify::ScriptUser::lookup(user);
    const auto result = co_await notifier_->script_runner().run(argv, options, who);
    co_return result.exit_code >= 0 && !result.timed_out ? result.exit_code : -1;
  };
  health_ = std::make_unique<check::HealthMonitor>(io_.get_executor(), hooks);
  health_->start(plan_checks(plan_));
  // Not before: the services it applies while starting have no quorum in its snapshot yet,
  // and a VIP announced for that moment would flap.
  health_started_ = true;
  refresh_announce();
  dataplane_->retire_orphans();

  vrrp::ScriptRunner vrrp_runner = [this](const std::vector<std::string>& argv,
                                          std::chrono::milliseconds timeout) -> asio::awaitable<int> {
    notify::ScriptOptions options;
    options.timeout = timeout;
    options.log_output = false;
    const auto result = co_await notifier_->script_runner().run(argv, options);
    co_return result.exit_code >= 0 && !result.timed_out ? result.exit_code : 255;
  };
  flow_sync_ = sync::make_flow_sync(io_.get_executor(), config_.global_defs, vrrp_settings, dataplane_->xdp(),
                                    options_.sync_key_file, options_.sync_rate, [this] {
                                      live_->set_flows_synced(true);
                                      refresh_announce();
                                    });
  if (flow_sync_) flow_sync_->start();
  vrrp_ = std::make_unique<vrrp::Router>(io_.get_executor(), vrrp_settings, vrrp_runner);
  vrrp_->set_observer([this](const vrrp::StateChange& change) { on_vrrp(change); });
  vrrp_->start();

  start_api();
  watch_signals();
  write_pid_file();
  spdlog::info("xlbd started: {} virtual service(s), {} VRRP instance(s), dataplane {}", plan_.size(),
               vrrp_settings.instances.size(), dataplane_->name());
  notify_systemd("READY=1");
}

void Daemon::on_vrrp(const vrrp::StateChange& change) {
  ++history_.vrrp_transitions;
  record_vrrp_event(change);
  spdlog::info("VRRP {}: {} -> {} (priority {}, {}){}", change.instance, vrrp::to_string(change.old_state),
               change.notify_state(), change.priority, vrrp::to_string(change.reason),
               change.detail.empty() ? "" : ": " + change.detail);
  last_transition_[change.instance] = Json{{"at", local_time_text(std::chrono::system_clock::now())},
                                           {"from", std::string(vrrp::to_string(change.old_state))},
                                           {"to", std::string(change.notify_state())},
                                           {"reason", std::string(vrrp::to_string(change.reason))},
                                           {"detail", change.detail}};
  // The dataplane follows ownership: forward for the VIPs of instances we are master of.
  for (const auto& instance : vrrp_->settings().instances) {
    if (instance.name != change.instance) continue;
    const bool owned = change.new_state == vrrp::State::master && !change.split_brain;
    if (flow_sync_ && flow_sync_->settings().instance == change.instance) flow_sync_->set_master(owned);
    for (const auto& vip : instance.vips) live_->set_vip_owned(vip.address, owned);
    for (const auto& vip : instance.excluded_vips) live_->set_vip_owned(vip.address, owned);
  }
  refresh_announce();
  notify::VrrpTransition t;
  t.instance = change.instance;
  t.from = notify_state(change.old_state);
  t.to = change.split_brain ? notify::VrrpState::split_brain : notify_state(change.new_state);
  t.priority = change.priority;
  t.reason = std::string(vrrp::to_string(change.reason));
  if (!change.detail.empty()) t.reason += ": " + change.detail;
  for (const auto& instance : config_.vrrp_instances) {
    if (*instance.name == change.instance) {
      notifier_->vrrp_transition(t, vrrp_scripts(instance.notify), *instance.smtp_alert);
    }
  }
}

void Daemon::on_health_event(const check::VirtualServerSettings& vs, const check::HealthEvent& event,
                             const std::string& why) {
  // The monitor runs notify_up/down and quorum scripts itself; the notifier only mails.
  std::optional<bool> smtp_alert;
  for (const auto& planned : plan_) {
    if (planned.spec.key == vs.spec.key) smtp_alert = *planned.source->smtp_alert;
  }
  refresh_announce();
  if (event.kind == check::HealthEvent::Kind::quorum) {
    // Losing quorum is bad news; regaining it is good news.
    spdlog::log(event.up ? spdlog::level::info : spdlog::level::warn, "{}: quorum {} (alive weight {}, quorum {})",
                vs.name, event.up ? "regained" : "lost", event.alive_weight, vs.quorum);
    record_quorum_event(vs.name, event.up, event.alive_weight, vs.quorum);
    notifier_->quorum_change({vs.name, !event.up, static_cast<unsigned>(event.alive_weight), vs.quorum}, {},
                             smtp_alert);
    return;
  }
  const auto& real = vs.reals.at(event.real_index);
  const std::string real_text = RealRef{real.address, real.port}.text();
  const std::string checker = real.checks.empty() ? "" : check::to_string(real.checks.front().kind);
  record_health_event(vs.name, real_text, event.up, why);
  if (event.up) spdlog::info("{}: real server {} is up", vs.name, real_text);
  else spdlog::warn("{}: real server {} is down{}", vs.name, real_text, why.empty() ? "" : ": " + why);
  notifier_->real_server_change({vs.name, real_text, checker, event.up, why}, {}, smtp_alert);
}

asio::awaitable<std::vector<std::string>> Daemon::reload(bool allow_empty) {
  if (reloading_) co_return std::vector<std::string>{"a reload is already running; try again when it has finished"};
  reloading_ = true;
  // Cleared however this ends: an exception must not leave every later reload refused.
  const std::unique_ptr<bool, void (*)(bool*)> reloading(&reloading_, [](bool* flag) { *flag = false; });
  notify_systemd("RELOADING=1");
  const config::Options load_options{.mode = config::Mode::start, .probe = probe_.get(),
                                     .sync_key_file = options_.sync_key_file};
  auto loaded = co_await asio::co_spawn(loader_, load_config(options_.config_path, load_options), asio::use_awaitable);
  auto errors = apply(std::move(loaded), allow_empty);
  // A refused file, or the configuration a reload replaced, leaves freed pages in the heap;
  // hand them back rather than keep a large file's peak for the life of the process.
  ::malloc_trim(0);
  co_return errors;
}

asio::awaitable<void> Daemon::reload_on_signal() {
  do {
    reload_pending_ = false;
    co_await reload();
  } while (reload_pending_ && !stopped_);
}

std::vector<std::string> Daemon::refuse(std::vector<std::string> errors) {
  ++history_.reloads_refused;
  history_.last_reload_errors = std::move(errors);
  record_reload_event(history_.last_reload_errors);
  notify_systemd("READY=1");
  return history_.last_reload_errors;
}

std::vector<std::string> Daemon::apply(config::LoadResult loaded, bool allow_empty) {
  if (stopped_) return {"xlbd is stopping"};
  log_diagnostics(loaded);
  // An empty or truncated file (an editor's half-written save, a config-management race) would
  // stop every service and give up every VIP: only on request.
  const bool emptied = loaded.ok() && loaded.config.virtual_servers.empty() && loaded.config.vrrp_instances.empty() &&
                       (!config_.virtual_servers.empty() || !config_.vrrp_instances.empty());
  if (emptied && !allow_empty) {
    const std::string why = options_.config_path +
                            ": no virtual_server and no vrrp_instance left: this reload would stop every service "
                            "and give up every VIP (a truncated file?); `xlbctl reload --allow-empty` applies it";
    spdlog::error("reload refused: {}; the running configuration stays", why);
    return refuse({why});
  }
  if (!loaded.ok()) {
    spdlog::error("reload refused: {} error(s) in {}; the running configuration stays", loaded.error_count(),
                  options_.config_path);
    return refuse(error_lines(loaded));
  }
  std::vector<PlannedService> plan;
  try {
    plan = plan_services(loaded.config);
    dataplane_->plan(plan);
  } catch (const std::exception& e) {
    spdlog::error("reload refused: {}; the running configuration stays", e.what());
    return refuse({e.what()});
  }
  if (!(loaded.config.global_defs == config_.global_defs)) {
    spdlog::warn("reload: global_defs changed; mail, script and dataplane-size settings take effect at restart");
  }
  const auto vrrp_settings = plan_vrrp(loaded.config);
  if (const auto problems = vrrp::check_settings(vrrp_settings); !problems.empty()) {
    for (const auto& p : problems) spdlog::error("reload refused: {}", p);
    return refuse(problems);
  }
  live_->drop_overrides_changed_by(configured_weights(plan_), configured_weights(plan));
  std::vector<dataplane::ServiceSpec> next_specs;
  for (const auto& planned : plan) next_specs.push_back(planned.spec);
  live_->retire_removed(next_specs);
  live_->set_vrrp_managed(vrrp_addresses(vrrp_settings));
  // The new model must outlive every pointer into it before the old one goes.
  config_ = std::move(loaded.config);
  plan_ = plan_services(config_);
  health_->reconfigure(plan_checks(plan_));
  vrrp_->reconfigure(vrrp_settings);
  ++history_.reloads;
  history_.last_reload_errors.clear();
  refresh_announce();
  spdlog::info("reloaded {}: {} virtual service(s)", options_.config_path, plan_.size());
  record_reload_event({});
  notify_systemd("READY=1");
  return {};
}

void Daemon::stop(bool detach) {
  if (stopped_) return;
  stopped_ = true;
  notify_systemd("STOPPING=1");
  spdlog::info("xlbd stopping ({})", detach || options_.detach_on_exit ? "detaching the XDP program"
                                                                      : "the XDP program keeps forwarding");
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  // First, so that the router moves the traffic while everything else winds down.
  announcer_.reset();
  grace_timer_.reset();
  if (vrrp_) vrrp_->stop();
  if (flow_sync_) flow_sync_->stop();
  if (census_) census_->stop();
  if (dataplane_) dataplane_->set_detach_on_exit(detach || options_.detach_on_exit);
  control_.reset();
  // The views stay (a reply being written may still read them); their sampler stops.
  if (status_api_) status_api_->stop();
  metrics_.reset();
  if (!options_.pid_file.empty()) {
    std::error_code ec;
    std::filesystem::remove(options_.pid_file, ec);
  }
  if (health_) {
    asio::co_spawn(io_, health_->shutdown(), [this](std::exception_ptr) {
      // Everything that could post work is gone: let run() return.
      io_.stop();
    });
  } else {
    io_.stop();
  }
}

// SIGTERM with routes announced: withdraw them, keep forwarding while the router moves the
// traffic (a few ms with BGP, up to its hold time if the session was slow), then stop as ever.
void Daemon::stop_after_withdrawal() {
  const auto grace = std::chrono::seconds(*config_.global_defs.vip_route_grace);
  if (!announcer_ || grace.count() == 0 || withdrawing_for_stop_) {
    stop(false);
    return;
  }
  withdrawing_for_stop_ = true;
  refresh_announce();
  spdlog::info("xlbd stopping: VIP routes withdrawn, forwarding {} s more", grace.count());
  grace_timer_ = std::make_unique<asio::steady_timer>(io_, grace);
  grace_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) stop(false);
  });
  // A second SIGTERM stops at once.
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (!ec && (signo == SIGTERM || signo == SIGINT)) stop(false);
  });
}

void Daemon::refresh_announce() {
  if (!announcer_ || !live_ || !health_started_) return;
  std::map<dataplane::ServiceKey, bool> quorum;
  std::set<dataplane::ServiceKey> pending;
  if (health_) {
    for (const auto& h : health_->snapshot()) {
      quorum[h.key] = h.quorum_up;
      if (h.checks_pending) pending.insert(h.key);
    }
  }
  std::map<dataplane::IpAddress, announce::VipInputs> vips;
  for (const auto& [key, spec] : live_->applied()) {
    if (key.fwmark != 0) continue;  // a mark names no address to route
    auto& in = vips[key.address];
    in.vrrp_managed = live_->vrrp_managed(key.address);
    in.vrrp_master = in.vrrp_managed && live_->vip_active(key.address);
    // In applied(): the backend took the service, so the maps hold it.
    in.dataplane_ready = true;
    in.flows_synced = live_->flows_synced();
    in.operator_withdrawn = announcer_->operator_withdrawn();
    in.stopping = withdrawing_for_stop_;
    announce::ServiceReadiness r;
    r.checks_pending = pending.contains(key);
    r.usable_real = std::any_of(spec.reals.begin(), spec.reals.end(), [](const auto& real) { return real.weight > 0; });
    r.sorry_server = spec.sorry_server.has_value();
    const auto q = quorum.find(key);
    r.quorum_up = q == quorum.end() || q->second;
    in.services.push_back(r);
  }
  announcer_->update(vips);
}

// Reals removed by a reload leave the dataplane once no flow to them carries traffic.
void Daemon::release_drained(const FlowCensusSample& sample) {
  const auto released = live_->release_retired([&](const dataplane::ServiceKey& key, const dataplane::IpAddress& real) {
    return sample.active.contains({key, real});
  });
  if (released != 0) spdlog::info("{} removed real server(s) drained and left the dataplane", released);
}

void Daemon::write_pid_file() const {
  if (options_.pid_file.empty()) return;
  std::filesystem::create_directories(std::filesystem::path(options_.pid_file).parent_path());
  std::ofstream(options_.pid_file) << ::getpid() << "\n";
}

void Daemon::watch_signals() {
  signals_.add(SIGTERM);
  signals_.add(SIGINT);
  signals_.add(SIGHUP);
  signals_.add(SIGUSR1);
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    if (signo == SIGHUP) {
      if (reloading_) reload_pending_ = true;
      else asio::co_spawn(io_, reload_on_signal(), asio::detached);
    } else if (signo == SIGUSR1) {
      std::filesystem::create_directories(std::filesystem::path(options_.dump_file).parent_path());
      std::ofstream(options_.dump_file) << dump().dump(2) << "\n";
      spdlog::info("state written to {}", options_.dump_file);
    } else {
      stop_after_withdrawal();
      return;
    }
    watch_signals();
  });
}

void Daemon::start_api() {
  const auto& g = config_.global_defs;
  const api::ListenerLimits control_limits{*g.control_socket_max_connections,
                                           std::chrono::seconds(*g.control_socket_idle_timeout),
                                           std::chrono::seconds(*g.control_socket_request_timeout)};
  const api::ListenerLimits metrics_limits{*g.metrics_max_connections, std::chrono::seconds(*g.metrics_idle_timeout),
                                           std::chrono::seconds(*g.metrics_request_timeout)};
  const std::size_t caps = control_limits.max_connections + (g.metrics_listen->enabled ? metrics_limits.max_connections : 0);
  if (caps + descriptors_.reserve() + api::DescriptorBudget::open_descriptors() > descriptors_.limit()) {
    spdlog::warn("file descriptors: the listeners' caps ({}) and the reserve ({}) leave little of the limit ({}); "
                 "listeners will refuse connections early: raise LimitNOFILE",
                 caps, descriptors_.reserve(), descriptors_.limit());
  }
  control_ = std::make_unique<api::ControlServer>(
      io_,
      api::ControlSocketOptions{.path = options_.socket_path, .group = options_.socket_group, .limits = control_limits},
      descriptors_);
  control_->add("status", [this](const Json&) { return status(); });
  control_->add("list", [this](const Json&) { return Json{{"services", services()}}; });
  control_->add("flows", [this](const Json& args) {
    return flows(args.value("vip", std::string()), args.value("client", std::string()));
  });
  control_->add("persist", [this](const Json&) {
    Json out = Json::array();
    auto* xdp = dataplane_->xdp();
    if (xdp == nullptr) return out;  // IPVS keeps its templates among /proc/net/ip_vs_conn
    for (const auto& p : xdp->persistence()) {
      // The fields of xlbctl's pinned-map reader, so that both print alike.
      out.push_back({{"protocol", p.service.protocol == dataplane::Protocol::udp ? "UDP" : "TCP"},
                     {"client", p.client.to_string()},
                     {"vip", p.service.address.to_string()},
                     {"vip_port", p.service.port},
                     {"real", p.real.to_string()},
                     {"idle", std::chrono::duration<double>(p.idle).count()}});
    }
    return out;
  });
  control_->add("weight", [this](const Json& args) {
    const auto real = RealRef::parse(args.at("real").get<std::string>());
    std::optional<std::uint32_t> weight;
    if (!args.value("undrain", false)) {
      // The configuration's range, checked here: a JSON -1 or 1e300 would otherwise convert
      // to 4294967295 or 0.
      const Json& w = args.at("weight");
      if (!w.is_number_unsigned() || w.get<std::uint64_t>() > kMaxRealWeight)
        throw std::invalid_argument("weight must be a whole number from 0 to " + std::to_string(kMaxRealWeight) +
                                    ", not " + w.dump());
      weight = w.get<std::uint32_t>();
    }
    const auto services = live_->set_weight_override(real, weight);
    if (services == 0) throw std::invalid_argument("no configured real server " + real.text());
    refresh_announce();  // a drained real is no usable one
    return Json(real.text() + (weight ? " weight " + std::to_string(*weight) : std::string(" back to its configured weight")) +
                " in " + std::to_string(services) + " service(s)");
  });
  control_->add_async("reload", [this](const Json& args) -> asio::awaitable<Json> {
    const auto errors = co_await reload(args.value("allow_empty", false));
    if (!errors.empty()) {
      std::string text = "reload refused, the running configuration stays:";
      for (const auto& e : errors) text += "\n" + e;
      throw std::invalid_argument(text);
    }
    co_return Json("reloaded");
  });
  control_->add("dump", [this](const Json&) { return dump(); });
  // The operator's word on the whole node, for maintenance: withdrawn until `announce`.
  const auto operator_says = [this](bool withdrawn) {
    return [this, withdrawn](const Json&) {
      if (!announcer_) throw std::invalid_argument("no vip_route_table in global_defs: nothing is announced");
      if (announcer_->operator_withdrawn() != withdrawn) {
        events_.record("announce", "node", withdrawn ? "every VIP withdrawn by the operator (xlbctl withdraw)"
                                                      : "the operator lifted the withdrawal (xlbctl announce)", withdrawn);
        if (withdrawn) spdlog::warn("announce: every VIP withdrawn by the operator (xlbctl withdraw)");
        else spdlog::info("announce: the operator lifted the withdrawal (xlbctl announce)");
      }
      announcer_->set_operator_withdrawn(withdrawn);
      refresh_announce();
      return announcer_->describe();
    };
  };
  control_->add("withdraw", operator_says(true));
  control_->add("announce", operator_says(false));
  control_->add("stop", [this](const Json& args) {
    const bool detach = args.value("detach", false);
    // After this reply is on its way: stop() closes the control socket.
    asio::post(io_, [this, detach] { stop(detach); });
    return Json(detach ? "stopping; the XDP program is detached and the pinned maps removed"
                       : "stopping; the XDP program keeps forwarding with the pinned maps");
  });
  control_->start();

  const auto& listen = *config_.global_defs.metrics_listen;
  if (listen.enabled) {
    metrics_ = std::make_unique<api::MetricsServer>(io_, listen.host, listen.port, [this] { return metrics(); },
                                                    metrics_limits, descriptors_);
    start_status_views();
    metrics_->start();
  }
}

Json Daemon::status() const {
  Json instances = Json::array();
  for (const auto& s : vrrp_->status()) {
    Json inst{{"name", s.name},
              {"state", std::string(vrrp::to_string(s.state))},
              {"priority", s.effective_priority},
              {"base_priority", s.base_priority},
              {"vrid", s.vrid},
              {"interface", s.interface},
              {"vips_installed", s.vips_installed}};
    if (s.master) inst["master"] = s.master->to_string();
    Json vips = Json::array();
    for (const auto& settings : vrrp_->settings().instances) {
      if (settings.name != s.name) continue;
      for (const auto& vip : settings.vips) vips.push_back(vip.address.to_string());
    }
    inst["vips"] = std::move(vips);
    const auto it = last_transition_.find(s.name);
    if (it != last_transition_.end()) {
      inst["last_transition"] = it->second["at"].get<std::string>() + " " + it->second["from"].get<std::string>() +
                                " -> " + it->second["to"].get<std::string>();
      inst["reason"] = it->second["reason"].get<std::string>() +
                       (it->second["detail"].get<std::string>().empty() ? "" : ": " + it->second["detail"].get<std::string>());
    }
    if (s.counters.split_brain_detected != 0) inst["split_brain"] = s.counters.split_brain_detected;
    if (s.state == vrrp::State::fault) inst["fault"] = "tracked interface or script failed";
    instances.push_back(std::move(inst));
  }
  Json out{{"instances", std::move(instances)},
           {"backend", dataplane_->name()},
           {"reloads", history_.reloads},
           {"reloads_refused", history_.reloads_refused},
           {"last_reload_errors", history_.last_reload_errors}};
  if (flow_sync_) out["flow_sync"] = flow_sync_->describe();
  if (announcer_) {
    out["announce"] = announcer_->describe();
  }
  out["listeners"] = listeners();
  return out;
}

Json Daemon::listeners() const {
  Json out{{"descriptors",
            {{"limit", descriptors_.limit()},
             {"reserve", descriptors_.reserve()},
             {"open", api::DescriptorBudget::open_descriptors()}}}};
  if (control_) out["control"] = control_->connections().describe();
  if (metrics_) out["metrics"] = metrics_->connections().describe();
  return out;
}

Json Daemon::flows(const std::string& vip, const std::string& client) const {
  Json out = Json::array();
  for (const auto& f : dataplane_->flows()) {
    if (!vip.empty() && f.service.address.to_string() != vip) continue;
    if (!client.empty() && f.client.to_string() != client) continue;
    out.push_back({{"protocol", f.service.protocol == dataplane::Protocol::udp ? "UDP" : "TCP"},
                   {"client", f.client.to_string()},
                   {"client_port", f.client_port},
                   {"vip", f.service.address.to_string()},
                   {"vip_port", f.service.port},
                   {"real", f.real.to_string()},
                   {"age", std::chrono::duration<double>(f.age).count()},
                   {"idle", std::chrono::duration<double>(f.idle).count()}});
  }
  return out;
}

Json Daemon::dump() const {
  return Json{{"status", status()},
              {"services", services()},
              {"dataplane", dataplane_->describe()},
              {"config_file", options_.config_path}};
}

}  // namespace xlb::daemon
