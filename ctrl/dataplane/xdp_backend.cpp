#include "ctrl/dataplane/xdp_backend.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>

#include "ctrl/dataplane/ring_builder.hpp"
#include "ctrl/dataplane/ring_codec.hpp"

namespace xlb::dataplane {

namespace {

TrafficCounters to_counters(const xlb_traffic_stats& s) { return {s.packets, s.bytes, s.new_flows}; }

void check_forwarding(const RealServer& real, const TunnelSpec& tunnel) {
  if (real.forwarding == Forwarding::dr) return;
  if (real.forwarding == Forwarding::tun && tunnel.type != TunnelSpec::Type::gre &&
      tunnel.checksum != TunnelSpec::Checksum::remcsum)
    return;
  throw std::invalid_argument("real server " + real_identity(real) +
                              ": the XDP backend forwards DR and TUN by ipip or gue (lb_kind NAT and TUN type gre "
                              "need IPVS)");
}

// The outer source of a tunnel to `real`: the configured prefix of its family (host bits from
// the flow hash), else the route's preferred source; the hash mask is in the address's last word.
std::pair<IpAddress, std::uint32_t> tunnel_source(const TunnelSpec& tunnel, const IpAddress& real,
                                                  const std::optional<IpAddress>& route_source) {
  for (const auto& p : tunnel.sources) {
    if (p.address.is_v4() != real.is_v4()) continue;
    const unsigned width = real.is_v4() ? 32 : 128;
    const unsigned host_bits = width - p.prefix;
    const std::uint32_t mask = host_bits >= 32 ? 0xffffffffu : (host_bits == 0 ? 0u : (1u << host_bits) - 1);
    return {p.address, htonl(mask)};
  }
  if (!route_source) throw std::runtime_error("no source address for a tunnel to " + real.to_string());
  return {*route_source, 0};
}

// The interface's own MAC as the program compares it; disabled (any unicast MAC) for a link
// without Ethernet addresses, where there is nothing to compare.
xlb_if_mac own_mac(const std::string& ifname) {
  xlb_if_mac out{};
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  ifreq ifr{};
  ifname.copy(ifr.ifr_name, IFNAMSIZ - 1);
  const int rc = ::ioctl(fd, SIOCGIFHWADDR, &ifr);
  const int err = errno;
  ::close(fd);
  if (rc < 0) throw std::system_error(err, std::generic_category(), "SIOCGIFHWADDR " + ifname);
  if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) return out;
  std::copy_n(reinterpret_cast<const unsigned char*>(ifr.ifr_hwaddr.sa_data), 6, out.mac);
  out.enabled = 1;
  return out;
}

}  // namespace

XdpBackend::XdpBackend(boost::asio::io_context& io, XdpBackendOptions options)
    : options_(std::move(options)),
      program_(std::make_unique<BpfProgram>(options_.program)),
      resolver_(io),
      refresh_timer_(io),
      vip_ids_(0, options_.program.sizes.max_vips),
      real_ids_(1, options_.program.sizes.max_reals) {
  if (program_->reused_pins()) adopt_pins();
  try {
    attach_all();
  } catch (...) {
    // Leave nothing this start created: off the interfaces it reached, and the fresh pins
    // gone. Pins adopted from a running xlb stay, with its program.
    if (!program_->reused_pins()) set_detach_on_exit(true);
    release();
    throw;
  }
  resolver_.watch([this](const IpAddress& a, int ifindex, const MacAddress& mac) { on_neighbour(a, ifindex, mac); });
  resolver_.watch_routes([this] { on_routes(); });
  if (options_.neighbour_refresh.count() > 0) arm_refresh();
}

