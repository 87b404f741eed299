#include "ctrl/dataplane/bpf_program.hpp"
#include "ctrl/dataplane/pinned_map.hpp"

#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <vector>

#include <spdlog/spdlog.h>

#include "ctrl/dataplane/ring_builder.hpp"
#include "ctrl/dataplane/ring_codec.hpp"
#include "xlb/balancer.skel.h"

namespace xlb::dataplane {

namespace {

std::runtime_error libbpf_error(const std::string& what, int err) {
  if (err < 0) err = -err;
  return std::runtime_error(what + ": " + std::strerror(err));
}

// The nearest directory that exists, so that the filesystem check happens before mkdir
// scatters directories over a filesystem that cannot hold pins.
std::filesystem::path existing_ancestor(std::filesystem::path p) {
  std::error_code ec;
  while (!p.empty() && !std::filesystem::exists(p, ec)) {
    if (p == p.parent_path()) break;
    p = p.parent_path();
  }
  return p;
}

void set_max_entries(bpf_map* map, std::uint64_t n) {
  if (int err = bpf_map__set_max_entries(map, static_cast<std::uint32_t>(n)); err) {
    throw libbpf_error(std::string("sizing map ") + bpf_map__name(map), err);
  }
}

FlowLru lru_of(std::uint32_t map_flags) {
  return (map_flags & BPF_F_NO_COMMON_LRU) ? FlowLru::per_cpu : FlowLru::shared;
}

const char* lru_name(FlowLru lru) { return lru == FlowLru::per_cpu ? "per_cpu" : "shared"; }

// The first ABI whose flows carry client_state, and a flows value as the ones before wrote it.
constexpr std::uint32_t kAbiWithClientState = 5;
struct LegacyFlow {
  std::uint32_t real_id;
  std::uint32_t vip_id;
  std::uint64_t last_seen;
  std::uint64_t created;
};

}  // namespace

std::uint32_t flow_map_entries(std::uint32_t max_flows, FlowLru lru, int possible_cpus) {
  constexpr std::uint64_t kLruFreePerCpu = 128;
  const auto cpus = static_cast<std::uint64_t>(std::max(possible_cpus, 1));
  const std::uint64_t entries =
      lru == FlowLru::shared ? max_flows + kLruFreePerCpu * cpus : (max_flows + cpus - 1) / cpus * cpus;
  if (entries > std::numeric_limits<std::uint32_t>::max()) {
    throw std::invalid_argument("xdp_max_flows " + std::to_string(max_flows) + " leaves no room for the LRU lists");
  }
  return static_cast<std::uint32_t>(entries);
}

void shape_flow_map(bpf_map* flows, std::uint32_t max_flows, FlowLru lru) {
  set_max_entries(flows, flow_map_entries(max_flows, lru, libbpf_num_possible_cpus()));
  const std::uint32_t flags = lru == FlowLru::per_cpu ? BPF_F_NO_COMMON_LRU : 0;
  if (int err = bpf_map__set_map_flags(flows, flags); err) throw libbpf_error("setting the flows map's LRU flags", err);
}

void require_bpffs(const std::filesystem::path& dir) {
  struct statfs st {};
  if (::statfs(dir.c_str(), &st) != 0) {
    throw std::system_error(errno, std::generic_category(), "pin directory " + dir.string());
  }
  if (static_cast<unsigned long>(st.f_type) != static_cast<unsigned long>(BPF_FS_MAGIC)) {
    std::ostringstream msg;
    msg << "pin directory " << dir.string() << " is not on a bpf filesystem (type 0x" << std::hex
        << static_cast<unsigned long>(st.f_type) << "); mount one first, e.g. `mount -t bpf bpf /sys/fs/bpf`";
    throw std::runtime_error(msg.str());
  }
}

void pin_global_section(bpf_map* section, const std::filesystem::path& pin_dir, const char* name) {
  const std::string path = (pin_dir / name).string();
  if (int err = bpf_map__set_pin_path(section, path.c_str()); err) {
    throw libbpf_error(std::string("pinning ") + name, err);
  }
}

void BpfProgram::SkeletonDeleter::operator()(xlb_balancer* skel) const { xlb_balancer__destroy(skel); }

BpfProgram::BpfProgram(const BpfProgramOptions& options) : options_(options) {
  const auto& s = options_.sizes;
  if (!is_prime(s.ring_size)) {
    throw std::invalid_argument("ring size " + std::to_string(s.ring_size) + " is not prime (Maglev needs a prime)");
  }
  if (s.max_vips == 0 || s.max_reals < 2 || s.max_flows == 0 || s.max_persist == 0 || s.max_tx_ports == 0) {
    throw std::invalid_argument("BPF table sizes must be positive (max_reals >= 2: id 0 is unused)");
  }
  const std::uint64_t ring_entries = RingLayout(s.ring_size).map_entries(s.max_vips);
  if (ring_entries > std::numeric_limits<std::uint32_t>::max()) {
    throw std::invalid_argument("max_vips * 2 * ring_size exceeds 2^32 ring elements");
  }

  require_bpffs(existing_ancestor(options_.pin_dir));
  std::filesystem::create_directories(options_.pin_dir);
  require_bpffs(options_.pin_dir);

  const std::string pin_root = options_.pin_dir.string();
  LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = pin_root.c_str());
  skel_.reset(xlb_balancer__open_opts(&open_opts));
  if (!skel_) throw libbpf_error("opening the XDP balancer", errno);

