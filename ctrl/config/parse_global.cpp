#include <charconv>

#include "ctrl/config/parsers.hpp"

namespace xlb::config {
namespace {

using G = GlobalDefs;
using K = Keyword<G>;
constexpr auto S = Support::supported;
constexpr auto W = Support::warned;
constexpr auto R = Support::refused;

void str(ParseContext& c, const Node& n, Located<std::string>& dst) { c.set(dst, ParseContext::joined(n), n); }

void uint_field(ParseContext& c, const Node& n, Located<std::uint32_t>& dst, std::int64_t lo,
                std::int64_t hi) {
  if (auto v = c.integer(n.args[0], lo, hi, n.key.text)) c.set(dst, static_cast<std::uint32_t>(*v), n);
}

bool is_prime(std::uint32_t v) {
  if (v < 2) return false;
  for (std::uint32_t d = 2; d * d <= v; ++d) {
    if (v % d == 0) return false;
  }
  return true;
}

void flag_field(ParseContext& c, const Node& n, Located<bool>& dst) {
  if (auto v = c.flag(n)) c.set(dst, *v, n);
}

void opt_flag_field(ParseContext& c, const Node& n, Located<std::optional<bool>>& dst) {
  if (auto v = c.flag(n)) c.set(dst, std::optional<bool>(*v), n);
}

std::optional<std::uint16_t> hhmm(ParseContext& c, const Token& t, std::string_view text) {
  unsigned h = 0, m = 0;
  if (text.size() == 5 && text[2] == ':') {
    auto r1 = std::from_chars(text.data(), text.data() + 2, h);
    auto r2 = std::from_chars(text.data() + 3, text.data() + 5, m);
    if (r1.ec == std::errc{} && r1.ptr == text.data() + 2 && r2.ec == std::errc{} &&
        r2.ptr == text.data() + 5 && h < 24 && m < 60)
      return static_cast<std::uint16_t>(h * 60 + m);
  }
  c.diags().error(t.loc, "'smtp_quiet_hours' expects HH:MM-HH:MM (24-hour clock), got '" + t.text + "'");
  return std::nullopt;
}

constexpr K global_keywords[] = {
    {"router_id", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { str(c, n, g.router_id); }, "host name"},
    {"lvs_id", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { str(c, n, g.router_id); }, "", false, "old name of router_id"},
    {"notification_email", S, true, 0, 0,
     [](ParseContext& c, const Node& n, G& g) {
       for (const auto& e : n.children) {
         if (e.has_block || !e.args.empty()) {
           c.diags().error(e.key.loc, "notification_email takes one address per line");
           continue;
         }
         g.notification_email.push_back({e.key.text, e.key.loc, true});
       }
     }},
    {"notification_email_from", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { str(c, n, g.notification_email_from); }},
    {"smtp_server", S, false, 1, 2,
     [](ParseContext& c, const Node& n, G& g) {
       SmtpServer s{n.args[0].text, 25};
       if (n.args.size() == 2) {
         auto p = c.port(n.args[1], "smtp_server port");
         if (!p) return;
         s.port = *p;
       }
       c.set(g.smtp_server, s, n);
     }, "port 25"},
    {"smtp_helo_name", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { str(c, n, g.smtp_helo_name); }, "router_id"},
    {"smtp_connect_timeout", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.smtp_connect_timeout, 1, 3600); }, "30"},
    {"smtp_alert", S, false, 0, 1, [](ParseContext& c, const Node& n, G& g) { flag_field(c, n, g.smtp_alert); }, "off"},
    {"smtp_alert_vrrp", S, false, 0, 1, [](ParseContext& c, const Node& n, G& g) { opt_flag_field(c, n, g.smtp_alert_vrrp); }, "smtp_alert"},
    {"smtp_alert_checker", S, false, 0, 1, [](ParseContext& c, const Node& n, G& g) { opt_flag_field(c, n, g.smtp_alert_checker); }, "smtp_alert"},
    {"script_user", S, false, 1, 2,
     [](ParseContext& c, const Node& n, G& g) {
       c.set(g.script_user, n.args[0].text, n);
       if (n.args.size() == 2) c.set(g.script_group, n.args[1].text, n);
     }, "keepalived_script, else root"},
    {"enable_script_security", S, false, 0, 1, [](ParseContext& c, const Node& n, G& g) { flag_field(c, n, g.enable_script_security); }, "off"},
    {"vrrp_mcast_group4", S, false, 1, 1,
     [](ParseContext& c, const Node& n, G& g) {
       auto a = c.address(n.args[0], n.key.text);
       if (a && (!a->is_v4() || a->bytes[0] < 224 || a->bytes[0] > 239))
         c.diags().error(n.args[0].loc, "vrrp_mcast_group4 must be an IPv4 multicast address (224.0.0.0/4)");
       else if (a) c.set(g.vrrp_mcast_group4, *a, n);
     }, "224.0.0.18"},
    {"vrrp_mcast_group6", S, false, 1, 1,
     [](ParseContext& c, const Node& n, G& g) {
       auto a = c.address(n.args[0], n.key.text);
       if (a && (a->is_v4() || a->bytes[0] != 0xff))
         c.diags().error(n.args[0].loc, "vrrp_mcast_group6 must be an IPv6 multicast address (ff00::/8)");
       else if (a) c.set(g.vrrp_mcast_group6, *a, n);
     }, "ff02::12"},
    {"vrrp_garp_master_delay", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.vrrp_garp_master_delay, 0, 86400); }, "5"},
    {"vrrp_garp_master_repeat", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.vrrp_garp_master_repeat, 0, 255); }, "5"},
    {"vrrp_garp_master_refresh", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.vrrp_garp_master_refresh, 0, 86400); }, "0 (never)"},
    {"vrrp_check_unicast_src", S, false, 0, 1, [](ParseContext& c, const Node& n, G& g) { flag_field(c, n, g.vrrp_check_unicast_src); }, "off"},
    {"vrrp_strict", S, false, 0, 1, [](ParseContext& c, const Node& n, G& g) { flag_field(c, n, g.vrrp_strict); }, "off"},
    {"vrrp_version", S, false, 1, 1,
     [](ParseContext& c, const Node& n, G& g) {
       if (auto v = c.integer(n.args[0], 2, 3, n.key.text)) c.set(g.vrrp_version, static_cast<std::uint8_t>(*v), n);
     }, "2"},
    {"lvs_sync_daemon", S, false, 2, 4,
     [](ParseContext& c, const Node& n, G& g) {
       LvsSyncDaemon d{true, n.args[0].text, n.args[1].text, 0};
       if (n.args.size() == 3 || (n.args.size() == 4 && n.args[2].text != "id")) {
         c.diags().error(n.args[2].loc, "lvs_sync_daemon expects INTERFACE VRRP_INSTANCE [id N]");
         return;
       }
       if (n.args.size() == 4) {
         auto id = c.integer(n.args[3], 0, 255, "lvs_sync_daemon id");
         if (!id) return;
         d.sync_id = static_cast<std::uint32_t>(*id);
       }
       c.set(g.lvs_sync_daemon, d, n);
     }, "off", false, "XDP flows and persistence entries (README, Failover with state); IPVS virtual servers are not synced"},
    // xlb additions
    {"lb_backend", S, false, 1, 1,
     [](ParseContext& c, const Node& n, G& g) {
       if (auto i = c.choice(n.args[0], {"auto", "xdp", "ipvs"}, "lb_backend"))
         c.set(g.lb_backend, static_cast<LbBackend>(*i), n);
     }, "auto", true},
    {"xdp_pin_dir", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { str(c, n, g.xdp_pin_dir); }, "/sys/fs/bpf/xlb", true},
    {"metrics_listen", S, false, 1, 1,
     [](ParseContext& c, const Node& n, G& g) {
       const Token& t = n.args[0];
       if (t.text == "off") return c.set(g.metrics_listen, MetricsListen{}, n);
       const auto colon = t.text.rfind(':');
       if (colon == std::string::npos || colon == 0) {
         c.diags().error(t.loc, "'metrics_listen' expects ADDR:PORT or off, got '" + t.text + "'");
         return;
       }
       std::string host = t.text.substr(0, colon);
       if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
       if (!IpAddr::parse(host)) {
         c.diags().error(t.loc, "'metrics_listen' expects ADDR:PORT or off, got '" + t.text + "'");
         return;
       }
       Token pt = t;
       pt.text = t.text.substr(colon + 1);
       pt.loc.col += static_cast<std::uint32_t>(colon + 1);
       auto p = c.integer(pt, 1, 65535, "metrics_listen port");
       if (p) c.set(g.metrics_listen, MetricsListen{true, host, static_cast<std::uint16_t>(*p)}, n);
     }, "127.0.0.1:9780", true},
    {"status_page", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { flag_field(c, n, g.status_page); }, "on", true,
     "the live status page at / of metrics_listen; off leaves /metrics and /api/v1 (docs/api.md)"},
    {"vip_route_table", S, false, 1, 1,
     [](ParseContext& c, const Node& n, G& g) {
       // main, local and default hold the node's own routes: a VIP route there is no announcement.
       auto t = c.integer(n.args[0], 1, 4294967295LL, "vip_route_table");
       if (!t) return;
       if (*t >= 253 && *t <= 255) {
         c.diags().error(n.args[0].loc, "'vip_route_table' must not be default (253), main (254) or local (255)");
         return;
       }
       c.set(g.vip_route_table, static_cast<std::uint32_t>(*t), n);
     }, "off", true,
     "kernel table (1-4294967295, not 253-255) where xlbd keeps a host route per VIP while the VIP can serve, for BIRD "
     "or FRR to announce; see docs/scale-out.md"},
    {"vip_route_grace", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.vip_route_grace, 0, 600); }, "2", true,
     "seconds xlbd keeps forwarding on SIGTERM after withdrawing its VIP routes"},
    {"notify_announce", S, false, 1, 64, [](ParseContext& c, const Node& n, G& g) { str(c, n, g.notify_announce); }, "none", true,
     "script run when a VIP's route is added or removed, and with a VIP's first state when that is not announced: ANNOUNCE <vip> ANNOUNCED or WITHDRAWN <reason>"},
    {"control_socket_max_connections", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.control_socket_max_connections, 1, 4096); }, "32", true, "connections the control socket holds at once; see docs/security.md"},
    {"control_socket_idle_timeout", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.control_socket_idle_timeout, 1, 86400); }, "60", true, "seconds a control connection may wait between requests"},
    {"control_socket_request_timeout", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.control_socket_request_timeout, 1, 3600); }, "10", true, "seconds from a request's first byte to its end of line"},
    {"metrics_max_connections", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.metrics_max_connections, 1, 4096); }, "32", true, "connections the metrics endpoint holds at once"},
    {"metrics_idle_timeout", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.metrics_idle_timeout, 1, 86400); }, "60", true, "seconds a metrics connection may wait between requests"},
    {"metrics_request_timeout", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.metrics_request_timeout, 1, 3600); }, "10", true, "seconds from a request's first byte to the end of its header"},
    {"flow_sync_peers", S, false, 2, 258,
     [](ParseContext& c, const Node& n, G& g) {
       FlowSyncPeers d{true, n.args[0].text, {}, 0};
       std::size_t end = n.args.size();
       if (end >= 3 && n.args[end - 2].text == "id") {
         auto id = c.integer(n.args[end - 1], 0, 255, "flow_sync_peers id");
         if (!id) return;
         d.sync_id = static_cast<std::uint32_t>(*id);
         end -= 2;
       }
       for (std::size_t i = 1; i < end; ++i) {
         auto a = c.address(n.args[i], "flow_sync_peers peer");
         if (!a) return;
         if (!d.peers.empty() && a->family != d.peers.front().family) {
           c.diags().error(n.args[i].loc, "flow_sync_peers: every peer must be of one family (IPv4 or IPv6)");
           return;
         }
         d.peers.push_back(*a);
       }
       if (d.peers.empty()) {
         c.diags().error(n.key.loc, "flow_sync_peers expects INTERFACE PEER... [id N]");
         return;
       }
       c.set(g.flow_sync_peers, d, n);
     }, "off", true,
     "INTERFACE PEER... [id N]: active-active flow sync among the nodes behind ECMP (docs/scale-out.md); each node "
     "sends its flows to every peer and installs theirs, keyed by the sync key file"},
    {"flow_sync_join_wait", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.flow_sync_join_wait, 1, 300); }, "5", true,
     "seconds a starting flow_sync_peers node waits for its peers' flow tables before it announces its VIPs (docs/scale-out.md)"},
    {"sync_max_clock_skew", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.sync_max_clock_skew, 1, 86400); }, "30", true, "seconds a flow-sync datagram's send time may be from this node's clock"},
    {"smtp_auth_user", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { str(c, n, g.smtp_auth_user); }, "none", true},
    {"smtp_password_file", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { str(c, n, g.smtp_password_file); }, "none", true},
    {"smtp_tls", S, false, 1, 1,
     [](ParseContext& c, const Node& n, G& g) {
       if (auto i = c.choice(n.args[0], {"none", "starttls", "implicit"}, "smtp_tls"))
         c.set(g.smtp_tls, static_cast<SmtpTls>(*i), n);
     }, "none", true},
    {"smtp_digest_window", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.smtp_digest_window, 0, 86400); }, "0 (one mail per event)", true},
    {"smtp_quiet_hours", S, false, 1, 1,
     [](ParseContext& c, const Node& n, G& g) {
       const Token& t = n.args[0];
       const auto dash = t.text.find('-');
       if (dash == std::string::npos) {
         c.diags().error(t.loc, "'smtp_quiet_hours' expects HH:MM-HH:MM (24-hour clock), got '" + t.text + "'");
         return;
       }
       auto a = hhmm(c, t, std::string_view(t.text).substr(0, dash));
       if (!a) return;
       auto b = hhmm(c, t, std::string_view(t.text).substr(dash + 1));
       if (b) c.set(g.smtp_quiet_hours, QuietHours{true, *a, *b}, n);
     }, "none", true},
    {"vrrp_v3_checksum", S, false, 1, 1,
     [](ParseContext& c, const Node& n, G& g) {
       if (auto i = c.choice(n.args[0], {"keepalived", "rfc9568"}, "vrrp_v3_checksum"))
         c.set(g.vrrp_v3_checksum, static_cast<V3Checksum>(*i), n);
     }, "keepalived (IPv4 pseudo-header included)", true},
    {"tcp_flow_timeout", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.tcp_flow_timeout, 1, 86400 * 7); }, "900", true},
    {"udp_flow_timeout", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.udp_flow_timeout, 1, 86400 * 7); }, "300", true},
    {"xdp_max_flows", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.xdp_max_flows, 1024, 1u << 28); }, "262144", true},
    {"xdp_max_services", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.xdp_max_services, 1, 1u << 20); }, "256", true},
    {"xdp_max_reals", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.xdp_max_reals, 2, 1u << 24); }, "4096", true},
    {"xdp_max_persist", S, false, 1, 1, [](ParseContext& c, const Node& n, G& g) { uint_field(c, n, g.xdp_max_persist, 1, 1u << 26); }, "65536", true},
    {"xdp_ring_size", S, false, 1, 1,
     [](ParseContext& c, const Node& n, G& g) {
       const auto v = c.integer(n.args[0], 7, 65521, n.key.text);
       if (!v) return;
       if (!is_prime(static_cast<std::uint32_t>(*v))) {
         return c.diags().error(n.args[0].loc, "'xdp_ring_size' must be a prime (Maglev's table), got " +
                                                   n.args[0].text + "; nearby primes: 509, 1021, 2039, 4093, 8191");
       }
       c.set(g.xdp_ring_size, static_cast<std::uint32_t>(*v), n);
     }, "4093", true},
    {"xdp_flow_lru", S, false, 1, 1,
     [](ParseContext& c, const Node& n, G& g) {
       if (auto i = c.choice(n.args[0], {"shared", "per_cpu"}, "xdp_flow_lru"))
         c.set(g.xdp_flow_lru, static_cast<FlowLru>(*i), n);
     }, "shared", true},
    // Known to keepalived, not implemented by xlb.
    {"enable_traps", W, false, 0, 1, nullptr, "", false, "no SNMP"},
    {"enable_snmp_vrrp", W, false, 0, 1, nullptr, "", false, "no SNMP; use metrics_listen"},
    {"enable_snmp_checker", W, false, 0, 1, nullptr, "", false, "no SNMP; use metrics_listen"},
    {"enable_snmp_rfc", W, false, 0, 1, nullptr, "", false, "no SNMP; use metrics_listen"},
    {"snmp_socket", W, false, 1, 1, nullptr, "", false, "no SNMP"},
    {"vrrp_skip_check_adv_addr", W, false, 0, 1, nullptr, "", false, "adverts are always checked"},
    {"vrrp_garp_interval", W, false, 1, 1, nullptr, "", false, "gratuitous ARPs are sent back to back"},
    {"vrrp_gna_interval", W, false, 1, 1, nullptr, "", false, "unsolicited NAs are sent back to back"},
    {"vrrp_lower_prio_no_advert", W, false, 0, 1, nullptr},
    {"vrrp_higher_prio_send_advert", W, false, 0, 1, nullptr},
    {"vrrp_iptables", W, false, 0, 2, nullptr, "", false, "xlb installs no firewall rules"},
    {"nftables", W, false, 0, 1, nullptr, "", false, "xlb installs no firewall rules"},
    {"vrrp_no_swap", W, false, 0, 0, nullptr},
    {"checker_no_swap", W, false, 0, 0, nullptr},
    {"vrrp_priority", W, false, 1, 1, nullptr},
    {"checker_priority", W, false, 1, 1, nullptr},
    {"max_auto_priority", W, false, 0, 1, nullptr},
    {"dynamic_interfaces", W, false, 0, 1, nullptr},
    {"notify_fifo", W, false, 1, 3, nullptr, "", false, "use notify scripts"},
    {"vrrp_notify_fifo", W, false, 1, 3, nullptr, "", false, "use notify scripts"},
    {"lvs_notify_fifo", W, false, 1, 3, nullptr, "", false, "use notify scripts"},
    {"vrrp_startup_delay", W, false, 1, 1, nullptr},
    {"lvs_flush", W, false, 0, 0, nullptr, "", false, "xlb owns its dataplane state"},
    {"lvs_timeouts", W, false, 1, many, nullptr, "", false, "use tcp_flow_timeout and udp_flow_timeout"},
    {"lvs_sync_daemon_interface", W, false, 1, 1, nullptr, "", false, "deprecated by keepalived; use lvs_sync_daemon IF INSTANCE"},
    {"net_namespace", R, false, 1, 1, nullptr, "", false, "run xlbd inside the namespace instead"},
    {"linkbeat_use_polling", W, false, 0, 0, nullptr, "", false, "link state comes from netlink"},
};

}  // namespace

void parse_global_defs(ParseContext& ctx, const Node& n, GlobalDefs& g) {
  ctx.dispatch<G>(n.children, global_keywords, g, "global_defs");
}

void describe_global(std::vector<KeywordInfo>& out) { describe<G>(out, "global_defs", global_keywords); }

}  // namespace xlb::config
