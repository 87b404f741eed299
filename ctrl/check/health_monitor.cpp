#include "ctrl/check/health_monitor.hpp"

#include <map>

#include <spdlog/spdlog.h>

#include <boost/asio/ssl.hpp>

#include "ctrl/check/resolve.hpp"

namespace xlb::check {

namespace asio = boost::asio;

struct HealthMonitor::TlsContext {
  // keepalived's SSL_GET does not verify the server certificate: it checks the service.
  // Shared with the SSL_GET probes, so that one still in flight when the monitor goes away
  // keeps its context.
  std::shared_ptr<asio::ssl::context> context =
      std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  TlsContext() { context->set_verify_mode(asio::ssl::verify_none); }
};

struct HealthMonitor::Service {
  Service(VirtualServerSettings settings, std::vector<RealVerdict> verdicts,
          std::optional<bool> quorum)
      : state(std::move(settings), std::move(verdicts), quorum) {}
  ServiceState state;
  std::vector<std::vector<std::string>> probe_ids;  // per real
};

HealthMonitor::HealthMonitor(asio::any_io_executor ex, MonitorHooks hooks)
    : ex_(std::move(ex)), hooks_(std::move(hooks)), tls_(std::make_unique<TlsContext>()),
      rng_(std::random_device{}()) {}

HealthMonitor::~HealthMonitor() {
  for (auto& [id, checker] : probes_) checker->stop();
}

Checker::ProbeFn HealthMonitor::probe_for(CheckKind kind) {
  switch (kind) {
    case CheckKind::http_get: return [](const CheckSettings& c) { return probe_http(c, nullptr); };
    case CheckKind::ssl_get:
      return [ctx = tls_->context](const CheckSettings& c) { return probe_http(c, ctx.get()); };
    case CheckKind::tcp: return [](const CheckSettings& c) { return probe_tcp(c); };
    case CheckKind::dns: return [](const CheckSettings& c) { return probe_dns(c); };
    case CheckKind::udp: return [](const CheckSettings& c) { return probe_udp(c); };
    case CheckKind::ping: return [](const CheckSettings& c) { return probe_ping(c); };
    case CheckKind::misc:
      return [runner = hooks_.run_script](const CheckSettings& c) -> asio::awaitable<ProbeResult> {
        if (!runner) co_return ProbeResult{false, std::nullopt, "no script runner", Millis{0}};
        co_return co_await probe_misc(c, runner);
      };
  }
  throw std::logic_error("unknown check kind");
}

void HealthMonitor::start(std::vector<VirtualServerSettings> services) {
  reconfigure(std::move(services));
}

void HealthMonitor::reconfigure(std::vector<VirtualServerSettings> services) {
  std::unordered_map<std::string, std::shared_ptr<Checker>> probes;
  std::vector<std::shared_ptr<Checker>> fresh;
  std::vector<std::unique_ptr<Service>> next_services;
  std::unordered_map<std::string, std::vector<Service*>> users;
  // By key, not by scanning: with 10,000 services the scans were 10^8 key compares per reload.
  // What is left in it after the loop is what the new configuration dropped.
  std::map<dataplane::ServiceKey, const Service*> old_by_key;
  for (const auto& s : services_) old_by_key.emplace(s->state.settings().spec.key, s.get());

  for (auto& vs : services) {
    std::vector<std::vector<std::string>> ids(vs.reals.size());
    for (std::size_t r = 0; r < vs.reals.size(); ++r) {
      for (const auto& check : vs.reals[r].checks) {
        CheckSettings resolved = resolve_check(check, vs.reals[r], vs);
        std::string id = probe_identity(resolved, !vs.alpha);
        ids[r].push_back(id);
        if (probes.count(id)) continue;
        if (auto old = probes_.find(id); old != probes_.end()) {
          probes.emplace(id, old->second);
          probes_.erase(old);
          continue;
        }
        auto checker = std::make_shared<Checker>(ex_, resolved, !vs.alpha, probe_for(check.kind),
                                                 [this, id] { on_probe_change(id); });
        probes.emplace(id, checker);
        fresh.push_back(checker);
      }
    }
    std::optional<bool> quorum;
    const Service* old = nullptr;
    if (const auto found = old_by_key.find(vs.spec.key); found != old_by_key.end()) {
      old = found->second;
      old_by_key.erase(found);
    }
    if (old) quorum = old->state.quorum_up();
    // Verdicts need the probe map of the new configuration, so compute them by hand here.
    std::vector<RealVerdict> verdicts(vs.reals.size());
    for (std::size_t r = 0; r < vs.reals.size(); ++r)
      for (const auto& id : ids[r]) {
        const auto& checker = probes.at(id);
        verdicts[r].up = verdicts[r].up && checker->up();
        if (checker->weight()) verdicts[r].weight = checker->weight();
      }
    auto service = std::make_unique<Service>(vs, std::move(verdicts), quorum);
    service->probe_ids = std::move(ids);
    for (const auto& real_ids : service->probe_ids)
      for (const auto& id : real_ids) {
        auto& list = users[id];
        if (list.empty() || list.back() != service.get()) list.push_back(service.get());
      }
    // A real the new configuration drops keeps its established flows (the daemon drains it);
    // only a real that fails its checks has its flows ended.
    if (!old || old->state.spec() != service->state.spec()) {
      if (hooks_.apply) hooks_.apply(service->state.spec());
    }
    next_services.push_back(std::move(service));
  }
  if (hooks_.remove)
    for (const auto& [key, dropped] : old_by_key) hooks_.remove(key);
  for (auto& [id, checker] : probes_) checker->stop();  // probes no longer configured
  probes_ = std::move(probes);
  services_ = std::move(next_services);
  users_ = std::move(users);
  for (auto& checker : fresh) {
    Millis warmup = checker->settings().warmup.value_or(Millis{0});
    Millis delay{0};
    if (warmup.count() > 0)
      delay = Millis{std::uniform_int_distribution<long long>(0, warmup.count())(rng_)};
    checker->start(delay);
  }
}

std::vector<RealVerdict> HealthMonitor::verdicts_of(const Service& service) const {
  std::vector<RealVerdict> verdicts(service.probe_ids.size());
  for (std::size_t r = 0; r < service.probe_ids.size(); ++r)
    for (const auto& id : service.probe_ids[r]) {
      const auto& checker = probes_.at(id);
      verdicts[r].up = verdicts[r].up && checker->up();
      if (checker->weight()) verdicts[r].weight = checker->weight();
    }
  return verdicts;
}

bool HealthMonitor::verdict_pending(const std::vector<std::string>& probe_ids) const {
  bool unsettled = false;
  for (const auto& id : probe_ids) {
    const auto& checker = probes_.at(id);
    if (!checker->settled()) unsettled = true;
    else if (!checker->up()) return false;  // down whatever the others say
  }
  return unsettled;
}

void HealthMonitor::on_probe_change(const std::string& id) {
  if (stopped_) return;
  auto it = users_.find(id);
  if (it == users_.end()) return;
  for (Service* service : it->second) {
    Actions actions = service->state.update(verdicts_of(*service));
    if (hooks_.on_event) {
      for (const auto& event : actions.events) {
        std::string why;
        if (event.kind == HealthEvent::Kind::real && !event.up && event.real_index < service->probe_ids.size()) {
          for (const auto& pid : service->probe_ids[event.real_index]) {
            const auto& checker = probes_.at(pid);
            if (!checker->up()) why = checker->status().last_error;
          }
        }
        hooks_.on_event(service->state.settings(), event, why);
      }
    }
    perform(service->state.settings().spec.key, std::move(actions));
  }
  if (hooks_.verdicts_changed) hooks_.verdicts_changed();
}

void HealthMonitor::perform(const dataplane::ServiceKey& key, Actions actions) {
  if (actions.apply && hooks_.apply) hooks_.apply(*actions.apply);
  if (hooks_.flush_flows_to)
    for (const auto& real : actions.flush) hooks_.flush_flows_to(key, real);
  if (!actions.scripts.empty()) run_scripts(std::move(actions.scripts));
}

void HealthMonitor::run_scripts(std::vector<std::string> scripts) {
  if (!hooks_.run_script) {
    spdlog::warn("check: no script runner, not running {} script(s)", scripts.size());
    return;
  }
  // One coroutine per batch keeps the scripts of one event in order.
  asio::co_spawn(
      ex_,
      [runner = hooks_.run_script, timeout = hooks_.script_timeout,
       scripts = std::move(scripts)]() -> asio::awaitable<void> {
        for (const auto& line : scripts) {
          int status = co_await runner(split_command_line(line), timeout, std::string{});
          if (status != 0) spdlog::warn("check: script '{}' exited with {}", line, status);
        }
      },
      [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          spdlog::error("check: script batch failed: {}", x.what());
        }
      });
}

