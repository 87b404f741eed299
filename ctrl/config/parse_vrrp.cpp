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

// ---- vrrp_script ----------------------------------------------------------------------------
using Sc = VrrpScript;
constexpr Keyword<Sc> script_keywords[] = {
    {"script", S, false, 1, many, [](ParseContext& c, const Node& n, Sc& s) { str(c, n, s.script); }, "required"},
    {"interval", S, false, 1, 1, [](ParseContext& c, const Node& n, Sc& s) { uint_field(c, n, s.interval, 1, 86400); }, "1"},
    {"timeout", S, false, 1, 1, [](ParseContext& c, const Node& n, Sc& s) { uint_field(c, n, s.timeout, 1, 86400); }, "interval"},
    {"weight", S, false, 1, 2,
     [](ParseContext& c, const Node& n, Sc& s) {
       if (n.args.size() == 2 && n.args[1].text != "reverse") {
         c.diags().error(n.args[1].loc, "'weight' accepts only 'reverse' after the number");
         return;
       }
       if (n.args.size() == 2) c.diags().warning(n.args[1].loc, "'weight ... reverse' is not implemented by xlb and has no effect");
       if (auto v = c.integer(n.args[0], -253, 253, "weight")) c.set(s.weight, static_cast<std::int32_t>(*v), n);
     }, "0"},
    {"rise", S, false, 1, 1, [](ParseContext& c, const Node& n, Sc& s) { uint_field(c, n, s.rise, 1, 1000); }, "1"},
    {"fall", S, false, 1, 1, [](ParseContext& c, const Node& n, Sc& s) { uint_field(c, n, s.fall, 1, 1000); }, "1"},
    {"user", S, false, 1, 2,
     [](ParseContext& c, const Node& n, Sc& s) {
       c.set(s.user, n.args[0].text, n);
       if (n.args.size() == 2) c.set(s.group, n.args[1].text, n);
     }, "script_user"},
    {"init_fail", W, false, 0, 0, nullptr},
};

// ---- vrrp_sync_group ------------------------------------------------------------------------
using Sg = VrrpSyncGroup;
void notify_field(ParseContext& c, const Node& n, Located<std::string>& dst) { str(c, n, dst); }

constexpr Keyword<Sg> sync_keywords[] = {
    {"group", S, true, 0, 0,
     [](ParseContext& c, const Node& n, Sg& s) {
       for (const auto& e : n.children) {
         if (e.has_block || !e.args.empty()) {
           c.diags().error(e.key.loc, "group takes one vrrp_instance name per line");
           continue;
         }
         s.group.push_back({e.key.text, e.key.loc, true});
       }
     }, "required"},
    {"notify", S, false, 1, many, [](ParseContext& c, const Node& n, Sg& s) { notify_field(c, n, s.notify.notify); }},
    {"notify_master", S, false, 1, many, [](ParseContext& c, const Node& n, Sg& s) { notify_field(c, n, s.notify.notify_master); }},
    {"notify_backup", S, false, 1, many, [](ParseContext& c, const Node& n, Sg& s) { notify_field(c, n, s.notify.notify_backup); }},
    {"notify_fault", S, false, 1, many, [](ParseContext& c, const Node& n, Sg& s) { notify_field(c, n, s.notify.notify_fault); }},
    {"notify_stop", S, false, 1, many, [](ParseContext& c, const Node& n, Sg& s) { notify_field(c, n, s.notify.notify_stop); }},
    {"smtp_alert", S, false, 0, 1, [](ParseContext& c, const Node& n, Sg& s) { if (auto v = c.flag(n)) c.set(s.smtp_alert, *v, n); }, "off"},
    {"global_tracking", W, false, 0, 0, nullptr},
    {"sync_group_tracking_weight", W, false, 0, 0, nullptr},
    {"track_interface", R, true, 0, 0, nullptr, "", false, "track interfaces in each vrrp_instance"},
    {"track_script", R, true, 0, 0, nullptr, "", false, "track scripts in each vrrp_instance"},
};

