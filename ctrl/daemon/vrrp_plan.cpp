#include "ctrl/daemon/vrrp_plan.hpp"

#include "ctrl/daemon/service_plan.hpp"
#include "ctrl/notify/script_runner.hpp"

namespace xlb::daemon {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

vrrp::VipSettings vip_settings(const config::VirtualIp& vip) {
  vrrp::VipSettings out;
  out.address = to_asio(vip.address);
  out.prefix_len = vip.prefix;
  out.dev = vip.dev;
  out.label = vip.label;
  if (vip.broadcast && vip.broadcast->is_v4()) out.brd = to_asio(*vip.broadcast).to_v4();
  out.scope = vip.scope;
  return out;
}

vrrp::PeerSettings peer_settings(const config::UnicastPeer& peer) {
  vrrp::PeerSettings out;
  out.address = to_asio(peer.address);
  if (peer.min_ttl) out.min_ttl = *peer.min_ttl;
  if (peer.max_ttl) out.max_ttl = *peer.max_ttl;
  return out;
}

const config::VrrpScript* find_script(const config::Config& config, const std::string& name) {
  for (const auto& script : config.vrrp_scripts) {
    if (*script.name == name) return &script;
  }
  return nullptr;
}

vrrp::InstanceSettings instance_settings(const config::VrrpInstance& in, const config::Config& config) {
  const auto& g = config.global_defs;
  vrrp::InstanceSettings s;
  s.name = *in.name;
  s.interface = *in.interface;
  s.vrid = *in.virtual_router_id;
  s.priority = *in.priority;
  s.advert_int = milliseconds(*in.advert_int_cs * 10);
  s.version = in.version.set ? *in.version : *g.vrrp_version;
  s.initial_state = *in.state == config::VrrpState::master ? vrrp::InitialState::master
                                                           : vrrp::InitialState::backup;
  s.nopreempt = *in.nopreempt;
  s.preempt_delay = seconds(*in.preempt_delay);
  if (*in.auth_type == config::AuthType::pass) s.auth_pass = *in.auth_pass;
  for (const auto& vip : in.virtual_ipaddress) s.vips.push_back(vip_settings(vip));
  for (const auto& vip : in.virtual_ipaddress_excluded) s.excluded_vips.push_back(vip_settings(vip));
  if (in.unicast_src_ip->has_value()) s.unicast_src = to_asio(**in.unicast_src_ip);
  for (const auto& peer : in.unicast_peer) s.unicast_peers.push_back(peer_settings(peer));
  const auto& group = s.vips.empty() || s.vips.front().address.is_v4() ? g.vrrp_mcast_group4 : g.vrrp_mcast_group6;
  if (group.set) s.mcast_group = to_asio(*group);
  s.check_unicast_src = *g.vrrp_check_unicast_src;
  for (const auto& track : in.track_interface) s.track_interfaces.push_back({*track.name, track.weight});
  for (const auto& track : in.track_script) {
    const auto* script = find_script(config, *track.name);
    if (script == nullptr) continue;  // the parser already reported it
    vrrp::TrackScript t;
    t.name = *script->name;
    t.argv = notify::split_script_command(*script->script);
    t.interval = seconds(*script->interval);
    t.timeout = seconds(*script->timeout);
    t.rise = static_cast<int>(*script->rise);
    t.fall = static_cast<int>(*script->fall);
    t.weight = track.weight ? *track.weight : *script->weight;
    s.track_scripts.push_back(std::move(t));
  }
  s.garp_master_delay = seconds(in.garp_master_delay.set ? *in.garp_master_delay : *g.vrrp_garp_master_delay);
  s.garp_master_repeat = static_cast<int>(in.garp_master_repeat.set ? *in.garp_master_repeat : *g.vrrp_garp_master_repeat);
  s.garp_master_refresh = seconds(in.garp_master_refresh.set ? *in.garp_master_refresh : *g.vrrp_garp_master_refresh);
  s.accept = *in.accept;
  s.checksum_mode = *g.vrrp_v3_checksum == config::V3Checksum::rfc9568 ? vrrp::ChecksumMode::rfc9568
                                                                       : vrrp::ChecksumMode::keepalived;
  for (const auto& path : in.heartbeat_extra) {
    if (path.kind == config::HeartbeatPath::Kind::interface) s.extra_interfaces.push_back(path.interface);
    else if (path.peer) s.extra_peers.push_back({to_asio(*path.peer), 0, 255});
  }
  s.split_brain_check = *in.split_brain_check;
  return s;
}

}  // namespace

vrrp::RouterSettings plan_vrrp(const config::Config& config) {
  vrrp::RouterSettings out;
  for (const auto& instance : config.vrrp_instances) out.instances.push_back(instance_settings(instance, config));
  for (const auto& group : config.vrrp_sync_groups) {
    vrrp::SyncGroupSettings s;
    s.name = *group.name;
    for (const auto& member : group.group) s.instances.push_back(*member);
    out.sync_groups.push_back(std::move(s));
  }
  return out;
}

std::set<dataplane::IpAddress> vrrp_addresses(const vrrp::RouterSettings& settings) {
  std::set<dataplane::IpAddress> out;
  for (const auto& instance : settings.instances) {
    for (const auto& vip : instance.vips) out.insert(vip.address);
    for (const auto& vip : instance.excluded_vips) out.insert(vip.address);
  }
  return out;
}

}  // namespace xlb::daemon