void XdpBackend::attach_all() {
  for (const auto& ifname : options_.interfaces) {
    // Before the program runs there: until then it would act on frames for other hosts.
    const auto ifindex = static_cast<std::uint32_t>(interface_index(ifname));
    if (ifindex < XLB_IF_MACS_MAX) {
      if (auto ec = program_->if_macs().update(ifindex, own_mac(ifname)); ec) {
        throw std::system_error(ec, "if_macs entry for " + ifname);
      }
    } else {
      spdlog::warn("xdp: {}: ifindex {} is past if_macs; frames to other MACs are forwarded there too", ifname,
                   ifindex);
    }
    attachments_.push_back(std::make_unique<XdpAttachment>(program_->object(), "xlb_balancer",
                                                           interface_index(ifname), options_.attach));
    switch (attachments_.back()->takeover()) {
      case XdpTakeover::adopted:
        spdlog::info("xdp: {}: adopted the xlb_balancer left attached by the previous xlbd (same code)", ifname);
        break;
      case XdpTakeover::replaced:
        spdlog::info("xdp: {}: replaced the xlb_balancer left attached by the previous xlbd in one step (other code)",
                     ifname);
        break;
      case XdpTakeover::none:
        break;
    }
    if (!attachments_.back()->fallback_reason().empty()) {
      spdlog::warn("xdp: {} runs in generic mode, native failed: {}", ifname, attachments_.back()->fallback_reason());
    }
  }
}

void XdpBackend::arm_refresh() {
  refresh_timer_.expires_after(options_.neighbour_refresh);
  refresh_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // cancelled: the backend is going away
    refresh_neighbours();
    arm_refresh();
  });
}

void XdpBackend::refresh_neighbours() {
  auto probe = [this](const RealSlot& slot) {
    if (!slot.egress.local) resolver_.probe(slot.neighbour(), slot.egress.ifindex);
  };
  for (const auto& [key, svc] : services_) {
    for (const auto& [k, slot] : svc.reals) probe(slot);
    if (svc.sorry) probe(*svc.sorry);
  }
}

XdpBackend::~XdpBackend() { release(); }

void XdpBackend::release() {
  attachments_.clear();  // off the interfaces before the maps can go
  if (unpin_on_destroy_) program_->unpin();
}

void XdpBackend::adopt_pins() {
  const auto& p = *program_;
  const RingLayout ring(p.sizes().ring_size);
  for (const auto& [key, info] : p.vips().entries<xlb_vip_key, xlb_vip_info>()) {
    if (info.vip_id >= p.sizes().max_vips) continue;
    // Pins from a writer that did not keep the prefilter: switching it on must not hide these.
    program_->mark_vip_address(key.addr);
    vip_ids_.reserve(info.vip_id);
    orphan_vips_[from_vip_key(key)] = {info.vip_id, info.ring_slot & 1};
    std::set<std::uint32_t> ids;
    if (info.sorry_real) ids.insert(info.sorry_real);
    for (const auto id : ring.read_half(p.ring().fd(), info.vip_id, info.ring_slot, info.ring_len)) {
      if (id != 0) ids.insert(id);
    }
    for (auto id : ids) {
      auto real = p.reals().lookup<std::uint32_t, xlb_real>(id);
      if (!real || real->family == 0) continue;
      orphan_reals_.emplace(std::pair{info.vip_id, get_address(real->addr, real->family)}, id);
    }
  }
  // Every live real entry stays reserved until claimed or retired: flows may point at it.
  for (std::uint32_t id = 1; id < p.sizes().max_reals; ++id) {
    auto real = p.reals().lookup<std::uint32_t, xlb_real>(id);
    if (real && real->family != 0) real_ids_.reserve(id);
  }
  spdlog::info("xdp: reusing pinned maps under {}: {} services wait to be taken over", p.pin_dir().string(),
               orphan_vips_.size());
}

