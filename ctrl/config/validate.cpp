// Whole-configuration checks: values whose validity depends on other values (advert_int on the
// version, families within an instance), references between sections, duplicates, backend
// capabilities, and what the machine must provide.
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

#include "ctrl/config/config.hpp"

namespace xlb::config {
namespace {

const char* family_name(const IpAddr& a) { return a.is_v4() ? "IPv4" : "IPv6"; }

std::string seconds_text(std::uint32_t cs) {
  std::string s = std::to_string(cs / 100);
  if (cs % 100) {
    s += "." + std::string(cs % 100 < 10 ? "0" : "") + std::to_string(cs % 100);
    while (s.back() == '0') s.pop_back();
  }
  return s;
}

template <class T>
void unique_names(const std::vector<T>& items, const char* kind, Diagnostics& d) {
  std::map<std::string, SourceLoc> seen;
  for (const auto& it : items) {
    auto [pos, fresh] = seen.emplace(it.name.value, it.name.loc);
    if (!fresh)
      d.error(it.name.loc, std::string(kind) + " '" + it.name.value + "' is already defined at " + to_string(pos->second));
  }
}

class Validator {
 public:
  Validator(const Config& cfg, const Options& opt, Diagnostics& d) : cfg_(cfg), opt_(opt), d_(d) {}

  void run() {
    unique_names(cfg_.vrrp_scripts, "vrrp_script", d_);
    unique_names(cfg_.vrrp_sync_groups, "vrrp_sync_group", d_);
    unique_names(cfg_.vrrp_instances, "vrrp_instance", d_);
    unique_names(cfg_.virtual_server_groups, "virtual_server_group", d_);
    for (const auto& in : cfg_.vrrp_instances) instance(in);
    sync_groups();
    for (const auto& vs : cfg_.virtual_servers) virtual_server(vs);
    machine();
  }

 private:
  void instance(const VrrpInstance& in) {
    const std::string who = "vrrp_instance " + in.name.value;
    if (!in.interface.set) d_.error(in.name.loc, who + " has no 'interface'");
    if (!in.virtual_router_id.set) d_.error(in.name.loc, who + " has no 'virtual_router_id'");
    const auto cs = in.advert_int_cs.value;
    if (in.version.value == 2 && (cs % 100 != 0 || cs < 100 || cs > 25500))
      d_.error(in.advert_int_cs.loc, "advert_int " + seconds_text(cs) +
                                         " is out of range for VRRP version 2 (whole seconds 1-255)");
    if (in.version.value == 3 && (cs < 1 || cs > 4095))
      d_.error(in.advert_int_cs.loc, "advert_int " + seconds_text(cs) +
                                         " is out of range for VRRP version 3 (0.01-40.95 seconds)");
    if (in.nopreempt.value && in.state.value != VrrpState::backup)
      d_.error(in.nopreempt.loc, "nopreempt requires 'state BACKUP' (" + who + " is MASTER)");
    if (in.auth_type.set && !in.auth_pass.set)
      d_.error(in.auth_type.loc, "authentication has auth_type but no auth_pass");
    if (in.auth_type.value != AuthType::none && in.version.value == 3)
      d_.warning(in.auth_type.loc, "VRRP version 3 has no authentication; auth_type is ignored");
    if (cfg_.global_defs.vrrp_strict.value && !in.unicast_peer.empty())
      d_.error(in.unicast_peer.front().loc, "unicast_peer cannot be used with vrrp_strict (set at " +
                                                to_string(cfg_.global_defs.vrrp_strict.loc) + ")");
    if (cfg_.global_defs.vrrp_strict.value && in.auth_type.value != AuthType::none)
      d_.error(in.auth_type.loc, "authentication cannot be used with vrrp_strict (set at " +
                                     to_string(cfg_.global_defs.vrrp_strict.loc) + ")");
    families(in, who);
    if (in.virtual_router_id.set && in.virtual_router_id.value != 0 && in.interface.set) {
      const bool v4 = in.virtual_ipaddress.empty() || in.virtual_ipaddress.front().address.is_v4();
      auto key = std::make_tuple(in.interface.value, in.virtual_router_id.value, v4);
      auto [pos, fresh] = vrids_.emplace(key, &in);
      if (!fresh)
        d_.error(in.virtual_router_id.loc,
                 "virtual_router_id " + std::to_string(in.virtual_router_id.value) + " on interface " +
                     in.interface.value + " is already used by vrrp_instance " + pos->second->name.value +
                     " (" + to_string(pos->second->virtual_router_id.loc) + ")");
    }
    for (const auto* list : {&in.virtual_ipaddress, &in.virtual_ipaddress_excluded})
      for (const auto& vip : *list) {
        auto [pos, fresh] = vips_.emplace(vip.address, std::make_pair(&in, vip.loc));
        if (!fresh)
          d_.error(vip.loc, "virtual IP " + vip.address.to_string() + " is already configured in vrrp_instance " +
                                pos->second.first->name.value + " (" + to_string(pos->second.second) + ")");
      }
    for (const auto& ts : in.track_script) {
      bool found = false;
      for (const auto& s : cfg_.vrrp_scripts) found = found || s.name.value == ts.name.value;
      if (!found) d_.error(ts.name.loc, "track_script '" + ts.name.value + "' names no vrrp_script");
    }
  }