asio::awaitable<void> HealthMonitor::shutdown() {
  stopped_ = true;
  for (auto& [id, checker] : probes_) checker->stop();
  if (!hooks_.run_script) co_return;
  for (const auto& service : services_) {
    for (const auto& line : service->state.shutdown().scripts) {
      int status = co_await hooks_.run_script(split_command_line(line), hooks_.script_timeout, std::string{});
      if (status != 0) spdlog::warn("check: script '{}' exited with {}", line, status);
    }
  }
}

std::vector<dataplane::ServiceSpec> HealthMonitor::specs() const {
  std::vector<dataplane::ServiceSpec> out;
  for (const auto& s : services_) out.push_back(s->state.spec());
  return out;
}

std::vector<ServiceHealth> HealthMonitor::snapshot() const {
  std::vector<ServiceHealth> out;
  for (const auto& s : services_) {
    const auto& st = s->state;
    ServiceHealth h;
    h.name = st.settings().name;
    h.key = st.settings().spec.key;
    h.quorum_up = st.quorum_up();
    h.sorry_in_use = st.sorry_in_use();
    h.alive_weight = st.alive_weight();
    for (std::size_t r = 0; r < st.settings().reals.size(); ++r) {
      const auto& rs = st.settings().reals[r];
      RealHealth rh;
      rh.address = rs.address;
      rh.port = rs.port;
      rh.up = st.verdicts()[r].up;
      rh.verdict_pending = verdict_pending(s->probe_ids[r]);
      h.checks_pending = h.checks_pending || rh.verdict_pending;
      for (const auto& real : st.spec().reals)
        if (real.address == rs.address && real.port == rs.port) {
          rh.in_dataplane = true;
          rh.weight = real.weight;
        }
      for (const auto& id : s->probe_ids[r]) {
        const auto& checker = probes_.at(id);
        rh.checks.push_back({checker->settings().kind, *checker->settings().connect_ip,
                             *checker->settings().connect_port, checker->status()});
      }
      h.reals.push_back(std::move(rh));
    }
    out.push_back(std::move(h));
  }
  return out;
}

std::uint64_t HealthMonitor::checks_run() const {
  std::uint64_t n = 0;
  for (const auto& [id, checker] : probes_) n += checker->status().runs;
  return n;
}

}  // namespace xlb::check
