#include "ctrl/daemon/check_plan.hpp"

namespace xlb::daemon {

namespace {

using std::chrono::seconds;

check::CheckKind kind_of(config::CheckerType type) {
  switch (type) {
    case config::CheckerType::http_get: return check::CheckKind::http_get;
    case config::CheckerType::ssl_get: return check::CheckKind::ssl_get;
    case config::CheckerType::tcp_check: return check::CheckKind::tcp;
    case config::CheckerType::misc_check: return check::CheckKind::misc;
    case config::CheckerType::dns_check: return check::CheckKind::dns;
    case config::CheckerType::udp_check: return check::CheckKind::udp;
    case config::CheckerType::ping_check: return check::CheckKind::ping;
  }
  return check::CheckKind::tcp;
}

check::CheckSettings checker_settings(const config::Checker& c, const config::VirtualServer& vs) {
  check::CheckSettings s;
  s.kind = kind_of(c.type);
  if (c.connect_ip->has_value()) s.connect_ip = to_asio(**c.connect_ip);
  if (*c.connect_port != 0) s.connect_port = *c.connect_port;
  if (c.bindto->has_value()) s.bindto = to_asio(**c.bindto);
  s.connect_timeout = seconds(*c.connect_timeout);
  s.retry = *c.retry;
  s.delay_before_retry = seconds(*c.delay_before_retry);
  if (c.delay_loop.set) s.delay_loop = seconds(*c.delay_loop);
  if (*c.warmup != 0) s.warmup = seconds(*c.warmup);
  for (const auto& url : c.url) {
    check::UrlSettings u;
    if (url.path.set) u.path = *url.path;
    u.digest = *url.digest;
    for (const auto& range : url.status_code) u.status_codes.push_back({range.low, range.high});
    s.urls.push_back(std::move(u));
  }
  s.virtualhost = c.virtualhost.set ? *c.virtualhost : *vs.virtualhost;
  s.sni = *c.sni_server_name;
  s.misc_path = *c.misc_path;
  if (*c.misc_timeout != 0) s.misc_timeout = seconds(*c.misc_timeout);
  s.misc_dynamic = *c.misc_dynamic;
  s.user = *c.user;
  s.dns_type = *c.dns_type;
  s.dns_name = *c.dns_name;
  return s;
}

}  // namespace

std::vector<check::VirtualServerSettings> plan_checks(const std::vector<PlannedService>& services) {
  std::vector<check::VirtualServerSettings> out;
  for (const auto& planned : services) {
    const auto& vs = *planned.source;
    check::VirtualServerSettings v;
    v.name = describe(planned.spec.key);
    v.spec = planned.spec;
    v.delay_loop = seconds(*vs.delay_loop);
    v.alpha = *vs.alpha;
    v.omega = *vs.omega;
    v.inhibit_on_failure = *vs.inhibit_on_failure;
    v.quorum = *vs.quorum;
    v.hysteresis = *vs.hysteresis;
    v.quorum_up = *vs.quorum_up;
    v.quorum_down = *vs.quorum_down;
    for (std::size_t i = 0; i < vs.real_servers.size(); ++i) {
      const auto& rs = vs.real_servers[i];
      check::RealSettings r;
      r.address = to_asio(rs.address);
      r.port = rs.port;
      r.weight = *rs.weight;
      r.forwarding = planned.spec.reals.at(i).forwarding;
      if (rs.inhibit_on_failure.set) r.inhibit_on_failure = *rs.inhibit_on_failure;
      r.notify_up = *rs.notify_up;
      r.notify_down = *rs.notify_down;
      for (const auto& c : rs.checkers) r.checks.push_back(checker_settings(c, vs));
      v.reals.push_back(std::move(r));
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace xlb::daemon