  void families(const VrrpInstance& in, const std::string& who) {
    if (in.virtual_ipaddress.empty()) return;
    const IpAddr& first = in.virtual_ipaddress.front().address;
    for (const auto& vip : in.virtual_ipaddress) {
      if (in.version.value == 2 && !vip.address.is_v4()) {
        d_.error(vip.loc, "virtual_ipaddress " + vip.address.to_string() +
                              " is IPv6; VRRP version 2 carries only IPv4 (use version 3)");
      } else if (vip.address.family != first.family) {
        d_.error(vip.loc, "virtual_ipaddress " + vip.address.to_string() + " is " + family_name(vip.address) +
                              " but " + who + " is " + family_name(first) + " (its first address is " +
                              first.to_string() + "); move it to virtual_ipaddress_excluded or another instance");
      }
    }
    const auto& src = in.unicast_src_ip.value;
    if (src && src->family != first.family)
      d_.error(in.unicast_src_ip.loc, "unicast_src_ip " + src->to_string() + " is " + family_name(*src) +
                                          " but " + who + " is " + family_name(first));
    for (const auto& p : in.unicast_peer) {
      const IpAddr& want = src ? *src : first;
      if (p.address.family != want.family)
        d_.error(p.loc, "unicast_peer " + p.address.to_string() + " is " + family_name(p.address) + " but " +
                            (src ? "unicast_src_ip " + src->to_string() : who) + " is " + family_name(want));
    }
  }

  void sync_groups() {
    for (const auto& g : cfg_.vrrp_sync_groups) {
      for (const auto& member : g.group) {
        bool found = false;
        for (const auto& in : cfg_.vrrp_instances) found = found || in.name.value == member.value;
        if (!found) d_.error(member.loc, "vrrp_sync_group " + g.name.value + " names unknown vrrp_instance '" + member.value + "'");
      }
    }
  }

