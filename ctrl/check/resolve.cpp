#include "ctrl/check/resolve.hpp"

#include <sstream>

namespace xlb::check {

const char* to_string(CheckKind kind) {
  switch (kind) {
    case CheckKind::http_get: return "HTTP_GET";
    case CheckKind::ssl_get: return "SSL_GET";
    case CheckKind::tcp: return "TCP_CHECK";
    case CheckKind::misc: return "MISC_CHECK";
    case CheckKind::dns: return "DNS_CHECK";
    case CheckKind::udp: return "UDP_CHECK";
    case CheckKind::ping: return "PING_CHECK";
  }
  return "?";
}

CheckSettings resolve_check(const CheckSettings& check, const RealSettings& real,
                            const VirtualServerSettings& vs) {
  CheckSettings r = check;
  if (!r.connect_ip) r.connect_ip = real.address;
  if (!r.connect_port) r.connect_port = r.kind == CheckKind::dns && real.port == 0 ? 53 : real.port;
  if (!r.retry) r.retry = 1;
  if (!r.delay_before_retry) r.delay_before_retry = Millis{1000};
  if (!r.delay_loop) r.delay_loop = vs.delay_loop;
  if (!r.warmup) r.warmup = vs.warmup.value_or(Millis{0});
  if (!r.misc_timeout) r.misc_timeout = *r.delay_loop;
  if (r.kind != CheckKind::misc) {
    r.misc_path.clear();
    r.misc_dynamic = false;
    r.user.clear();
  }
  return r;
}

std::string probe_identity(const CheckSettings& c, bool start_up) {
  std::ostringstream o;
  auto opt_ip = [&](const std::optional<IpAddress>& ip) { o << (ip ? ip->to_string() : "-") << '|'; };
  o << to_string(c.kind) << '|' << start_up << '|';
  opt_ip(c.connect_ip);
  o << c.connect_port.value_or(0) << '|';
  opt_ip(c.bindto);
  o << c.bind_port.value_or(0) << '|' << c.connect_timeout.count() << '|' << c.retry.value_or(0)
    << '|' << c.delay_before_retry.value_or(Millis{0}).count() << '|'
    << c.delay_loop.value_or(Millis{0}).count() << '|' << c.warmup.value_or(Millis{0}).count()
    << '|';
  for (const auto& url : c.urls) {
    o << "url:" << url.path.size() << ':' << url.path << ':' << url.digest << ':';
    for (const auto& s : url.status_codes) o << s.low << '-' << s.high << ',';
    o << '|';
  }
  o << c.virtualhost.size() << ':' << c.virtualhost << '|' << c.sni.size() << ':' << c.sni << '|'
    << c.enable_sni << '|' << c.misc_path.size() << ':' << c.misc_path << '|'
    << c.misc_timeout.value_or(Millis{0}).count() << '|' << c.misc_dynamic << '|' << c.user
    << '|' << c.dns_type << '|' << c.dns_name << '|' << c.require_reply << '|';
  for (auto b : c.payload) o << static_cast<int>(b) << '.';
  return o.str();
}

}  // namespace xlb::check