// ---- vrrp_instance --------------------------------------------------------------------------
using In = VrrpInstance;

// ADDR[/len] [dev IF] [label L] [brd B] [scope S]; keepalived also takes a few route words we refuse.
void parse_vip(ParseContext& c, const Node& e, std::vector<VirtualIp>& out) {
  if (e.has_block) {
    c.diags().error(e.key.loc, "a virtual IP address does not take a { } block");
    return;
  }
  VirtualIp v;
  v.loc = e.key.loc;
  std::string text = e.key.text;
  const auto slash = text.find('/');
  Token addr_tok = e.key;
  addr_tok.text = text.substr(0, slash);
  auto a = c.address(addr_tok, "virtual_ipaddress");
  if (!a) return;
  v.address = *a;
  v.prefix = static_cast<std::uint8_t>(a->max_prefix());
  if (slash != std::string::npos) {
    Token len_tok = e.key;
    len_tok.text = text.substr(slash + 1);
    len_tok.loc.col += static_cast<std::uint32_t>(slash + 1);
    auto len = c.integer(len_tok, 0, a->max_prefix(), "prefix length");
    if (!len) return;
    v.prefix = static_cast<std::uint8_t>(*len);
  }
  for (std::size_t i = 0; i < e.args.size(); i += 2) {
    const Token& opt = e.args[i];
    if (i + 1 >= e.args.size()) {
      if (opt.text == "no_track" || opt.text == "home" || opt.text == "nodad" || opt.text == "noprefixroute") {
        c.diags().warning(opt.loc, "virtual IP option '" + opt.text + "' is not implemented by xlb and has no effect");
        continue;
      }
      c.diags().error(opt.loc, "virtual IP option '" + opt.text + "' needs a value");
      return;
    }
    const Token& val = e.args[i + 1];
    if (opt.text == "dev") {
      v.dev = val.text;
    } else if (opt.text == "label") {
      v.label = val.text;
    } else if (opt.text == "brd" || opt.text == "broadcast") {
      auto b = c.address(val, "brd");
      if (!b) return;
      v.broadcast = *b;
    } else if (opt.text == "scope") {
      if (!c.choice(val, {"global", "site", "link", "host", "nowhere"}, "scope")) return;
      v.scope = val.text;
    } else {
      c.diags().error(opt.loc, "unknown virtual IP option '" + opt.text +
                                   "' (expected dev, label, brd or scope)");
      return;
    }
  }
  out.push_back(std::move(v));
}

void vip_block(ParseContext& c, const Node& n, std::vector<VirtualIp>& out) {
  for (const auto& e : n.children) parse_vip(c, e, out);
}

std::optional<std::int32_t> trailing_weight(ParseContext& c, const Node& e, const char* what) {
  if (e.args.empty()) return std::nullopt;
  if (e.args.size() != 2 || e.args[0].text != "weight") {
    c.diags().error(e.args[0].loc, std::string(what) + " entries are NAME [weight N]");
    return std::nullopt;
  }
  auto w = c.integer(e.args[1], -254, 254, "weight");
  if (!w) return std::nullopt;
  return static_cast<std::int32_t>(*w);
}