  skel_->rodata->ring_size = s.ring_size;
  set_max_entries(skel_->maps.vips, s.max_vips);
  set_max_entries(skel_->maps.ring, ring_entries);
  set_max_entries(skel_->maps.reals, s.max_reals);
  set_max_entries(skel_->maps.tunnels, s.max_reals);
  set_max_entries(skel_->maps.tunnel_hops, s.max_reals);
  shape_flow_map(skel_->maps.flows, s.max_flows, options_.flow_lru);
  set_max_entries(skel_->maps.persist, s.max_persist);
  set_max_entries(skel_->maps.vip_stats, s.max_vips);
  set_max_entries(skel_->maps.vip_state, s.max_vips);
  set_max_entries(skel_->maps.real_stats, s.max_reals);
  set_max_entries(skel_->maps.rr_cursor, s.max_vips);
  set_max_entries(skel_->maps.tx_ports, s.max_tx_ports);

  pin_global_section(skel_->maps.data_vip_filter, options_.pin_dir, "vip_filter");
  pin_global_section(skel_->maps.data_capture, options_.pin_dir, "capture");
  check_pinned_maps();
  if (int err = xlb_balancer__load(skel_.get()); err) {
    // EPERM: no CAP_BPF (nor CAP_SYS_ADMIN); EACCES: the verifier refuses the balancer's
    // pointer arithmetic to a process without CAP_PERFMON (nor CAP_SYS_ADMIN). Checked on 6.18.
    const bool refused = err == -EPERM || err == -EACCES;
    throw libbpf_error("loading the XDP balancer (pins under " + pin_root + ")" +
                           (refused ? "; needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) and CAP_NET_ADMIN, see "
                                      "docs/operations.md"
                                    : ""),
                       err);
  }
  bind_maps();
  migrate_legacy_flows();

  xlb_settings settings{};
  settings.abi_version = XLB_ABI_VERSION;
  settings.tcp_timeout = options_.tcp_timeout;
  settings.udp_timeout = options_.udp_timeout;
  settings.ring_size = s.ring_size;
  settings.max_vips = s.max_vips;
  settings.max_reals = s.max_reals;
  settings.max_flows = s.max_flows;
  const std::uint32_t zero = 0;
  if (auto ec = settings_.update(zero, settings); ec) {
    throw std::system_error(ec, "writing settings");
  }
  // A capture left on in the pins (its xlbctl killed within its lease, an xlbd before this
  // one) ends here: a start never inherits one. A live xlbctl notices and says so.
  const xlb_capture_config capture_off{};
  if (int err = bpf_map__update_elem(skel_->maps.data_capture, &zero, sizeof(zero), &capture_off,
                                     sizeof(capture_off), BPF_ANY);
      err) {
    throw libbpf_error("switching capture off", err);
  }
}

BpfProgram::~BpfProgram() = default;