// Established flows read their VIP's flags from vip_state instead of the vips hash. The
// incarnation is kept, but for the VIP going (flags 0): the id's next VIP is another
// incarnation, which does not count what the flow caches still hold of this one, and the caches
// drop what they hold.
void XdpBackend::write_vip_state(std::uint32_t vip_id, std::uint32_t flags) {
  xlb_vip_state state = program_->vip_state().lookup<std::uint32_t, xlb_vip_state>(vip_id).value_or(xlb_vip_state{});
  state.flags = flags;
  if (flags == 0) ++state.incarnation;
  if (auto ec = program_->vip_state().update(vip_id, state); ec) {
    throw std::system_error(ec, "vip_state entry " + std::to_string(vip_id));
  }
  if (flags == 0) program_->bump_cache_epoch();
}

// After flows or reals entries were changed or deleted: the program's per-CPU flow caches stop
// trusting what they copied.
void XdpBackend::drop_cached_flows() {
  try {
    program_->bump_cache_epoch();
  } catch (const std::system_error& e) {
    spdlog::warn("xdp: {}; cached flows follow within the cache's lifetime", e.what());
  }
}

void XdpBackend::retire_orphans() {
  for (const auto& [key, vip] : orphan_vips_) {
    write_vip_state(vip.first, 0);
    program_->vips().erase(to_vip_key(key));
    flush_real_ids({}, vip.first);
    vip_ids_.release(vip.first);
  }
  orphan_vips_.clear();
  orphan_reals_.clear();
  std::set<std::uint32_t> claimed;
  for (const auto& [key, svc] : services_) {
    for (const auto& [rk, slot] : svc.reals) claimed.insert(slot.id);
    if (svc.sorry) claimed.insert(svc.sorry->id);
  }
  std::vector<std::uint32_t> stale;
  for (std::uint32_t id = 1; id < program_->sizes().max_reals; ++id) {
    auto real = program_->reals().lookup<std::uint32_t, xlb_real>(id);
    if (real && real->family != 0 && !claimed.count(id)) stale.push_back(id);
  }
  flush_real_ids(stale, std::nullopt);
  for (auto id : stale) {
    clear_real(id);
    real_ids_.release(id);
  }
}

Egress XdpBackend::route_of(const RealServer& real) {
  return real.forwarding == Forwarding::tun ? resolver_.route(real.address) : resolver_.egress(real.address);
}

XdpBackend::RealSlot XdpBackend::make_slot(const RealServer& real, const TunnelSpec& tunnel,
                                           const std::optional<RealSlot>& previous) {
  RealSlot slot;
  slot.real = real;
  slot.id = previous ? previous->id : 0;
  if (real.forwarding == Forwarding::tun) slot.tunnel = tunnel;
  if (previous && (previous->usable() || !previous->adjacent)) {
    // Resolved before, and followed since by the neighbour and route watches (on_neighbour,
    // on_routes): asking the kernel again costs two netlink round trips per real, 18 ms per
    // weight change at 1,000 reals. A real that has no MAC yet is asked again below; one the
    // route watch found behind a gateway waits for it.
    slot.egress = previous->egress;
    slot.mac = previous->mac;
    slot.adjacent = previous->adjacent;
    return slot;
  }
  const std::pair<IpAddress, bool> resolved_key{real.address, real.forwarding == Forwarding::tun};
  if (const auto known = resolved_.find(resolved_key); known != resolved_.end()) {
    slot.egress = known->second.egress;
    slot.mac = known->second.mac;
    return slot;
  }
  slot.egress = route_of(real);  // DR: throws when not adjacent
  if (slot.egress.local) return slot;
  slot.mac = resolver_.resolve(slot.neighbour(), slot.egress.ifindex, options_.resolve_timeout);
  if (!slot.mac) {
    spdlog::warn("xdp: real server {}: {} does not answer ARP/ND on {}; it gets no flows until it does",
                 real.address.to_string(), slot.neighbour().to_string(), slot.egress.ifname);
  }
  add_tx_port(slot.egress);
  if (slot.mac) resolved_.insert_or_assign(resolved_key, Resolved{slot.egress, *slot.mac});
  return slot;
}