constexpr Keyword<In> instance_keywords[] = {
    {"state", S, false, 1, 1,
     [](ParseContext& c, const Node& n, In& s) {
       if (auto i = c.choice(n.args[0], {"BACKUP", "MASTER"}, "state")) c.set(s.state, static_cast<VrrpState>(*i), n);
     }, "BACKUP"},
    {"interface", S, false, 1, 1, [](ParseContext& c, const Node& n, In& s) { c.set(s.interface, n.args[0].text, n); }, "required"},
    {"virtual_router_id", S, false, 1, 1,
     [](ParseContext& c, const Node& n, In& s) {
       if (auto v = c.integer(n.args[0], 1, 255, n.key.text)) return c.set(s.virtual_router_id, static_cast<std::uint8_t>(*v), n);
       // Written but invalid (already reported): 0 keeps it out of the "missing" and duplicate checks.
       s.virtual_router_id = Located<std::uint8_t>(0, n.key.loc, true);
     }, "required (1-255)"},
    {"priority", S, false, 1, 1, [](ParseContext& c, const Node& n, In& s) { uint_field(c, n, s.priority, 1, 255); }, "100"},
    {"advert_int", S, false, 1, 1,
     [](ParseContext& c, const Node& n, In& s) {
       if (auto cs = c.centiseconds(n.args[0], "advert_int")) c.set(s.advert_int_cs, *cs, n);
     }, "1 (seconds; v3 allows 0.01-40.95)"},
    {"version", S, false, 1, 1, [](ParseContext& c, const Node& n, In& s) { uint_field(c, n, s.version, 2, 3); }, "global vrrp_version (2)"},
    {"vrrp_version", S, false, 1, 1, [](ParseContext& c, const Node& n, In& s) { uint_field(c, n, s.version, 2, 3); }, "global vrrp_version (2)"},
    {"nopreempt", S, false, 0, 0, [](ParseContext& c, const Node& n, In& s) { c.set(s.nopreempt, true, n); }, "off (preempt)"},
    {"preempt", S, false, 0, 0, [](ParseContext& c, const Node& n, In& s) { c.set(s.nopreempt, false, n); }, "on"},
    {"preempt_delay", S, false, 1, 1, [](ParseContext& c, const Node& n, In& s) { uint_field(c, n, s.preempt_delay, 0, 1000); }, "0"},
    {"authentication", S, true, 0, 0,
     [](ParseContext& c, const Node& n, In& s) {
       for (const auto& e : n.children) {
         if (e.key.text == "auth_type" && !e.has_block && e.args.size() == 1) {
           if (auto i = c.choice(e.args[0], {"PASS", "AH"}, "auth_type"))
             c.set(s.auth_type, *i == 0 ? AuthType::pass : AuthType::ah, e);
         } else if (e.key.text == "auth_pass" && !e.has_block && e.args.size() == 1) {
           c.set(s.auth_pass, e.args[0].text, e);
         } else if (e.key.text == "auth_type" || e.key.text == "auth_pass") {
           c.check_shape(e, e.key.text, false, 1, 1);
         } else {
           c.unknown(e, {"auth_type", "auth_pass"}, "authentication");
         }
       }
     }, "none"},
    {"virtual_ipaddress", S, true, 0, 0, [](ParseContext& c, const Node& n, In& s) { vip_block(c, n, s.virtual_ipaddress); }},
    {"virtual_ipaddress_excluded", S, true, 0, 0, [](ParseContext& c, const Node& n, In& s) { vip_block(c, n, s.virtual_ipaddress_excluded); }},
    {"unicast_src_ip", S, false, 1, 1,
     [](ParseContext& c, const Node& n, In& s) {
       if (auto a = c.address(n.args[0], n.key.text)) c.set(s.unicast_src_ip, std::optional<IpAddr>(*a), n);
     }, "the interface's first address"},
    {"mcast_src_ip", S, false, 1, 1,
     [](ParseContext& c, const Node& n, In& s) {
       if (auto a = c.address(n.args[0], n.key.text)) c.set(s.unicast_src_ip, std::optional<IpAddr>(*a), n);
     }, "", false, "same field as unicast_src_ip"},
    {"unicast_peer", S, true, 0, 0,
     [](ParseContext& c, const Node& n, In& s) {
       for (const auto& e : n.children) {
         if (e.has_block) {
           c.diags().error(e.key.loc, "a unicast peer does not take a { } block");
           continue;
         }
         auto a = c.address(e.key, "unicast_peer");
         if (!a) continue;
         UnicastPeer p{*a, std::nullopt, std::nullopt, e.key.loc};
         bool ok = true;
         for (std::size_t i = 0; i < e.args.size() && ok; i += 2) {
           const Token& opt = e.args[i];
           if ((opt.text != "min_ttl" && opt.text != "max_ttl") || i + 1 >= e.args.size()) {
             c.diags().error(opt.loc, "unicast_peer entries are ADDR [min_ttl N] [max_ttl N]");
             ok = false;
             break;
           }
           auto v = c.integer(e.args[i + 1], 0, 255, opt.text);
           if (!v) ok = false;
           else (opt.text == "min_ttl" ? p.min_ttl : p.max_ttl) = static_cast<std::uint8_t>(*v);
         }
         if (ok) s.unicast_peer.push_back(p);
       }
     }, "none (multicast)"},
    {"track_interface", S, true, 0, 0,
     [](ParseContext& c, const Node& n, In& s) {
       for (const auto& e : n.children) {
         if (e.has_block) { c.diags().error(e.key.loc, "track_interface entries do not take a { } block"); continue; }
         auto w = trailing_weight(c, e, "track_interface");
         if (!e.args.empty() && !w) continue;
         s.track_interface.push_back({{e.key.text, e.key.loc, true}, w.value_or(0)});
       }
     }},
    {"track_script", S, true, 0, 0,
     [](ParseContext& c, const Node& n, In& s) {
       for (const auto& e : n.children) {
         if (e.has_block) { c.diags().error(e.key.loc, "track_script entries do not take a { } block"); continue; }
         auto w = trailing_weight(c, e, "track_script");
         if (!e.args.empty() && !w) continue;
         s.track_script.push_back({{e.key.text, e.key.loc, true}, w});
       }
     }},
    {"notify", S, false, 1, many, [](ParseContext& c, const Node& n, In& s) { str(c, n, s.notify.notify); }},
    {"notify_master", S, false, 1, many, [](ParseContext& c, const Node& n, In& s) { str(c, n, s.notify.notify_master); }},
    {"notify_backup", S, false, 1, many, [](ParseContext& c, const Node& n, In& s) { str(c, n, s.notify.notify_backup); }},
    {"notify_fault", S, false, 1, many, [](ParseContext& c, const Node& n, In& s) { str(c, n, s.notify.notify_fault); }},
    {"notify_stop", S, false, 1, many, [](ParseContext& c, const Node& n, In& s) { str(c, n, s.notify.notify_stop); }},
    {"smtp_alert", S, false, 0, 1, [](ParseContext& c, const Node& n, In& s) { if (auto v = c.flag(n)) c.set(s.smtp_alert, std::optional<bool>(*v), n); }, "global smtp_alert_vrrp"},
    {"accept", S, false, 0, 0, [](ParseContext& c, const Node& n, In& s) { c.set(s.accept, true, n); }, "on, off with vrrp_strict"},
    {"no_accept", S, false, 0, 0, [](ParseContext& c, const Node& n, In& s) { c.set(s.accept, false, n); }},
    {"garp_master_delay", S, false, 1, 1, [](ParseContext& c, const Node& n, In& s) { uint_field(c, n, s.garp_master_delay, 0, 86400); }, "vrrp_garp_master_delay"},
    {"garp_master_repeat", S, false, 1, 1, [](ParseContext& c, const Node& n, In& s) { uint_field(c, n, s.garp_master_repeat, 0, 255); }, "vrrp_garp_master_repeat"},
    {"garp_master_refresh", S, false, 1, 1, [](ParseContext& c, const Node& n, In& s) { uint_field(c, n, s.garp_master_refresh, 0, 86400); }, "vrrp_garp_master_refresh"},
    {"heartbeat_extra", S, true, 0, 0,
     [](ParseContext& c, const Node& n, In& s) {
       for (const auto& e : n.children) {
         if (e.has_block || e.args.size() != 1 || (e.key.text != "interface" && e.key.text != "peer")) {
           c.diags().error(e.key.loc, "heartbeat_extra entries are 'interface IF' or 'peer ADDR'");
           continue;
         }
         HeartbeatPath p;
         p.loc = e.key.loc;
         if (e.key.text == "interface") {
           p.kind = HeartbeatPath::Kind::interface;
           p.interface = e.args[0].text;
         } else {
           auto a = c.address(e.args[0], "peer");
           if (!a) continue;
           p.kind = HeartbeatPath::Kind::peer;
           p.peer = *a;
         }
         s.heartbeat_extra.push_back(std::move(p));
       }
     }, "none", true},
    {"split_brain_check", S, false, 1, 1,
     [](ParseContext& c, const Node& n, In& s) { if (auto v = c.boolean(n.args[0], n.key.text)) c.set(s.split_brain_check, *v, n); }, "off", true},
    {"dont_track_primary", W, false, 0, 0, nullptr},
    {"track_file", W, true, 0, 0, nullptr, "", false, "use track_script"},
    {"track_process", W, true, 0, 0, nullptr, "", false, "use track_script"},
    {"track_bfd", W, true, 0, 0, nullptr},
    {"native_ipv6", W, false, 0, 0, nullptr, "", false, "the family follows the addresses"},
    {"debug", W, false, 0, 1, nullptr},
    {"strict_mode", W, false, 0, 1, nullptr, "", false, "use global vrrp_strict"},
    {"kernel_rx_buf_size", W, false, 1, 1, nullptr},
    {"old_unicast_checksum", W, false, 0, 1, nullptr},
    {"check_unicast_src", W, false, 0, 0, nullptr, "", false, "use global vrrp_check_unicast_src"},
    {"unicast_ttl", W, false, 1, 1, nullptr},
    {"unicast_fault_no_peer", W, false, 0, 0, nullptr},
    {"promote_secondaries", W, false, 0, 0, nullptr},
    {"notify_master_rx_lower_pri", W, false, 1, many, nullptr},
    {"notify_deleted", W, false, 0, many, nullptr},
    {"lvs_sync_daemon_interface", W, false, 1, 1, nullptr, "", false, "deprecated by keepalived; use global lvs_sync_daemon IF INSTANCE"},
    {"use_vmac", R, false, 0, 1, nullptr, "", false, "xlb does not create VRRP MAC interfaces"},
    {"vmac_xmit_base", R, false, 0, 0, nullptr, "", false, "xlb does not create VRRP MAC interfaces"},
    {"virtual_routes", R, true, 0, 0, nullptr, "", false, "xlb does not install routes; add them outside xlb"},
    {"virtual_rules", R, true, 0, 0, nullptr, "", false, "xlb does not install routing rules"},
};

}  // namespace

void parse_vrrp_script(ParseContext& ctx, const Node& n, VrrpScript& s) {
  ctx.dispatch<Sc>(n.children, script_keywords, s, "vrrp_script " + s.name.value);
  if (!s.script.set) ctx.diags().error(n.key.loc, "vrrp_script " + s.name.value + " has no 'script'");
}

void parse_vrrp_sync_group(ParseContext& ctx, const Node& n, VrrpSyncGroup& s) {
  ctx.dispatch<Sg>(n.children, sync_keywords, s, "vrrp_sync_group " + s.name.value);
}

void parse_vrrp_instance(ParseContext& ctx, const Node& n, VrrpInstance& s) {
  ctx.dispatch<In>(n.children, instance_keywords, s, "vrrp_instance " + s.name.value);
}

void describe_vrrp(std::vector<KeywordInfo>& out) {
  describe<Sc>(out, "vrrp_script", script_keywords);
  describe<Sg>(out, "vrrp_sync_group", sync_keywords);
  describe<In>(out, "vrrp_instance", instance_keywords);
}

}  // namespace xlb::config