// libbpf refuses a pinned map that differs from the object's with a bare EINVAL; look first
// so that the operator learns which map and why.
void BpfProgram::check_pinned_maps() {
  const std::optional<xlb_settings> settings = pinned_settings();
  if (settings) check_pinned_settings(*settings);
  const std::uint32_t pinned_abi = settings ? settings->abi_version : 0;
  bpf_map* map = nullptr;
  bool any = false;
  bpf_object__for_each_map(map, skel_->obj) {
    const char* path = bpf_map__pin_path(map);
    if (!path || ::access(path, F_OK) != 0) continue;
    any = true;
    const PinnedMap pinned(path);
    pinned.required_fd();  // throws, naming the pin, when it cannot be opened
    const bpf_map_info info = pinned.info();
    // Only the ring buffer (capture_ring) has no key; any other map read as 0 was not read.
    if (info.key_size == 0 && info.type != BPF_MAP_TYPE_RINGBUF) {
      throw std::runtime_error(std::string("reading pinned map ") + path);
    }
    const auto type = bpf_map__type(map);
    // The flow cache holds nothing that must outlive a program (its pending counts are lost
    // at most once, on an upgrade that changes its layout or meaning): a stale one is made afresh.
    if (map == skel_->maps.flow_cache &&
        (info.value_size != bpf_map__value_size(map) || info.max_entries != bpf_map__max_entries(map) ||
         (pinned_abi != 0 && pinned_abi < XLB_ABI_VERSION))) {
      if (::unlink(path) != 0) throw std::system_error(errno, std::generic_category(), std::string("unpin ") + path);
      spdlog::info("xdp: pinned {} has another layout (ABI {}, {} B values); created afresh", path, pinned_abi,
                   info.value_size);
      continue;
    }
    // Counters grow with new reasons; statistics restart at zero rather than stopping xlbd.
    if (map == skel_->maps.counters && info.max_entries != bpf_map__max_entries(map)) {
      if (::unlink(path) != 0) throw std::system_error(errno, std::generic_category(), std::string("unpin ") + path);
      spdlog::info("xdp: pinned {} has {} counters, this xlbd {}; created afresh", path, info.max_entries,
                   bpf_map__max_entries(map));
      continue;
    }
    // Flows of ABI 2-4 lack client_state: copied into a table of this layout once it exists.
    if (map == skel_->maps.flows && pinned_abi < kAbiWithClientState && info.value_size == sizeof(LegacyFlow) &&
        info.key_size == sizeof(xlb_flow_key)) {
      legacy_flows_ = std::make_unique<PinnedMap>(path);
      legacy_flows_->required_fd();
      if (::unlink(path) != 0) throw std::system_error(errno, std::generic_category(), std::string("unpin ") + path);
      continue;
    }
    // Flags that say nothing about compatibility, which libbpf 1.1 compares all the same, so
    // the object adopts the pin's: the kernel marks devmaps read-only for programs by itself,
    // vip_filter, a .maps array up to ABI 3, lacks the BPF_F_MMAPABLE of a global's section,
    // and the flows table keeps the LRU lists it was made with (per CPU before xdp_flow_lru
    // existed): its flows outlive a restart, the configured lists come with fresh pins.
    std::uint32_t neutral = 0;
    if (type == BPF_MAP_TYPE_DEVMAP || type == BPF_MAP_TYPE_DEVMAP_HASH) neutral = BPF_F_RDONLY_PROG;
    if (map == skel_->maps.data_vip_filter || map == skel_->maps.data_capture) neutral = BPF_F_MMAPABLE;
    if (map == skel_->maps.flows) neutral = BPF_F_NO_COMMON_LRU;
    if (neutral && (info.map_flags & ~neutral) == (bpf_map__map_flags(map) & ~neutral)) {
      if (map == skel_->maps.flows && info.map_flags != bpf_map__map_flags(map)) {
        spdlog::warn("xdp: pinned {} keeps its {} LRU lists; xdp_flow_lru {} applies to fresh pins (xlbctl stop "
                     "--detach, or removing {}, starts afresh and drops every flow)",
                     path, lru_name(lru_of(info.map_flags)), lru_name(options_.flow_lru), options_.pin_dir.string());
      }
      bpf_map__set_map_flags(map, info.map_flags);
    }
    // A pin's size follows from its lists; a pin of shared lists made before they had room of
    // their own (exactly max_flows entries) is taken as it is rather than dropped.
    if (map == skel_->maps.flows) {
      const std::uint32_t max_flows = options_.sizes.max_flows;
      const std::uint32_t fits = flow_map_entries(max_flows, lru_of(info.map_flags), libbpf_num_possible_cpus());
      if (info.max_entries == fits || info.max_entries == max_flows) set_max_entries(map, info.max_entries);
    }
    if (info.type != static_cast<std::uint32_t>(type) || info.key_size != bpf_map__key_size(map) ||
        info.value_size != bpf_map__value_size(map) || info.max_entries != bpf_map__max_entries(map) ||
        info.map_flags != bpf_map__map_flags(map)) {
      std::ostringstream msg;
      msg << "pinned map " << path << " is incompatible: it has type " << info.type << ", key " << info.key_size
          << " B, value " << info.value_size << " B, " << info.max_entries << " entries, flags 0x" << std::hex
          << info.map_flags << std::dec << "; this xlbd needs type " << bpf_map__type(map) << ", key "
          << bpf_map__key_size(map) << " B, value " << bpf_map__value_size(map) << " B, "
          << bpf_map__max_entries(map) << " entries, flags 0x" << std::hex << bpf_map__map_flags(map) << std::dec
          << " (another xlb version or other table sizes); remove " << options_.pin_dir.string()
          << " to start afresh, which drops every flow";
      throw std::runtime_error(msg.str());
    }
  }
  reused_pins_ = any;
}