void XdpBackend::add_tx_port(const Egress& egress) const {
  const std::uint32_t port = static_cast<std::uint32_t>(egress.ifindex);
  if (auto ec = program_->tx_ports().update(port, port); ec) {
    throw std::system_error(ec, "tx_ports entry for " + egress.ifname);
  }
}

void XdpBackend::write_tunnel(const RealSlot& slot) const {
  xlb_tunnel t{};
  if (slot.tunnel && !slot.egress.local) {
    const auto [source, mask] = tunnel_source(*slot.tunnel, slot.real.address, slot.egress.source);
    put_address(source, t.src);
    put_address(slot.real.address, t.dst);
    t.src_hash_mask = mask;
    t.type = slot.tunnel->type == TunnelSpec::Type::gue ? XLB_TUN_GUE : XLB_TUN_IPIP;
    t.gue_port = htons(slot.tunnel->port);
    // Zero UDP checksums are not allowed over IPv6: the program computes them there always.
    t.flags = slot.tunnel->checksum == TunnelSpec::Checksum::csum ? XLB_TUN_F_CSUM : 0;
    t.family = family_of(slot.real.address);
    t.ifindex = static_cast<__u32>(slot.egress.ifindex);
  }
  if (auto ec = program_->tunnels().update(slot.id, t); ec) {
    throw std::system_error(ec, "tunnels entry " + std::to_string(slot.id));
  }
}

void XdpBackend::write_real(const RealSlot& slot) const {
  write_tunnel(slot);
  xlb_real entry{};
  if (slot.mac) {
    std::copy(slot.mac->bytes.begin(), slot.mac->bytes.end(), entry.dst_mac);
    std::copy(slot.egress.mac.bytes.begin(), slot.egress.mac.bytes.end(), entry.src_mac);
    entry.ifindex = static_cast<__u32>(slot.egress.ifindex);
    entry.family = family_of(slot.real.address);
  }
  entry.flags = slot.real.weight == 0 ? XLB_REAL_F_QUIESCED : 0;
  if (slot.tunnel) entry.flags |= XLB_REAL_F_TUNNEL;
  if (slot.egress.local) {
    entry.family = family_of(slot.real.address);
    entry.flags |= XLB_REAL_F_LOCAL;
  }
  put_address(slot.real.address, entry.addr);
  if (auto ec = program_->reals().update(slot.id, entry); ec) {
    throw std::system_error(ec, "reals entry " + std::to_string(slot.id));
  }
}

void XdpBackend::clear_real(std::uint32_t id) {
  program_->reals().update(id, xlb_real{});
  reset_stats(program_->real_stats(), id);
}

void XdpBackend::reset_stats(const BpfMap& map, std::uint32_t id) const {
  map.update_per_cpu(id, xlb_traffic_stats{});
}

std::vector<std::uint32_t> XdpBackend::build_ring(const Service& svc) const {
  std::vector<RingMember> members;
  for (const auto& r : svc.spec.reals) {
    const auto& slot = svc.reals.at({r.address, r.port});
    if (slot.usable() && r.weight > 0) members.push_back({slot.id, r.weight, real_identity(r)});
  }
  const auto ring_size = program_->sizes().ring_size;
  switch (svc.spec.scheduler) {
    case Scheduler::rr:
      return build_rr_ring(members);
    case Scheduler::wrr:
      return build_wrr_ring(members, ring_size);
    default:
      return build_maglev_ring(members, ring_size);
  }
}

void XdpBackend::write_ring(const Service& svc, std::uint32_t slot, const std::vector<std::uint32_t>& ring) const {
  const RingLayout layout(program_->sizes().ring_size);
  if (auto ec = layout.write_half(program_->ring().fd(), svc.vip_id, slot, ring); ec) {
    throw std::system_error(ec, "ring of " + svc.spec.key.address.to_string());
  }
}