  void virtual_server(const VirtualServer& vs) {
    const std::string who = vs.kind == VirtualServer::Kind::address
                                ? "virtual_server " + vs.address.to_string() + " " + std::to_string(vs.port)
                                : vs.kind == VirtualServer::Kind::fwmark ? "virtual_server fwmark " + std::to_string(vs.fwmark)
                                                                       : "virtual_server group " + vs.group;
    if (vs.kind == VirtualServer::Kind::group) {
      bool found = false;
      for (const auto& g : cfg_.virtual_server_groups) found = found || g.name.value == vs.group;
      if (!found) d_.error(vs.loc, who + " names unknown virtual_server_group '" + vs.group + "'");
    }
    if (vs.kind == VirtualServer::Kind::address) {
      auto key = std::make_tuple(vs.address, vs.port, vs.protocol.value);
      auto [pos, fresh] = services_.emplace(key, vs.loc);
      if (!fresh) d_.error(vs.loc, who + " (" + (vs.protocol.value == Protocol::tcp ? "TCP" : "UDP") +
                                       ") is already defined at " + to_string(pos->second));
    }
    const bool explicit_xdp = vs.lb_backend.value.value_or(cfg_.global_defs.lb_backend.value) == LbBackend::xdp;
    if (explicit_xdp) {
      const SourceLoc& kind_at = vs.lb_kind.set ? vs.lb_kind.loc : vs.loc;
      if (vs.lb_kind.value == LbKind::nat)
        d_.error(kind_at, "lb_kind " + to_string(vs.lb_kind.value) +
                              (vs.lb_kind.set ? "" : " (keepalived's default)") +
                              " is not supported by the XDP backend, which forwards DR and TUN; use lb_backend ipvs");
      else if (!xdp_supports_forwarding(vs.lb_kind.value, vs.tunnel.value))
        d_.error(vs.tunnel.loc, "lb_kind TUN type " + to_string(vs.tunnel.value) +
                                    " is not done by the XDP backend (ipip and gue without remcsum are); use "
                                    "lb_backend ipvs");
      if (!xdp_supports_algo(vs.lb_algo.value))
        d_.error(vs.lb_algo.set ? vs.lb_algo.loc : vs.loc,
                 "lb_algo " + vs.lb_algo.value + (vs.lb_algo.set ? "" : " (keepalived's default)") +
                     " is not supported by the XDP backend (rr, wrr, sh, mh); use lb_backend ipvs");
      if (vs.kind == VirtualServer::Kind::fwmark)
        d_.error(vs.loc, "fwmark virtual servers are not supported by the XDP backend; use lb_backend ipvs");
    }
    if (!explicit_xdp && vs.lb_kind.value == LbKind::tun && !xdp_supports_forwarding(vs.lb_kind.value, vs.tunnel.value) &&
        vs.lb_backend.value.value_or(cfg_.global_defs.lb_backend.value) == LbBackend::auto_select)
      d_.warning(vs.tunnel.loc, "lb_kind TUN type " + to_string(vs.tunnel.value) +
                                    " runs on IPVS (the XDP backend does ipip and gue without remcsum)");
    std::set<std::pair<IpAddr, std::uint16_t>> reals;
    for (const auto& rs : vs.real_servers) {
      if (!reals.emplace(rs.address, rs.port).second)
        d_.error(rs.loc, "real_server " + rs.address.to_string() + " " + std::to_string(rs.port) +
                             " appears twice in " + who);
      // IPVS tunnels may cross families; the XDP program puts IPv4 in IPv6, not the reverse.
      const bool crossing_ok =
          vs.lb_kind.value == LbKind::tun &&
          (vs.address.is_v4() || effective_backend(vs, cfg_.global_defs) != LbBackend::xdp);
      if (vs.kind == VirtualServer::Kind::address && rs.address.family != vs.address.family && !crossing_ok)
        d_.error(rs.loc, "real_server " + rs.address.to_string() + " is " + family_name(rs.address) + " but " + who +
                             " is " + family_name(vs.address));
      if (vs.lb_kind.value == LbKind::dr && vs.kind == VirtualServer::Kind::address && rs.port != vs.port &&
          vs.port != 0 && !rs.address.is_loopback())
        d_.warning(rs.loc, "real_server port " + std::to_string(rs.port) + " differs from the virtual server's port " +
                               std::to_string(vs.port) + "; DR forwarding cannot change ports, so it has no effect");
    }
    const auto& sorry = vs.sorry_server.value;
    if (sorry && vs.kind == VirtualServer::Kind::address && sorry->address.family != vs.address.family)
      d_.error(vs.sorry_server.loc, "sorry_server " + sorry->address.to_string() + " is " + family_name(sorry->address) +
                                        " but " + who + " is " + family_name(vs.address));
  }

