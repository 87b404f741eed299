// XdpBackend's readers and writers of the connection and persistence tables: listings for
// xlbctl, the flow census' count, and the entries flow sync sends and installs. Split from
// xdp_backend.cpp, which keeps the services, reals and rings.
#include <arpa/inet.h>

#include <algorithm>

#include "ctrl/dataplane/flow_counter.hpp"
#include "ctrl/dataplane/xdp_backend.hpp"

namespace xlb::dataplane {

XdpBackend::Directory XdpBackend::directory() const {
  Directory d;
  for (const auto& [key, svc] : services_) {
    d.by_vip[svc.vip_id] = &svc;
    for (const auto& [k, slot] : svc.reals) d.real_address[slot.id] = slot.real.address;
    if (svc.sorry) d.real_address[svc.sorry->id] = svc.sorry->real.address;
  }
  return d;
}

std::vector<Flow> XdpBackend::persistence() {
  const auto [by_vip, real_address] = directory();
  const std::uint64_t now = monotonic_ns();
  std::vector<Flow> out;
  for (const auto& [k, v] : program_->persist().entries<xlb_persist_key, xlb_persist>()) {
    const auto s = by_vip.find(k.vip_id);
    if (s == by_vip.end()) continue;  // a template of a service being removed
    Flow f;
    f.client = get_address(k.client, k.family);  // masked by persistence_granularity
    f.service = s->second->spec.key;
    if (auto r = real_address.find(v.real_id); r != real_address.end()) f.real = r->second;
    f.idle = std::chrono::nanoseconds(now > v.last_seen ? now - v.last_seen : 0);
    out.push_back(f);
  }
  return out;
}

std::vector<Flow> XdpBackend::flows() {
  const auto [by_vip, real_address] = directory();
  const std::uint64_t now = monotonic_ns();
  auto since = [now](std::uint64_t t) { return std::chrono::nanoseconds(now > t ? now - t : 0); };
  std::vector<Flow> out;
  for (const auto& [k, v] : program_->flows().entries<xlb_flow_key, xlb_flow>()) {
    Flow f;
    f.client = get_address(k.src, k.family);
    f.client_port = ntohs(k.sport);
    if (auto s = by_vip.find(v.vip_id); s != by_vip.end()) {
      f.service = s->second->spec.key;
    } else {
      f.service.address = get_address(k.dst, k.family);
      f.service.port = ntohs(k.dport);
      f.service.protocol = static_cast<Protocol>(k.proto);
    }
    if (auto r = real_address.find(v.real_id); r != real_address.end()) f.real = r->second;
    f.age = since(v.created);
    f.idle = since(v.last_seen);
    out.push_back(f);
  }
  return out;
}

FlowCounts XdpBackend::count_flows(std::chrono::nanoseconds active_window) {
  FlowCounter counter(monotonic_ns(), active_window);
  program_->flows().for_each_entry<xlb_flow_key, xlb_flow>(
      [&](const xlb_flow_key&, const xlb_flow& v) { counter.add(v.vip_id, v.real_id, v.last_seen, v.client_state); });
  const auto d = directory();
  return counter.counts(
      [&](std::uint32_t id) -> std::optional<ServiceKey> {
        const auto s = d.by_vip.find(id);
        return s != d.by_vip.end() ? std::optional(s->second->spec.key) : std::nullopt;
      },
      [&](std::uint32_t id) -> std::optional<IpAddress> {
        const auto r = d.real_address.find(id);
        return r != d.real_address.end() ? std::optional(r->second) : std::nullopt;
      });
}

std::vector<SyncedFlow> XdpBackend::synced_flows(std::uint64_t since_ns) const {
  struct Owner {
    const Service* svc;
    std::map<std::uint32_t, const RealSlot*> reals;
  };
  std::map<std::uint32_t, Owner> by_vip;
  for (const auto& [key, svc] : services_) {
    auto& o = by_vip[svc.vip_id];
    o.svc = &svc;
    for (const auto& [k, slot] : svc.reals) o.reals[slot.id] = &slot;
    if (svc.sorry) o.reals[svc.sorry->id] = &*svc.sorry;
  }
  auto resolve = [&](std::uint32_t vip_id, std::uint32_t real_id, SyncedFlow& f) {
    auto o = by_vip.find(vip_id);
    if (o == by_vip.end()) return false;
    auto r = o->second.reals.find(real_id);
    if (r == o->second.reals.end()) return false;
    f.service = o->second.svc->spec.key;
    f.real = r->second->real.address;
    f.real_port = r->second->real.port;
    return true;
  };
  std::vector<SyncedFlow> out;
  for (const auto& [k, v] : program_->flows().entries<xlb_flow_key, xlb_flow>()) {
    if (v.last_seen < since_ns) continue;
    SyncedFlow f;
    if (!resolve(v.vip_id, v.real_id, f)) continue;
    f.vip = get_address(k.dst, k.family);
    f.vip_port = ntohs(k.dport);
    f.client = get_address(k.src, k.family);
    f.client_port = ntohs(k.sport);
    f.created_ns = v.created;
    f.last_seen_ns = v.last_seen;
    out.push_back(f);
  }
  for (const auto& [k, v] : program_->persist().entries<xlb_persist_key, xlb_persist>()) {
    if (v.last_seen < since_ns) continue;
    SyncedFlow f;
    f.persist = true;
    if (!resolve(k.vip_id, v.real_id, f)) continue;
    f.vip = f.service.address;
    f.client = get_address(k.client, k.family);
    f.created_ns = v.last_seen;
    f.last_seen_ns = v.last_seen;
    out.push_back(f);
  }
  return out;
}

bool XdpBackend::install_synced(const SyncedFlow& flow, SyncedInstall how, std::uint64_t stamp_ns) {
  auto svc = services_.find(flow.service);
  if (svc == services_.end() || !svc->second.written) return false;
  const Service& s = svc->second;
  std::optional<std::uint32_t> real_id;
  if (auto r = s.reals.find(RealKey{flow.real, flow.real_port}); r != s.reals.end()) real_id = r->second.id;
  else if (s.sorry && s.sorry->real.address == flow.real && s.sorry->real.port == flow.real_port) real_id = s.sorry->id;
  if (!real_id) return false;
  const bool keep_own = how == SyncedInstall::keep_own;
  const std::uint64_t now = keep_own ? stamp_ns : monotonic_ns();
  if (flow.persist) {
    xlb_persist_key key{};
    put_address(flow.client, key.client);
    key.vip_id = s.vip_id;
    key.family = family_of(flow.client);
    xlb_persist value{};
    value.real_id = *real_id;
    value.last_seen = now;
    if (keep_own) {
      if (auto own = program_->persist().lookup<xlb_persist_key, xlb_persist>(key)) {
        if (own->real_id != *real_id) return true;
        value.last_seen = std::max<std::uint64_t>(own->last_seen, now);
      }
    }
    return !program_->persist().update(key, value);
  }
  xlb_flow_key key{};
  put_address(flow.client, key.src);
  put_address(flow.vip, key.dst);
  key.sport = htons(flow.client_port);
  key.dport = htons(flow.vip_port);
  key.proto = static_cast<std::uint8_t>(flow.service.protocol);
  key.family = family_of(flow.vip);
  xlb_flow value{};
  value.real_id = *real_id;
  value.vip_id = s.vip_id;
  value.last_seen = now;
  value.created = now;
  if (keep_own) {
    if (auto own = program_->flows().lookup<xlb_flow_key, xlb_flow>(key)) {
      if (own->real_id != *real_id) return true;
      // A refresh of a copy (or of a flow that moved here): its own state and times stay.
      value = *own;
      value.last_seen = std::max<std::uint64_t>(own->last_seen, now);
    }
  }
  // No cache epoch move per entry (two syscalls each, at up to 400k entries/s): a backup rarely
  // forwards the flows it is sent, and a cached copy lapses within XLB_FLOW_CACHE_TTL_JIFFIES.
  return !program_->flows().update(key, value);
}

}  // namespace xlb::dataplane