// The half the program does not read is rewritten, then one vips update switches to it:
// a packet sees either the old table or the new one, never a mixture.
void XdpBackend::publish(Service& svc) {
  const auto ring = build_ring(svc);
  const std::uint32_t slot = svc.written ? 1 - svc.live_slot : 0;
  write_ring(svc, slot, ring);
  xlb_vip_info info{};
  info.vip_id = svc.vip_id;
  info.flags = (svc.spec.persistence_timeout > 0 ? XLB_VIP_F_PERSIST : 0) | (svc.spec.active ? XLB_VIP_F_ACTIVE : 0);
  info.sched = to_sched(svc.spec.scheduler);
  info.ring_slot = slot;
  info.ring_len = static_cast<__u32>(ring.size());
  info.sorry_real = svc.sorry && svc.sorry->usable() ? svc.sorry->id : 0;
  info.persist_timeout = svc.spec.persistence_timeout;
  const auto mask = persistence_mask(svc.spec.key.address.is_v4(), svc.spec.persistence_prefix_len);
  std::copy(mask.begin(), mask.end(), info.persist_mask);
  const auto key = to_vip_key(svc.spec.key);
  program_->mark_vip_address(key.addr);  // the bit first: the filter must never hide a VIP
  if (auto ec = program_->vips().update(key, info); ec) {
    throw std::system_error(ec, "vips entry for " + svc.spec.key.address.to_string());
  }
  write_vip_state(svc.vip_id, info.flags | XLB_VIP_F_PRESENT);
  svc.live_slot = slot;
  svc.written = true;
}

void XdpBackend::apply(const ServiceSpec& spec) {
  to_vip_key(spec.key);  // validates before anything is allocated
  to_sched(spec.scheduler);
  for (const auto& r : spec.reals) check_forwarding(r, spec.tunnel);
  if (spec.sorry_server) check_forwarding(*spec.sorry_server, spec.tunnel);

  auto [it, inserted] = services_.try_emplace(spec.key);
  Service& svc = it->second;
  std::vector<std::uint32_t> fresh;  // ids taken in this call, handed back on failure
  try {
    if (inserted) {
      if (auto orphan = orphan_vips_.find(spec.key); orphan != orphan_vips_.end()) {
        svc.vip_id = orphan->second.first;
        svc.live_slot = orphan->second.second;
        svc.written = true;
        orphan_vips_.erase(orphan);
      } else {
        svc.vip_id = vip_ids_.allocate("VIP");
        reset_stats(program_->vip_stats(), svc.vip_id);
        program_->rr_cursor().update_per_cpu(svc.vip_id, xlb_cursor{});
      }
    }
    auto assign_id = [&](RealSlot& slot) {
      if (slot.id != 0) return;
      if (auto o = orphan_reals_.find({svc.vip_id, slot.real.address}); o != orphan_reals_.end()) {
        slot.id = o->second;
        orphan_reals_.erase(o);
        return;
      }
      slot.id = real_ids_.allocate("real server");
      fresh.push_back(slot.id);
      reset_stats(program_->real_stats(), slot.id);
    };
    std::map<RealKey, RealSlot> next;
    for (const auto& r : spec.reals) {
      const RealKey key{r.address, r.port};
      if (next.count(key)) throw std::invalid_argument("real server " + real_identity(r) + " listed twice");
      std::optional<RealSlot> prev;
      if (auto f = svc.reals.find(key); f != svc.reals.end()) prev = f->second;
      auto slot = make_slot(r, spec.tunnel, prev);
      assign_id(slot);
      next.emplace(key, std::move(slot));
    }
    std::optional<RealSlot> sorry;
    if (spec.sorry_server) {
      std::optional<RealSlot> prev;
      if (svc.sorry && svc.sorry->real.address == spec.sorry_server->address &&
          svc.sorry->real.port == spec.sorry_server->port) {
        prev = svc.sorry;
      }
      sorry = make_slot(*spec.sorry_server, spec.tunnel, prev);
      sorry->real.weight = 1;  // the sorry server is never quiesced
      assign_id(*sorry);
    }
    for (const auto& [k, slot] : next) write_real(slot);
    if (sorry) write_real(*sorry);

    std::set<std::uint32_t> keep;
    for (const auto& [k, slot] : next) keep.insert(slot.id);
    if (sorry) keep.insert(sorry->id);
    std::vector<std::uint32_t> dropped;
    for (const auto& [k, slot] : svc.reals) {
      if (!keep.count(slot.id)) dropped.push_back(slot.id);
    }
    if (svc.sorry && !keep.count(svc.sorry->id)) dropped.push_back(svc.sorry->id);

    svc.spec = spec;
    svc.reals = std::move(next);
    svc.sorry = std::move(sorry);
    publish(svc);
    fresh.clear();
    // Only now that no ring points at them: their flows end, their ids are free.
    if (!dropped.empty()) flush_real_ids(dropped, svc.vip_id);
    for (auto id : dropped) {
      clear_real(id);
      real_ids_.release(id);
    }
    // Flow caches forward with copies of reals entries (xlb_abi.h, flow_cache): cleared ones
    // must lapse. A kept real's addresses do not change here (make_slot keeps them; the
    // neighbour watch moves them), so a weight change keeps the cached flows.
    if (!dropped.empty()) {
      drop_cached_flows();
      resolved_.clear();
    }
  } catch (...) {
    resolved_.clear();  // it may name a slot that was never stored
    for (auto id : fresh) real_ids_.release(id);
    if (inserted && !svc.written) {
      vip_ids_.release(svc.vip_id);
      services_.erase(it);
    }
    throw;
  }
}