  void machine() {
    if (!opt_.probe) return;
    const Severity sev = opt_.mode == Mode::start ? Severity::error : Severity::warning;
    auto need_if = [&](const std::string& name, const SourceLoc& at) {
      if (name.empty() || checked_ifs_.contains(name)) return;
      checked_ifs_.insert(name);
      if (!opt_.probe->interface_exists(name))
        d_.report(sev, at, "interface '" + name + "' does not exist on this machine");
    };
    for (const auto& in : cfg_.vrrp_instances) {
      need_if(in.interface.value, in.interface.loc);
      for (const auto& vip : in.virtual_ipaddress) need_if(vip.dev, vip.loc);
      for (const auto& vip : in.virtual_ipaddress_excluded) need_if(vip.dev, vip.loc);
      for (const auto& t : in.track_interface) need_if(t.name.value, t.name.loc);
      for (const auto& h : in.heartbeat_extra) need_if(h.interface, h.loc);
    }
    scripts();
    const auto& user = cfg_.global_defs.script_user;
    if (!user.value.empty() && !opt_.probe->account_exists(user.value, false))
      d_.report(sev, user.loc, "script_user '" + user.value + "' does not exist on this machine; create it (useradd -r -s "
                                   "/usr/sbin/nologin " + user.value + ") or remove script_user (scripts then run as "
                                   "keepalived_script where it exists, else as root)");
    const auto& group = cfg_.global_defs.script_group;
    if (!group.value.empty() && !opt_.probe->account_exists(group.value, true))
      d_.report(sev, group.loc, "script_user's group '" + group.value + "' does not exist on this machine");
    const auto& sync = cfg_.global_defs.lvs_sync_daemon;
    if (sync.value.enabled) {
      need_if(sync.value.interface, sync.loc);
      sync_key(sync);
    }
    const auto& peers = cfg_.global_defs.flow_sync_peers;
    if (peers.value.enabled) {
      need_if(peers.value.interface, peers.loc);
      if (sync.value.enabled)
        d_.error(peers.loc, "flow_sync_peers and lvs_sync_daemon: a node runs one flow sync; keep one of them");
      // No VRRP instance, so no auth_pass to fall back on: the key file or nothing.
      if (!opt_.probe->readable_file(opt_.sync_key_file))
        d_.error(peers.loc, "flow_sync_peers: flow sync has no key: " + opt_.sync_key_file +
                                " is missing; create it with `(umask 077; head -c 32 /dev/urandom > " +
                                opt_.sync_key_file + ")` and copy that same file to every peer");
    }
    for (const auto& vs : cfg_.virtual_servers) {
      if (vs.lb_kind.value != LbKind::dr) continue;
      for (const auto& rs : vs.real_servers) dr_target(vs, "real server", rs.address, rs.port, rs.loc, sev);
      if (const auto& sorry = vs.sorry_server.value)
        dr_target(vs, "sorry_server", sorry->address, sorry->port, vs.sorry_server.loc, sev);
    }
  }

  // Where DR can send a virtual server's packets: a real on this node's L2 segment, or an
  // address of this node itself, whose stack then receives them unchanged (IPVS's "Local").
  void dr_target(const VirtualServer& vs, const std::string& what, const IpAddr& addr, std::uint16_t port,
                 const SourceLoc& at, Severity sev) {
    const Reach where = reach(addr);
    if (where == Reach::local) {
      if (vs.kind == VirtualServer::Kind::address && vs.port != 0 && port != vs.port)
        d_.error(at, what + " " + addr.to_string() + " " + std::to_string(port) +
                         " is an address of this node, so its own stack serves it, and DR cannot change the port: "
                         "it must be port " + std::to_string(vs.port) + " (the virtual server's), with a server "
                         "listening on the virtual address or on all addresses there");
      return;
    }
    if (where != Reach::direct)
      d_.report(sev, at, what + " " + addr.to_string() +
                             " is not on a directly connected network; DR forwarding needs it on "
                             "this node's own L2 segment");
  }

