#include "ctrl/config/writer.hpp"

#include <string>

namespace xlb::config {
namespace {

// A word the lexer reads back as one token with the same text.
std::string word(const std::string& s) {
  const bool plain = !s.empty() && s.find_first_of(" \t\r\f\v\"{}") == std::string::npos && s[0] != '#' &&
                     s[0] != '!';
  if (plain) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

std::string seconds(std::uint32_t cs) {
  std::string s = std::to_string(cs / 100);
  if (cs % 100) s += "." + std::string(cs % 100 < 10 ? "0" : "") + std::to_string(cs % 100);
  return s;
}

std::string on_off(bool b) { return b ? "on" : "off"; }

class Writer {
 public:
  explicit Writer(std::ostream& out) : out_(out) {}

  void line(const std::string& text) { out_ << std::string(depth_ * 4, ' ') << text << '\n'; }
  void open(const std::string& head) {
    line(head + " {");
    ++depth_;
  }
  void close() {
    --depth_;
    line("}");
  }
  void str(const char* kw, const Located<std::string>& v) {
    if (v.set || !v.value.empty()) line(std::string(kw) + " " + word(v.value));
  }
  template <class T>
  void num(const char* kw, const Located<T>& v) {
    line(std::string(kw) + " " + std::to_string(static_cast<long long>(v.value)));
  }
  void flag(const char* kw, const Located<bool>& v) { line(std::string(kw) + " " + on_off(v.value)); }
  void opt_flag(const char* kw, const Located<std::optional<bool>>& v) {
    if (v.value) line(std::string(kw) + " " + on_off(*v.value));
  }

  void global(const GlobalDefs& g) {
    open("global_defs");
    str("router_id", g.router_id);
    if (!g.notification_email.empty()) {
      open("notification_email");
      for (const auto& e : g.notification_email) line(word(e.value));
      close();
    }
    str("notification_email_from", g.notification_email_from);
    if (!g.smtp_server.value.host.empty())
      line("smtp_server " + word(g.smtp_server.value.host) + " " + std::to_string(g.smtp_server.value.port));
    str("smtp_helo_name", g.smtp_helo_name);
    num("smtp_connect_timeout", g.smtp_connect_timeout);
    flag("smtp_alert", g.smtp_alert);
    opt_flag("smtp_alert_vrrp", g.smtp_alert_vrrp);
    opt_flag("smtp_alert_checker", g.smtp_alert_checker);
    if (!g.script_user.value.empty())
      line("script_user " + word(g.script_user.value) +
           (g.script_group.value.empty() ? "" : " " + word(g.script_group.value)));
    flag("enable_script_security", g.enable_script_security);
    line("vrrp_mcast_group4 " + g.vrrp_mcast_group4.value.to_string());
    line("vrrp_mcast_group6 " + g.vrrp_mcast_group6.value.to_string());
    num("vrrp_garp_master_delay", g.vrrp_garp_master_delay);
    num("vrrp_garp_master_repeat", g.vrrp_garp_master_repeat);
    num("vrrp_garp_master_refresh", g.vrrp_garp_master_refresh);
    flag("vrrp_check_unicast_src", g.vrrp_check_unicast_src);
    flag("vrrp_strict", g.vrrp_strict);
    num("vrrp_version", g.vrrp_version);
    const auto& s = g.lvs_sync_daemon.value;
    if (s.enabled) line("lvs_sync_daemon " + word(s.interface) + " " + word(s.instance) + " id " + std::to_string(s.sync_id));
    if (const auto& p = g.flow_sync_peers.value; p.enabled) {
      std::string l = "flow_sync_peers " + word(p.interface);
      for (const auto& a : p.peers) l += " " + a.to_string();
      line(l + " id " + std::to_string(p.sync_id));
    }
    line("lb_backend " + to_string(g.lb_backend.value));
    str("xdp_pin_dir", g.xdp_pin_dir);
    if (g.vip_route_table.value != 0) num("vip_route_table", g.vip_route_table);
    num("vip_route_grace", g.vip_route_grace);
    if (!g.notify_announce.value.empty()) str("notify_announce", g.notify_announce);
    const auto& m = g.metrics_listen.value;
    line("metrics_listen " + (m.enabled ? (m.host.find(':') != std::string::npos ? "[" + m.host + "]" : m.host) + ":" +
                                              std::to_string(m.port)
                                        : std::string("off")));
    flag("status_page", g.status_page);
    num("control_socket_max_connections", g.control_socket_max_connections);
    num("control_socket_idle_timeout", g.control_socket_idle_timeout);
    num("control_socket_request_timeout", g.control_socket_request_timeout);
    num("metrics_max_connections", g.metrics_max_connections);
    num("metrics_idle_timeout", g.metrics_idle_timeout);
    num("metrics_request_timeout", g.metrics_request_timeout);
    num("sync_max_clock_skew", g.sync_max_clock_skew);
    num("flow_sync_join_wait", g.flow_sync_join_wait);
    str("smtp_auth_user", g.smtp_auth_user);
    str("smtp_password_file", g.smtp_password_file);
    static constexpr const char* tls[] = {"none", "starttls", "implicit"};
    line(std::string("smtp_tls ") + tls[static_cast<int>(g.smtp_tls.value)]);
    num("smtp_digest_window", g.smtp_digest_window);
    const auto& q = g.smtp_quiet_hours.value;
    auto hhmm = [](unsigned m) {
      char b[8];
      std::snprintf(b, sizeof b, "%02u:%02u", m / 60, m % 60);
      return std::string(b);
    };
    if (q.enabled) line("smtp_quiet_hours " + hhmm(q.start_minute) + "-" + hhmm(q.end_minute));
    line(std::string("vrrp_v3_checksum ") + (g.vrrp_v3_checksum.value == V3Checksum::keepalived ? "keepalived" : "rfc9568"));
    num("tcp_flow_timeout", g.tcp_flow_timeout);
    num("udp_flow_timeout", g.udp_flow_timeout);
    num("xdp_max_flows", g.xdp_max_flows);
    num("xdp_max_services", g.xdp_max_services);
    num("xdp_max_reals", g.xdp_max_reals);
    num("xdp_max_persist", g.xdp_max_persist);
    num("xdp_ring_size", g.xdp_ring_size);
    line(std::string("xdp_flow_lru ") + (g.xdp_flow_lru.value == FlowLru::shared ? "shared" : "per_cpu"));
    close();
  }

  void script(const VrrpScript& s) {
    open("vrrp_script " + word(s.name.value));
    str("script", s.script);
    num("interval", s.interval);
    if (s.timeout.value) num("timeout", s.timeout);
    num("weight", s.weight);
    num("rise", s.rise);
    num("fall", s.fall);
    if (!s.user.value.empty()) line("user " + word(s.user.value) + (s.group.value.empty() ? "" : " " + word(s.group.value)));
    close();
  }

  void notify(const NotifyScripts& n) {
    str("notify", n.notify);
    str("notify_master", n.notify_master);
    str("notify_backup", n.notify_backup);
    str("notify_fault", n.notify_fault);
    str("notify_stop", n.notify_stop);
  }

  void sync_group(const VrrpSyncGroup& g) {
    open("vrrp_sync_group " + word(g.name.value));
    open("group");
    for (const auto& m : g.group) line(word(m.value));
    close();
    notify(g.notify);
    flag("smtp_alert", g.smtp_alert);
    close();
  }

  void vips(const char* kw, const std::vector<VirtualIp>& list) {
    if (list.empty()) return;
    open(kw);
    for (const auto& v : list) {
      std::string s = v.address.to_string() + "/" + std::to_string(v.prefix);
      if (!v.dev.empty()) s += " dev " + word(v.dev);
      if (!v.label.empty()) s += " label " + word(v.label);
      if (v.broadcast) s += " brd " + v.broadcast->to_string();
      if (!v.scope.empty()) s += " scope " + v.scope;
      line(s);
    }
    close();
  }

  void instance(const VrrpInstance& in) {
    open("vrrp_instance " + word(in.name.value));
    line(in.state.value == VrrpState::master ? "state MASTER" : "state BACKUP");
    str("interface", in.interface);
    if (in.virtual_router_id.set) num("virtual_router_id", in.virtual_router_id);
    num("priority", in.priority);
    line("advert_int " + seconds(in.advert_int_cs.value));
    num("version", in.version);
    line(in.nopreempt.value ? "nopreempt" : "preempt");
    num("preempt_delay", in.preempt_delay);
    if (in.auth_type.value != AuthType::none || in.auth_pass.set) {
      open("authentication");
      if (in.auth_type.value != AuthType::none) line(in.auth_type.value == AuthType::pass ? "auth_type PASS" : "auth_type AH");
      str("auth_pass", in.auth_pass);
      close();
    }
    vips("virtual_ipaddress", in.virtual_ipaddress);
    vips("virtual_ipaddress_excluded", in.virtual_ipaddress_excluded);
    if (in.unicast_src_ip.value) line("unicast_src_ip " + in.unicast_src_ip.value->to_string());
    if (!in.unicast_peer.empty()) {
      open("unicast_peer");
      for (const auto& p : in.unicast_peer)
        line(p.address.to_string() + (p.min_ttl ? " min_ttl " + std::to_string(*p.min_ttl) : "") +
             (p.max_ttl ? " max_ttl " + std::to_string(*p.max_ttl) : ""));
      close();
    }
    if (!in.track_interface.empty()) {
      open("track_interface");
      for (const auto& t : in.track_interface) line(word(t.name.value) + " weight " + std::to_string(t.weight));
      close();
    }
    if (!in.track_script.empty()) {
      open("track_script");
      for (const auto& t : in.track_script)
        line(word(t.name.value) + (t.weight ? " weight " + std::to_string(*t.weight) : ""));
      close();
    }
    notify(in.notify);
    opt_flag("smtp_alert", in.smtp_alert);
    line(in.accept.value ? "accept" : "no_accept");
    num("garp_master_delay", in.garp_master_delay);
    num("garp_master_repeat", in.garp_master_repeat);
    num("garp_master_refresh", in.garp_master_refresh);
    if (!in.heartbeat_extra.empty()) {
      open("heartbeat_extra");
      for (const auto& h : in.heartbeat_extra)
        line(h.kind == HeartbeatPath::Kind::interface ? "interface " + word(h.interface) : "peer " + h.peer->to_string());
      close();
    }
    line("split_brain_check " + on_off(in.split_brain_check.value));
    close();
  }

  void checker(const Checker& c) {
    static constexpr const char* names[] = {"HTTP_GET", "SSL_GET", "TCP_CHECK", "MISC_CHECK", "DNS_CHECK", "UDP_CHECK", "PING_CHECK"};
    open(names[static_cast<int>(c.type)]);
    if (c.connect_ip.value) line("connect_ip " + c.connect_ip.value->to_string());
    if (c.connect_port.value) num("connect_port", c.connect_port);
    if (c.bindto.value) line("bindto " + c.bindto.value->to_string());
    num("connect_timeout", c.connect_timeout);
    num("retry", c.retry);
    num("delay_before_retry", c.delay_before_retry);
    num("delay_loop", c.delay_loop);
    num("warmup", c.warmup);
    const bool http = c.type == CheckerType::http_get || c.type == CheckerType::ssl_get;
    for (const auto& u : c.url) {
      open("url");
      str("path", u.path);
      str("digest", u.digest);
      if (!u.status_code.empty()) {
        std::string s = "status_code";
        for (const auto& r : u.status_code)
          s += " " + std::to_string(r.low) + (r.high != r.low ? "-" + std::to_string(r.high) : "");
        line(s);
      }
      str("virtualhost", u.virtualhost);
      close();
    }
    if (http) str("virtualhost", c.virtualhost);
    if (c.type == CheckerType::ssl_get) str("sni_server_name", c.sni_server_name);
    if (c.type == CheckerType::misc_check) {
      str("misc_path", c.misc_path);
      num("misc_timeout", c.misc_timeout);
      if (c.misc_dynamic.value) line("misc_dynamic");
      str("user", c.user);
    }
    if (c.type == CheckerType::dns_check) {
      str("type", c.dns_type);
      str("name", c.dns_name);
    }
    close();
  }

  void virtual_server(const VirtualServer& vs) {
    switch (vs.kind) {
      case VirtualServer::Kind::address: open("virtual_server " + vs.address.to_string() + " " + std::to_string(vs.port)); break;
      case VirtualServer::Kind::fwmark: open("virtual_server fwmark " + std::to_string(vs.fwmark)); break;
      case VirtualServer::Kind::group: open("virtual_server group " + word(vs.group)); break;
    }
    num("delay_loop", vs.delay_loop);
    line("lb_algo " + vs.lb_algo.value);
    line("lb_kind " + to_string(vs.lb_kind.value) +
         (vs.lb_kind.value == LbKind::tun && vs.tunnel.set ? " type " + to_string(vs.tunnel.value) : ""));
    for (const auto& t : vs.tunnel_source)
      line("tunnel_source " + t.value.address.to_string() + "/" + std::to_string(t.value.prefix));
    num("persistence_timeout", vs.persistence_timeout);
    if (vs.persistence_granularity.value != 255) num("persistence_granularity", vs.persistence_granularity);
    line(vs.protocol.value == Protocol::tcp ? "protocol TCP" : "protocol UDP");
    if (const auto& s = vs.sorry_server.value) line("sorry_server " + s->address.to_string() + " " + std::to_string(s->port));
    num("quorum", vs.quorum);
    str("quorum_up", vs.quorum_up);
    str("quorum_down", vs.quorum_down);
    num("hysteresis", vs.hysteresis);
    flag("alpha", vs.alpha);
    flag("omega", vs.omega);
    flag("inhibit_on_failure", vs.inhibit_on_failure);
    str("virtualhost", vs.virtualhost);
    opt_flag("smtp_alert", vs.smtp_alert);
    if (vs.lb_backend.value) line("lb_backend " + to_string(*vs.lb_backend.value));
    for (const auto& rs : vs.real_servers) {
      open("real_server " + rs.address.to_string() + " " + std::to_string(rs.port));
      num("weight", rs.weight);
      flag("inhibit_on_failure", rs.inhibit_on_failure);
      str("notify_up", rs.notify_up);
      str("notify_down", rs.notify_down);
      for (const auto& c : rs.checkers) checker(c);
      close();
    }
    close();
  }

  void vs_group(const VirtualServerGroup& g) {
    open("virtual_server_group " + word(g.name.value));
    for (const auto& e : g.entries) {
      if (e.kind == VsGroupEntry::Kind::fwmark) {
        line("fwmark " + std::to_string(e.fwmark));
        continue;
      }
      std::string s = e.first.to_string();
      if (e.last != e.first) {
        char b[8];
        if (e.first.is_v4()) std::snprintf(b, sizeof b, "%u", e.last.bytes[3]);
        else std::snprintf(b, sizeof b, "%x", (e.last.bytes[14] << 8) | e.last.bytes[15]);
        s += std::string("-") + b;
      }
      line(s + " " + std::to_string(e.port));
    }
    close();
  }

 private:
  std::ostream& out_;
  unsigned depth_ = 0;
};

}  // namespace

void write_config(std::ostream& out, const Config& cfg) {
  Writer w(out);
  w.global(cfg.global_defs);
  for (const auto& s : cfg.vrrp_scripts) w.script(s);
  for (const auto& g : cfg.vrrp_sync_groups) w.sync_group(g);
  for (const auto& in : cfg.vrrp_instances) w.instance(in);
  for (const auto& g : cfg.virtual_server_groups) w.vs_group(g);
  for (const auto& vs : cfg.virtual_servers) w.virtual_server(vs);
}

}  // namespace xlb::config