void XdpBackend::remove(const ServiceKey& key) {
  auto it = services_.find(key);
  if (it == services_.end()) return;
  Service& svc = it->second;
  write_vip_state(svc.vip_id, 0);
  program_->vips().erase(to_vip_key(key));
  flush_real_ids({}, svc.vip_id);
  for (const auto& [k, slot] : svc.reals) {
    clear_real(slot.id);
    real_ids_.release(slot.id);
  }
  if (svc.sorry) {
    clear_real(svc.sorry->id);
    real_ids_.release(svc.sorry->id);
  }
  vip_ids_.release(svc.vip_id);
  services_.erase(it);
  resolved_.clear();
}

// Deletes connection and persistence entries of the given reals (or, with no reals, of the
// whole VIP); with a VIP given, only that VIP's.
void XdpBackend::flush_real_ids(const std::vector<std::uint32_t>& ids, std::optional<std::uint32_t> vip_id) {
  const std::set<std::uint32_t> wanted(ids.begin(), ids.end());
  if (wanted.empty() && !vip_id) return;
  auto match = [&](std::uint32_t real_id, std::uint32_t vip) {
    if (vip_id && vip != *vip_id) return false;
    return wanted.empty() || wanted.count(real_id) > 0;
  };
  std::vector<xlb_flow_key> flow_keys;
  for (const auto& [k, v] : program_->flows().entries<xlb_flow_key, xlb_flow>()) {
    if (match(v.real_id, v.vip_id)) flow_keys.push_back(k);
  }
  program_->flows().erase_all(flow_keys);
  std::vector<xlb_persist_key> persist_keys;
  for (const auto& [k, v] : program_->persist().entries<xlb_persist_key, xlb_persist>()) {
    if (match(v.real_id, k.vip_id)) persist_keys.push_back(k);
  }
  program_->persist().erase_all(persist_keys);
  if (!flow_keys.empty()) drop_cached_flows();
}

void XdpBackend::flush_flows_to(const ServiceKey& key, const IpAddress& real) {
  auto it = services_.find(key);
  if (it == services_.end()) return;
  std::vector<std::uint32_t> ids;
  for (const auto& [k, slot] : it->second.reals) {
    if (slot.real.address == real) ids.push_back(slot.id);
  }
  if (it->second.sorry && it->second.sorry->real.address == real) ids.push_back(it->second.sorry->id);
  if (!ids.empty()) flush_real_ids(ids, it->second.vip_id);
}