  // Flow sync refuses to start without a key: say so here, where the fix can be given.
  // Every script as keepalived checks it under enable_script_security (exists, executable, owner
  // and mode): a warning, since keepalived starts without a runnable script and so does xlbd,
  // but said now rather than at every transition.
  void scripts() {
    const bool security = cfg_.global_defs.enable_script_security.value;
    auto check = [&](const Located<std::string>& command, const std::string& what) {
      if (command.value.empty() || !checked_scripts_.insert(command.value).second) return;
      if (auto why = opt_.probe->script_problem(command.value, security); !why.empty())
        d_.warning(command.loc, what + " '" + command.value + "' cannot run: " + why);
    };
    auto notify = [&](const NotifyScripts& n) {
      check(n.notify, "notify");
      check(n.notify_master, "notify_master");
      check(n.notify_backup, "notify_backup");
      check(n.notify_fault, "notify_fault");
      check(n.notify_stop, "notify_stop");
    };
    for (const auto& s : cfg_.vrrp_scripts) check(s.script, "vrrp_script " + s.name.value);
    for (const auto& g : cfg_.vrrp_sync_groups) notify(g.notify);
    for (const auto& in : cfg_.vrrp_instances) notify(in.notify);
    for (const auto& vs : cfg_.virtual_servers) {
      check(vs.quorum_up, "quorum_up");
      check(vs.quorum_down, "quorum_down");
      for (const auto& rs : vs.real_servers) {
        check(rs.notify_up, "notify_up");
        check(rs.notify_down, "notify_down");
        for (const auto& c : rs.checkers) check(c.misc_path, "misc_path");
      }
    }
  }

  void sync_key(const Located<LvsSyncDaemon>& sync) {
    for (const auto& in : cfg_.vrrp_instances) {
      if (in.name.value != sync.value.instance) continue;
      if (!in.auth_pass.value.empty() || opt_.probe->readable_file(opt_.sync_key_file)) return;
      d_.error(sync.loc, "lvs_sync_daemon: flow sync has no key: " + opt_.sync_key_file +
                             " is missing and vrrp_instance " + in.name.value +
                             " has no auth_pass; create it with `mkdir -p " +
                             std::filesystem::path(opt_.sync_key_file).parent_path().string() +
                             " && (umask 077; head -c 32 /dev/urandom > " + opt_.sync_key_file +
                             ")` and copy that same file to every other node that syncs: they need the same key");
      return;
    }
  }

  // Asked once per address: each question reads the whole routing table, and 10,000 services
  // of 16 reals each asked it 160,000 times (seconds of every start and reload).
  Reach reach(const IpAddr& addr) {
    const auto known = reach_.find(addr);
    if (known != reach_.end()) return known->second;
    return reach_.emplace(addr, opt_.probe->reach(addr)).first->second;
  }

  const Config& cfg_;
  const Options& opt_;
  Diagnostics& d_;
  std::map<IpAddr, Reach> reach_;
  std::map<std::tuple<std::string, std::uint8_t, bool>, const VrrpInstance*> vrids_;
  std::map<IpAddr, std::pair<const VrrpInstance*, SourceLoc>> vips_;
  std::map<std::tuple<IpAddr, std::uint16_t, Protocol>, SourceLoc> services_;
  std::set<std::string> checked_ifs_;
  std::set<std::string> checked_scripts_;
};

}  // namespace

void validate(const Config& cfg, const Options& options, Diagnostics& diags) {
  Validator(cfg, options, diags).run();
}

}  // namespace xlb::config