void BpfProgram::migrate_legacy_flows() {
  if (!legacy_flows_) return;
  // The old program may still be attached and adding flows: those it adds after this copy are
  // scheduled afresh by the new one. Client state 0 is what xlbd writes for a synced flow.
  const int old_fd = legacy_flows_->fd();
  xlb_flow_key key{}, next{};
  const xlb_flow_key* at = nullptr;
  std::uint64_t copied = 0, lost = 0;
  while (bpf_map_get_next_key(old_fd, at, &next) == 0) {
    key = next;
    at = &key;
    LegacyFlow old{};
    if (bpf_map_lookup_elem(old_fd, &key, &old) != 0) continue;  // expired in between
    const xlb_flow flow{.real_id = old.real_id, .vip_id = old.vip_id, .last_seen = old.last_seen,
                        .created = old.created, .client_state = 0, .pad = 0};
    if (flows_.update(key, flow)) {
      ++lost;
    } else {
      ++copied;
    }
  }
  spdlog::info("xdp: flows of the previous ABI copied into the new table: {} kept, {} lost", copied, lost);
  legacy_flows_.reset();
}

// The pinned settings, as an earlier xlbd wrote them; none when there is no pin (yet).
std::optional<xlb_settings> BpfProgram::pinned_settings() const {
  const char* path = bpf_map__pin_path(skel_->maps.settings);
  if (!path || ::access(path, F_OK) != 0) return std::nullopt;
  const PinnedMap pinned(path);
  std::vector<unsigned char> value(pinned.info().value_size);
  const std::uint32_t zero = 0;
  if (value.size() < sizeof(xlb_settings) || bpf_map_lookup_elem(pinned.required_fd(), &zero, value.data()) != 0) {
    return std::nullopt;
  }
  xlb_settings settings{};
  std::memcpy(&settings, value.data(), sizeof(settings));
  return settings;
}

void BpfProgram::check_pinned_settings(const xlb_settings& old) const {
  // 0: pinned by a writer that never got as far as writing settings.
  if (old.abi_version != 0 && (old.abi_version < XLB_ABI_ADOPTABLE || old.abi_version > XLB_ABI_VERSION)) {
    throw std::runtime_error("pinned maps under " + options_.pin_dir.string() + " were written by ABI version " +
                             std::to_string(old.abi_version) + ", this xlbd speaks " + std::to_string(XLB_ABI_VERSION) +
                             "; remove the directory to start afresh");
  }
  if (old.ring_size != 0 && old.ring_size != options_.sizes.ring_size) {
    throw std::runtime_error("pinned ring under " + options_.pin_dir.string() + " has " +
                             std::to_string(old.ring_size) + " entries per half, this xlbd wants " +
                             std::to_string(options_.sizes.ring_size));
  }
}