PendingTraffic XdpBackend::pending_traffic() const {
  return PendingTraffic(program_->flow_cache(), program_->vip_state(), program_->reals());
}

std::vector<ServiceStats> XdpBackend::stats() { return stats(pending_traffic()); }

std::array<std::uint64_t, XLB_CTR_MAX> XdpBackend::counters() const { return counters(pending_traffic()); }

XdpBackend::Traffic XdpBackend::traffic() const {
  const PendingTraffic pending = pending_traffic();
  return {stats(pending), counters(pending)};
}

std::vector<ServiceStats> XdpBackend::stats(const PendingTraffic& pending) const {
  // Both statistics maps are read once, up to the highest id in use, rather than id by id.
  std::uint32_t vip_ids = 0;
  std::uint32_t real_ids = 0;
  for (const auto& [key, svc] : services_) {
    vip_ids = std::max(vip_ids, svc.vip_id + 1);
    for (const auto& [k, slot] : svc.reals) real_ids = std::max(real_ids, slot.id + 1);
    if (svc.sorry) real_ids = std::max(real_ids, svc.sorry->id + 1);
  }
  const PerCpuValues<xlb_traffic_stats> vip_stats(program_->vip_stats(), vip_ids);
  const PerCpuValues<xlb_traffic_stats> real_stats(program_->real_stats(), real_ids);
  std::vector<ServiceStats> out;
  out.reserve(services_.size());
  auto real_traffic = [&](std::uint32_t id) { return to_counters(sum_traffic(real_stats[id], pending.real(id))); };
  for (const auto& [key, svc] : services_) {
    ServiceStats s;
    s.key = key;
    s.counters = to_counters(sum_traffic(vip_stats[svc.vip_id], pending.vip(svc.vip_id)));
    s.reals.reserve(svc.spec.reals.size() + (svc.sorry ? 1 : 0));
    auto as_listed = [](const RealSlot& slot) {
      RealServer real = slot.real;
      if (slot.egress.local) real.forwarding = Forwarding::local;
      return real;
    };
    for (const auto& r : svc.spec.reals) {
      const RealSlot& slot = svc.reals.at({r.address, r.port});
      s.reals.push_back({as_listed(slot), real_traffic(slot.id)});
    }
    if (svc.sorry) s.reals.push_back({as_listed(*svc.sorry), real_traffic(svc.sorry->id)});
    out.push_back(std::move(s));
  }
  return out;
}

std::array<std::uint64_t, XLB_CTR_MAX> XdpBackend::counters(const PendingTraffic& pending) const {
  std::array<std::uint64_t, XLB_CTR_MAX> out{};
  const PerCpuValues<std::uint64_t> counters(program_->counters(), XLB_CTR_MAX);
  for (std::uint32_t i = 0; i < XLB_CTR_MAX; ++i) out[i] = sum_counter(counters[i], i, pending);
  return out;
}

// Calls revise(slot) for every real of the service, its sorry server included, then lets the
// flow caches' copies lapse and rebuilds the ring as the revisions require.
void XdpBackend::revise_slots(Service& svc, const std::function<SlotRevision(RealSlot&)>& revise) {
  SlotRevision all;
  auto visit = [&](RealSlot& slot) {
    const SlotRevision r = revise(slot);
    all.rewritten = all.rewritten || r.rewritten;
    all.usability = all.usability || r.usability;
  };
  for (auto& [k, slot] : svc.reals) visit(slot);
  if (svc.sorry) visit(*svc.sorry);
  if (all.rewritten) drop_cached_flows();  // cached flows carry the old addresses
  if (all.usability) publish(svc);
}

