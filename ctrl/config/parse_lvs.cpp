#include "ctrl/config/parsers.hpp"

namespace xlb::config {
namespace {

constexpr auto S = Support::supported;
constexpr auto W = Support::warned;
constexpr auto R = Support::refused;

void str(ParseContext& c, const Node& n, Located<std::string>& dst) { c.set(dst, ParseContext::joined(n), n); }

template <class T>
void uint_field(ParseContext& c, const Node& n, Located<T>& dst, std::int64_t lo, std::int64_t hi) {
  if (auto v = c.integer(n.args[0], lo, hi, n.key.text)) c.set(dst, static_cast<T>(*v), n);
}

void checker(ParseContext& c, const Node& n, RealServer& rs, CheckerType t) {
  Checker ch;
  parse_checker(c, n, t, ch);
  rs.checkers.push_back(std::move(ch));
}

using Rs = RealServer;
constexpr Keyword<Rs> real_keywords[] = {
    {"weight", S, false, 1, 1, [](ParseContext& c, const Node& n, Rs& r) { uint_field(c, n, r.weight, 0, 65535); }, "1"},
    {"inhibit_on_failure", S, false, 0, 1,
     [](ParseContext& c, const Node& n, Rs& r) { if (auto v = c.flag(n)) c.set(r.inhibit_on_failure, *v, n); }, "the virtual server's"},
    {"notify_up", S, false, 1, many, [](ParseContext& c, const Node& n, Rs& r) { str(c, n, r.notify_up); }},
    {"notify_down", S, false, 1, many, [](ParseContext& c, const Node& n, Rs& r) { str(c, n, r.notify_down); }},
    {"HTTP_GET", S, true, 0, 0, [](ParseContext& c, const Node& n, Rs& r) { checker(c, n, r, CheckerType::http_get); }},
    {"SSL_GET", S, true, 0, 0, [](ParseContext& c, const Node& n, Rs& r) { checker(c, n, r, CheckerType::ssl_get); }},
    {"TCP_CHECK", S, true, 0, 0, [](ParseContext& c, const Node& n, Rs& r) { checker(c, n, r, CheckerType::tcp_check); }},
    {"MISC_CHECK", S, true, 0, 0, [](ParseContext& c, const Node& n, Rs& r) { checker(c, n, r, CheckerType::misc_check); }},
    {"DNS_CHECK", S, true, 0, 0, [](ParseContext& c, const Node& n, Rs& r) { checker(c, n, r, CheckerType::dns_check); }},
    {"UDP_CHECK", S, true, 0, 0, [](ParseContext& c, const Node& n, Rs& r) { checker(c, n, r, CheckerType::udp_check); }},
    {"PING_CHECK", S, true, 0, 0, [](ParseContext& c, const Node& n, Rs& r) { checker(c, n, r, CheckerType::ping_check); }},
    {"uthreshold", W, false, 1, 1, nullptr},
    {"lthreshold", W, false, 1, 1, nullptr},
    {"smtp_alert", W, false, 0, 1, nullptr, "", false, "set smtp_alert on the virtual server"},
    {"delay_loop", W, false, 1, 1, nullptr, "", false, "set delay_loop in the checker"},
    {"lb_kind", R, false, 1, 1, nullptr, "", false, "one forwarding method per virtual_server"},
    {"lvs_method", R, false, 1, 1, nullptr, "", false, "one forwarding method per virtual_server"},
    {"SMTP_CHECK", R, true, 0, 0, nullptr, "", false, "use TCP_CHECK or MISC_CHECK"},
    {"BFD_CHECK", R, true, 0, 0, nullptr, "", false, "no BFD"},
    {"FILE_CHECK", R, true, 0, 0, nullptr, "", false, "use MISC_CHECK"},
};

void lb_algo(ParseContext& c, const Node& n, VirtualServer& vs) {
  if (c.choice(n.args[0], {"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"},
               "lb_algo"))
    c.set(vs.lb_algo, n.args[0].text, n);
}

// keepalived's tunnel options after TUN, in any order: type {ipip|gue|gre}, port N (gue only,
// and required there), nocsum|csum|remcsum (not for ipip; remcsum not for gre).
void tunnel_options(ParseContext& c, const Node& n, VirtualServer& vs) {
  Tunnel t;
  const Token* port_at = nullptr;
  const Token* csum_at = nullptr;
  bool ok = true;
  for (std::size_t i = 1; i < n.args.size(); ++i) {
    const Token& a = n.args[i];
    if (a.text == "type" || a.text == "port") {
      if (i + 1 == n.args.size()) {
        c.diags().error(a.loc, "'" + a.text + "' needs a value");
        return;
      }
      const Token& v = n.args[++i];
      if (a.text == "type") {
        auto k = c.choice(v, {"ipip", "gue", "gre"}, "tunnel type");
        if (!k) return;
        t.type = static_cast<TunnelType>(*k);
      } else {
        auto p = c.integer(v, 1, 65535, "gue tunnel port");
        if (!p) return;
        t.port = static_cast<std::uint16_t>(*p);
        port_at = &a;
      }
    } else if (auto k = c.choice(a, {"nocsum", "csum", "remcsum"}, "tunnel option")) {
      t.checksum = static_cast<TunnelChecksum>(*k);
      csum_at = &a;
    } else {
      ok = false;
    }
  }
  if (!ok) return;
  if (vs.lb_kind.value != LbKind::tun) {
    c.diags().error(n.args[1].loc, "tunnel options need TUN, not " + n.args[0].text);
    return;
  }
  if (t.type == TunnelType::gue && !port_at) {
    c.diags().error(n.args[0].loc, "a gue tunnel needs 'port N'");
    return;
  }
  if (t.type != TunnelType::gue && port_at) {
    c.diags().error(port_at->loc, "only gue tunnels take a port");
    return;
  }
  if (csum_at && t.type == TunnelType::ipip && t.checksum != TunnelChecksum::nocsum) {
    c.diags().error(csum_at->loc, "ipip tunnels have no checksum option");
    return;
  }
  if (csum_at && t.type == TunnelType::gre && t.checksum == TunnelChecksum::remcsum) {
    c.diags().error(csum_at->loc, "gre tunnels have no remote checksum option");
    return;
  }
  vs.tunnel.value = t;
  vs.tunnel.set = true;
  vs.tunnel.loc = n.args[1].loc;
}

void lb_kind(ParseContext& c, const Node& n, VirtualServer& vs) {
  if (auto i = c.choice(n.args[0], {"NAT", "DR", "TUN"}, "lb_kind", true)) {
    c.set(vs.lb_kind, static_cast<LbKind>(*i), n);
    vs.tunnel = Located<Tunnel>{};
    if (n.args.size() > 1) tunnel_options(c, n, vs);
  }
}

void tunnel_source(ParseContext& c, const Node& n, VirtualServer& vs) {
  const Token& t = n.args[0];
  const auto slash = t.text.find('/');
  Token addr_token = t;
  addr_token.text = t.text.substr(0, slash);
  auto a = c.address(addr_token, "tunnel_source");
  if (!a) return;
  TunnelSourcePrefix p{*a, static_cast<std::uint8_t>(a->max_prefix())};
  if (slash != std::string::npos) {
    Token len = t;
    len.text = t.text.substr(slash + 1);
    len.loc.col += static_cast<std::uint32_t>(slash + 1);
    auto l = c.integer(len, a->is_v4() ? 8 : 64, a->max_prefix(), "tunnel_source prefix length");
    if (!l) return;
    p.prefix = static_cast<std::uint8_t>(*l);
  }
  for (const auto& other : vs.tunnel_source) {
    if (other.value.address.family == a->family) {
      c.diags().error(t.loc, "tunnel_source for " + std::string(a->is_v4() ? "IPv4" : "IPv6") +
                                 " was already given at " + to_string(other.loc));
      return;
    }
  }
  Located<TunnelSourcePrefix> located;
  located.value = p;
  located.set = true;
  located.loc = t.loc;
  vs.tunnel_source.push_back(located);
}

using Vs = VirtualServer;
constexpr Keyword<Vs> vs_keywords[] = {
    {"delay_loop", S, false, 1, 1, [](ParseContext& c, const Node& n, Vs& v) { uint_field(c, n, v.delay_loop, 1, 86400); }, "60"},
    {"lb_algo", S, false, 1, 1, lb_algo, "wlc"},
    {"lvs_sched", S, false, 1, 1, lb_algo, "wlc", false, "same as lb_algo"},
    {"lb_kind", S, false, 1, 7, lb_kind, "NAT", false,
     "TUN takes keepalived's tunnel options (type ipip, gue with port N, or gre; nocsum, csum or remcsum): ipip and gue run in XDP, gre and remcsum on IPVS"},
    {"lvs_method", S, false, 1, 7, lb_kind, "NAT", false, "same as lb_kind"},
    {"tunnel_source", S, false, 1, 1, tunnel_source, "the egress interface's address", true,
     "ADDR/LEN, once per family: outer source of lb_kind TUN packets, host bits from the flow hash (RSS on the reals)"},
    {"persistence_timeout", S, false, 0, 1,
     [](ParseContext& c, const Node& n, Vs& v) {
       if (n.args.empty()) return c.set(v.persistence_timeout, 360u, n);
       uint_field(c, n, v.persistence_timeout, 0, 2678400);
     }, "off; 360 when written without a value"},
    {"persistence_granularity", S, false, 1, 1,
     [](ParseContext& c, const Node& n, Vs& v) {
       const Token& t = n.args[0];
       const auto family = t.text.find(':') != std::string::npos || (v.kind == Vs::Kind::address && !v.address.is_v4())
                               ? IpAddr::Family::v6 : IpAddr::Family::v4;
       auto len = parse_netmask(t.text, family);
       if (!len) {
         c.diags().error(t.loc, "'persistence_granularity' expects a netmask (e.g. 255.255.255.0) or prefix length, got '" + t.text + "'");
         return;
       }
       c.set(v.persistence_granularity, static_cast<std::uint8_t>(*len), n);
     }, "host (/32, /128)"},
    {"protocol", S, false, 1, 1,
     [](ParseContext& c, const Node& n, Vs& v) {
       if (n.args[0].text == "SCTP") {
         c.diags().error(n.args[0].loc, "protocol SCTP is not supported by xlb (TCP or UDP)");
         return;
       }
       if (auto i = c.choice(n.args[0], {"TCP", "UDP"}, "protocol", true)) c.set(v.protocol, static_cast<Protocol>(*i), n);
     }, "TCP"},
    {"sorry_server", S, false, 2, 2,
     [](ParseContext& c, const Node& n, Vs& v) {
       auto a = c.address(n.args[0], n.key.text);
       auto p = c.port(n.args[1], "sorry_server port");
       if (a && p) c.set(v.sorry_server, std::optional<SorryServer>(SorryServer{*a, *p}), n);
     }, "none", false,
     "at an address of this node (127.0.0.1, ::1, any local address): served by the node's own stack (\"Local\"), on the service's port"},
    {"quorum", S, false, 1, 1, [](ParseContext& c, const Node& n, Vs& v) { uint_field(c, n, v.quorum, 1, 1000000); }, "1"},
    {"quorum_up", S, false, 1, many, [](ParseContext& c, const Node& n, Vs& v) { str(c, n, v.quorum_up); }},
    {"quorum_down", S, false, 1, many, [](ParseContext& c, const Node& n, Vs& v) { str(c, n, v.quorum_down); }},
    {"hysteresis", S, false, 1, 1, [](ParseContext& c, const Node& n, Vs& v) { uint_field(c, n, v.hysteresis, 0, 1000000); }, "0"},
    {"alpha", S, false, 0, 1, [](ParseContext& c, const Node& n, Vs& v) { if (auto f = c.flag(n)) c.set(v.alpha, *f, n); }, "off"},
    {"omega", S, false, 0, 1, [](ParseContext& c, const Node& n, Vs& v) { if (auto f = c.flag(n)) c.set(v.omega, *f, n); }, "off"},
    {"inhibit_on_failure", S, false, 0, 1, [](ParseContext& c, const Node& n, Vs& v) { if (auto f = c.flag(n)) c.set(v.inhibit_on_failure, *f, n); }, "off"},
    {"virtualhost", S, false, 1, 1, [](ParseContext& c, const Node& n, Vs& v) { c.set(v.virtualhost, n.args[0].text, n); }},
    {"smtp_alert", S, false, 0, 1, [](ParseContext& c, const Node& n, Vs& v) { if (auto f = c.flag(n)) c.set(v.smtp_alert, std::optional<bool>(*f), n); }, "global smtp_alert_checker"},
    {"lb_backend", S, false, 1, 1,
     [](ParseContext& c, const Node& n, Vs& v) {
       if (auto i = c.choice(n.args[0], {"auto", "xdp", "ipvs"}, "lb_backend"))
         c.set(v.lb_backend, std::optional<LbBackend>(static_cast<LbBackend>(*i)), n);
     }, "global lb_backend", true},
    {"real_server", S, true, 2, 2,
     [](ParseContext& c, const Node& n, Vs& v) {
       auto a = c.address(n.args[0], "real_server");
       auto p = c.port(n.args[1], "real_server port");
       if (!a || !p) return;
       RealServer rs;
       rs.address = *a;
       rs.port = *p;
       rs.loc = n.key.loc;
       c.dispatch<Rs>(n.children, real_keywords, rs, "real_server " + a->to_string() + " " + std::to_string(*p));
       v.real_servers.push_back(std::move(rs));
     }},
    {"ha_suspend", W, false, 0, 0, nullptr},
    {"ops", W, false, 0, 0, nullptr, "", false, "one-packet scheduling"},
    {"nat_mask", W, false, 1, 1, nullptr},
    {"ip_family", W, false, 1, 1, nullptr, "", false, "the family follows the addresses"},
    {"sorry_server_inhibit", W, false, 0, 0, nullptr},
    {"sorry_server_lvs_method", W, false, 1, 1, nullptr},
    {"retry", W, false, 1, 1, nullptr, "", false, "set retry in each checker"},
    {"delay_before_retry", W, false, 1, 1, nullptr, "", false, "set delay_before_retry in each checker"},
    {"connect_timeout", W, false, 1, 1, nullptr, "", false, "set connect_timeout in each checker"},
    {"warmup", W, false, 1, 1, nullptr, "", false, "set warmup in each checker"},
    {"persistence_engine", R, false, 1, 1, nullptr, "", false, "no IPVS persistence engines"},
};

}  // namespace

void parse_virtual_server(ParseContext& ctx, const Node& n, VirtualServer& vs) {
  vs.loc = n.key.loc;
  const auto& a = n.args;
  if (a.size() == 2 && a[0].text == "fwmark") {
    vs.kind = VirtualServer::Kind::fwmark;
    auto m = ctx.integer(a[1], 1, 0xffffffffLL, "fwmark");
    if (m) vs.fwmark = static_cast<std::uint32_t>(*m);
  } else if (a.size() == 2 && a[0].text == "group") {
    vs.kind = VirtualServer::Kind::group;
    vs.group = a[1].text;
  } else if (a.size() == 2) {
    auto addr = ctx.address(a[0], "virtual_server");
    auto port = ctx.port(a[1], "virtual_server port");
    if (addr && port) {
      vs.address = *addr;
      vs.port = *port;
    }
  } else {
    ctx.diags().error(n.key.loc, "virtual_server expects ADDR PORT, fwmark N or group NAME");
  }
  const std::string where = "virtual_server " + ParseContext::joined(n);
  ctx.dispatch<Vs>(n.children, vs_keywords, vs, where);
}

void parse_virtual_server_group(ParseContext& ctx, const Node& n, VirtualServerGroup& g) {
  for (const auto& e : n.children) {
    if (e.has_block) {
      ctx.diags().error(e.key.loc, "virtual_server_group entries do not take a { } block");
      continue;
    }
    VsGroupEntry entry;
    entry.loc = e.key.loc;
    if (e.key.text == "fwmark") {
      if (e.args.size() != 1) {
        ctx.diags().error(e.key.loc, "virtual_server_group entries are ADDR[-LAST] PORT or fwmark N");
        continue;
      }
      auto m = ctx.integer(e.args[0], 1, 0xffffffffLL, "fwmark");
      if (!m) continue;
      entry.kind = VsGroupEntry::Kind::fwmark;
      entry.fwmark = static_cast<std::uint32_t>(*m);
    } else {
      if (e.args.size() != 1) {
        ctx.diags().error(e.key.loc, "virtual_server_group entries are ADDR[-LAST] PORT or fwmark N");
        continue;
      }
      // keepalived's range form: 10.0.0.1-10 means 10.0.0.1 to 10.0.0.10 (last byte or group).
      const auto dash = e.key.text.find('-');
      Token first = e.key;
      first.text = e.key.text.substr(0, dash);
      auto a = ctx.address(first, "virtual_server_group");
      if (!a) continue;
      entry.first = entry.last = *a;
      if (dash != std::string::npos) {
        Token last = e.key;
        last.text = e.key.text.substr(dash + 1);
        last.loc.col += static_cast<std::uint32_t>(dash + 1);
        const bool v4 = a->is_v4();
        std::optional<std::int64_t> end;
        if (v4) {
          end = ctx.integer(last, a->bytes[3], 255, "range end");
          if (end) entry.last.bytes[3] = static_cast<std::uint8_t>(*end);
        } else {
          // v6 ranges are written in hex on the last group.
          try {
            std::size_t used = 0;
            const unsigned long v = std::stoul(last.text, &used, 16);
            const unsigned cur = (a->bytes[14] << 8) | a->bytes[15];
            if (used != last.text.size() || v > 0xffff || v < cur) throw std::out_of_range("range");
            entry.last.bytes[14] = static_cast<std::uint8_t>(v >> 8);
            entry.last.bytes[15] = static_cast<std::uint8_t>(v & 0xff);
            end = static_cast<std::int64_t>(v);
          } catch (const std::exception&) {
            ctx.diags().error(last.loc, "range end '" + last.text + "' is not a hex group at or above the first address");
          }
        }
        if (!end) continue;
      }
      auto p = ctx.port(e.args[0], "port");
      if (!p) continue;
      entry.port = *p;
    }
    g.entries.push_back(entry);
  }
}

void describe_lvs(std::vector<KeywordInfo>& out) {
  describe<Vs>(out, "virtual_server", vs_keywords);
  describe<Rs>(out, "real_server", real_keywords);
}

}  // namespace xlb::config