void BpfProgram::bind_maps() {
  vips_ = BpfMap(skel_->maps.vips);
  ring_ = BpfMap(skel_->maps.ring);
  reals_ = BpfMap(skel_->maps.reals);
  flows_ = BpfMap(skel_->maps.flows);
  persist_ = BpfMap(skel_->maps.persist);
  vip_stats_ = BpfMap(skel_->maps.vip_stats);
  real_stats_ = BpfMap(skel_->maps.real_stats);
  counters_ = BpfMap(skel_->maps.counters);
  rr_cursor_ = BpfMap(skel_->maps.rr_cursor);
  settings_ = BpfMap(skel_->maps.settings);
  tx_ports_ = BpfMap(skel_->maps.tx_ports);
  tunnels_ = BpfMap(skel_->maps.tunnels);
  vip_filter_ = BpfMap(skel_->maps.data_vip_filter);
  vip_state_ = BpfMap(skel_->maps.vip_state);
  flow_cache_ = BpfMap(skel_->maps.flow_cache);
  if_macs_ = BpfMap(skel_->maps.if_macs);
  if_macs_.check_types<std::uint32_t, xlb_if_mac>();
  flow_cache_.check_types<std::uint32_t, xlb_flow_cache_entry>();
  vip_state_.check_types<std::uint32_t, xlb_vip_state>();
  vips_.check_types<xlb_vip_key, xlb_vip_info>();
  ring_.check_types<std::uint32_t, xlb_ring_entry>();
  reals_.check_types<std::uint32_t, xlb_real>();
  flows_.check_types<xlb_flow_key, xlb_flow>();
  persist_.check_types<xlb_persist_key, xlb_persist>();
  vip_stats_.check_types<std::uint32_t, xlb_traffic_stats>();
  real_stats_.check_types<std::uint32_t, xlb_traffic_stats>();
  counters_.check_types<std::uint32_t, std::uint64_t>();
  rr_cursor_.check_types<std::uint32_t, xlb_cursor>();
  settings_.check_types<std::uint32_t, xlb_settings>();
  tx_ports_.check_types<std::uint32_t, std::uint32_t>();
  tunnels_.check_types<std::uint32_t, xlb_tunnel>();
  vip_filter_.check_types<std::uint32_t, xlb_vip_filter>();
}

bpf_object* BpfProgram::object() const { return skel_->obj; }
FlowLru BpfProgram::flow_lru() const {
  return lru_of(bpf_map__map_flags(skel_->maps.flows));
}
bpf_program* BpfProgram::program() const { return skel_->progs.xlb_balancer; }
int BpfProgram::program_fd() const { return bpf_program__fd(skel_->progs.xlb_balancer); }

xlb_settings BpfProgram::read_settings() const {
  const std::uint32_t zero = 0;
  return settings_.lookup<std::uint32_t, xlb_settings>(zero).value_or(xlb_settings{});
}

void BpfProgram::write_timeouts(std::uint32_t tcp_seconds, std::uint32_t udp_seconds) {
  auto settings = read_settings();
  settings.tcp_timeout = tcp_seconds;
  settings.udp_timeout = udp_seconds;
  const std::uint32_t zero = 0;
  if (auto ec = settings_.update(zero, settings); ec) throw std::system_error(ec, "writing settings");
}

void BpfProgram::mark_vip_address(const std::uint32_t addr[4]) {
  const std::uint32_t zero = 0;
  auto filter = vip_filter_.lookup<std::uint32_t, xlb_vip_filter>(zero).value_or(xlb_vip_filter{});
  const std::uint32_t bit = xlb_vip_filter_bit(addr[0], addr[1], addr[2], addr[3]);
  const std::uint64_t mask = std::uint64_t{1} << (bit % 64);
  if (filter.enabled && (filter.bits[bit / 64] & mask)) return;
  filter.bits[bit / 64] |= mask;
  filter.enabled = 1;
  if (auto ec = vip_filter_.update(zero, filter); ec) throw std::system_error(ec, "writing vip_filter");
}

void BpfProgram::bump_cache_epoch() {
  const std::uint32_t zero = 0;
  auto filter = vip_filter_.lookup<std::uint32_t, xlb_vip_filter>(zero).value_or(xlb_vip_filter{});
  ++filter.cache_epoch;
  if (auto ec = vip_filter_.update(zero, filter); ec) throw std::system_error(ec, "writing vip_filter");
}

void BpfProgram::unpin() {
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, skel_->obj) {
    if (bpf_map__pin_path(map) && bpf_map__is_pinned(map)) bpf_map__unpin(map, nullptr);
  }
  std::error_code ec;
  std::filesystem::remove(options_.pin_dir, ec);  // only if empty: other files are not ours
}

}  // namespace xlb::dataplane