// Routes or links changed: every real's egress is looked up again. A real now reached through
// another interface follows it (its MAC comes from that interface's neighbour table, or the
// neighbour watch once the kernel has resolved it); one that is no longer adjacent stops
// getting flows until it is again.
void XdpBackend::on_routes() {
  resolved_.clear();
  // One route lookup per address, however many services list it (10,000 VIPs may share a
  // few hundred reals, and this runs on the thread that also sends VRRP adverts).
  struct Route {
    std::optional<Egress> egress;
    std::string error;
  };
  std::map<std::pair<IpAddress, bool>, Route> routes;
  auto route_to = [&](const RealServer& real) -> const Route& {
    const std::pair<IpAddress, bool> key{real.address, real.forwarding == Forwarding::tun};
    auto it = routes.find(key);
    if (it != routes.end()) return it->second;
    Route r;
    try {
      r.egress = route_of(real);
    } catch (const std::exception& e) {
      r.error = e.what();
    }
    return routes.emplace(key, std::move(r)).first->second;
  };
  auto recheck = [&](RealSlot& slot) -> SlotRevision {
    const bool was_usable = slot.usable();
    const Route& route = route_to(slot.real);
    const std::optional<Egress>& egress = route.egress;
    if (!egress) {
      if (!slot.adjacent) return {};
      spdlog::warn("xdp: real server {}: {}; it gets no flows until it is adjacent again",
                   slot.real.address.to_string(), route.error);
      slot.adjacent = false;
      slot.egress.local = false;
      slot.mac.reset();
      write_real(slot);
      return {true, was_usable};
    }
    const bool same_way = egress->ifindex == slot.egress.ifindex && egress->mac == slot.egress.mac &&
                          egress->local == slot.egress.local && egress->gateway == slot.egress.gateway &&
                          egress->source == slot.egress.source;
    if (same_way && slot.adjacent) return {};
    slot.adjacent = true;
    if (!same_way) {
      if (egress->local) {
        spdlog::info("xdp: real server {} is now an address of this node: served locally",
                     slot.real.address.to_string());
      } else {
        spdlog::info("xdp: real server {} is now reached through {}", slot.real.address.to_string(), egress->ifname);
        add_tx_port(*egress);
      }
      slot.egress = *egress;
    }
    slot.mac.reset();
    if (!slot.egress.local) {
      slot.mac = resolver_.lookup(slot.neighbour(), slot.egress.ifindex);
      if (!slot.mac) resolver_.probe(slot.neighbour(), slot.egress.ifindex);
    }
    write_real(slot);
    return {true, was_usable != slot.usable()};
  };
  for (auto& [key, svc] : services_) {
    try {
      revise_slots(svc, recheck);
    } catch (const std::exception& e) {
      spdlog::error("xdp: following a route change for {}: {}", svc.spec.key.address.to_string(), e.what());
    }
  }
}

void XdpBackend::on_neighbour(const IpAddress& address, int ifindex, const MacAddress& mac) {
  // The address is a DR real's own or a tunnel real's gateway: the entry follows either.
  for (auto& [key, known] : resolved_) {
    if (known.egress.next_hop(key.first) == address && known.egress.ifindex == ifindex) known.mac = mac;
  }
  auto follow = [&](RealSlot& slot) -> SlotRevision {
    if (slot.neighbour() != address || slot.egress.ifindex != ifindex || slot.mac == mac || !slot.adjacent) return {};
    spdlog::info("xdp: real server {} is now at {}", slot.real.address.to_string(), mac.str());
    const bool newly_usable = !slot.mac;
    slot.mac = mac;
    write_real(slot);
    return {true, newly_usable};
  };
  for (auto& [key, svc] : services_) {
    try {
      revise_slots(svc, follow);
    } catch (const std::exception& e) {
      spdlog::error("xdp: following the neighbour entry of {}: {}", address.to_string(), e.what());
    }
  }
}

}  // namespace xlb::dataplane
