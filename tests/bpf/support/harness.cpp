#include "tests/bpf/support/harness.hpp"

#include <arpa/inet.h>
#include <signal.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "ctrl/dataplane/bpf_program.hpp"
#include "ctrl/dataplane/pending_traffic.hpp"
#include "ctrl/dataplane/ring_codec.hpp"
#include "xlb/balancer.skel.h"

namespace xlb::bpftest {

namespace {

[[noreturn]] void throw_errno(int err, const std::string& what) {
  throw std::system_error(err < 0 ? -err : err, std::generic_category(), what);
}

void check(int rc, const std::string& what) {
  if (rc < 0) throw_errno(errno ? errno : -rc, what);
}

// The bpffs mounts this process holds, for the signal handler below: a benchmark stopped with
// Ctrl-C or a test ended by a timeout's SIGTERM would otherwise leave its mount under /run.
// Process-wide by nature (a signal handler has no other way to find them); only
// async-signal-safe calls touch it from the handler.
struct MountRegistry {
  static constexpr int kSlots = 64;
  std::array<std::atomic<const char*>, kSlots> paths{};
};

MountRegistry& mounts() {
  static MountRegistry registry;
  return registry;
}

extern "C" void unmount_and_die(int sig) {
  for (auto& slot : mounts().paths) {
    if (const char* path = slot.load()) {
      umount2(path, MNT_DETACH);
      rmdir(path);
    }
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

void install_unmount_handlers() {
  static const bool installed = [] {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction action {};
      action.sa_handler = unmount_and_die;
      sigemptyset(&action.sa_mask);
      // Only where nobody else handles the signal: a program with its own handler keeps it.
      struct sigaction current {};
      if (sigaction(sig, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) sigaction(sig, &action, nullptr);
    }
    return true;
  }();
  (void)installed;
}

}  // namespace

BpfFsMount::BpfFsMount(const std::string& tag) {
  static std::atomic<unsigned> serial{0};
  path_ = "/run/xlb-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(serial++);
  if (mkdir(path_.c_str(), 0700) != 0) throw_errno(errno, "mkdir " + path_);
  if (mount("bpf", path_.c_str(), "bpf", 0, nullptr) != 0) {
    const int err = errno;
    rmdir(path_.c_str());
    throw_errno(err, "mount -t bpf on " + path_);
  }
  install_unmount_handlers();
  for (auto& slot : mounts().paths) {
    const char* empty = nullptr;
    if (slot.compare_exchange_strong(empty, path_.c_str())) {
      registered_ = &slot;
      break;
    }
  }
}

BpfFsMount::~BpfFsMount() {
  if (registered_) registered_->store(nullptr);
  if (umount2(path_.c_str(), 0) != 0) umount2(path_.c_str(), MNT_DETACH);
  rmdir(path_.c_str());
}

RunResult test_run(int prog_fd, const Bytes& frame, std::optional<std::uint32_t> ingress_ifindex, int repeat) {
  RunResult result;
  // XDP may grow the frame at the tail; leave room so that data_out never truncates.
  result.frame.resize(frame.size() + 512);
  xdp_md ctx{};
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<std::uint32_t>(frame.size());
  opts.data_out = result.frame.data();
  opts.data_size_out = static_cast<std::uint32_t>(result.frame.size());
  opts.repeat = repeat;
  if (ingress_ifindex) {
    ctx.data_end = static_cast<std::uint32_t>(frame.size());
    ctx.ingress_ifindex = *ingress_ifindex;
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof(ctx);
  }
  const int rc = bpf_prog_test_run_opts(prog_fd, &opts);
  if (rc != 0) throw_errno(errno ? errno : -rc, "BPF_PROG_TEST_RUN");
  result.action = static_cast<int>(opts.retval);
  result.frame.resize(opts.data_size_out);
  result.duration_ns = opts.duration;
  return result;
}

void expect_action(const RunResult& r, int action) {
  if (r.action != action) {
    throw std::runtime_error("unexpected XDP action " + std::to_string(r.action) + " (wanted " +
                             std::to_string(action) + ")");
  }
}

double ns_between(const timespec& a, const timespec& b) {
  return static_cast<double>(b.tv_sec - a.tv_sec) * 1e9 + static_cast<double>(b.tv_nsec - a.tv_nsec);
}

double cpu_ns_per_run(int prog_fd, const Bytes& frame, int repeat, int action) {
  const int base = std::max(2, repeat / 10);
  if (repeat <= base) throw std::invalid_argument("cpu_ns_per_run: repeat must be at least 3");
  auto timed = [&](int n) {
    timespec start{};
    timespec end{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    const auto r = test_run(prog_fd, frame, std::nullopt, n);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end);
    expect_action(r, action);
    return ns_between(start, end);
  };
  const double few = timed(base);
  const double many = timed(repeat);
  if (many <= few) throw std::runtime_error("cpu_ns_per_run: repeat too small to measure");
  return (many - few) / (repeat - base);
}

std::uint64_t coarse_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

CpuPin::CpuPin() : CpuPin(sched_getcpu()) {}

CpuPin::CpuPin(int cpu) : cpu_(cpu) {
  if (cpu_ < 0) throw std::invalid_argument("no CPU to pin the thread to");
  cpu_set_t old;
  CPU_ZERO(&old);
  if (sched_getaffinity(0, sizeof(old), &old) != 0) throw_errno(errno, "sched_getaffinity");
  saved_.assign(reinterpret_cast<std::uint8_t*>(&old), reinterpret_cast<std::uint8_t*>(&old) + sizeof(old));
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu_, &one);
  if (sched_setaffinity(0, sizeof(one), &one) != 0) throw_errno(errno, "sched_setaffinity");
}

CpuPin::~CpuPin() {
  cpu_set_t old;
  std::memcpy(&old, saved_.data(), sizeof(old));
  sched_setaffinity(0, sizeof(old), &old);
}

Balancer::Balancer(const std::string& pin_root, const BalancerOptions& options) : options_(options) {
  bpf_object_open_opts open_opts{};
  open_opts.sz = sizeof(open_opts);
  open_opts.pin_root_path = pin_root.c_str();
  skel_ = xlb_balancer__open_opts(&open_opts);
  if (!skel_) throw_errno(errno, "open balancer skeleton");
  try {
    skel_->rodata->ring_size = options.ring_size;
    check(bpf_map__set_max_entries(skel_->maps.vips, options.max_vips), "size vips");
    check(bpf_map__set_max_entries(skel_->maps.ring,
                                   static_cast<std::uint32_t>(
                                       dataplane::RingLayout(options.ring_size).map_entries(options.max_vips))),
          "size ring");
    check(bpf_map__set_max_entries(skel_->maps.vip_stats, options.max_vips), "size vip_stats");
    check(bpf_map__set_max_entries(skel_->maps.vip_state, options.max_vips), "size vip_state");
    check(bpf_map__set_max_entries(skel_->maps.rr_cursor, options.max_vips), "size rr_cursor");
    check(bpf_map__set_max_entries(skel_->maps.reals, options.max_reals), "size reals");
    check(bpf_map__set_max_entries(skel_->maps.real_stats, options.max_reals), "size real_stats");
    dataplane::shape_flow_map(skel_->maps.flows, options.max_flows, dataplane::FlowLru::shared);
    dataplane::pin_global_section(skel_->maps.data_vip_filter, pin_root, "vip_filter");
    dataplane::pin_global_section(skel_->maps.data_capture, pin_root, "capture");
    check(xlb_balancer__load(skel_), "load balancer");
    write_settings(options.tcp_timeout, options.udp_timeout);
  } catch (...) {
    xlb_balancer__destroy(skel_);
    throw;
  }
}

Balancer::~Balancer() { xlb_balancer__destroy(skel_); }

int Balancer::prog_fd() const { return bpf_program__fd(skel_->progs.xlb_balancer); }

bpf_object* Balancer::object() const { return skel_->obj; }

bpf_map* Balancer::map(const char* name) const {
  bpf_map* m = bpf_object__find_map_by_name(skel_->obj, name);
  if (!m) throw std::invalid_argument(std::string("balancer has no map ") + name);
  return m;
}

void Balancer::write_settings(std::uint32_t tcp_timeout, std::uint32_t udp_timeout) {
  xlb_settings s{};
  s.abi_version = XLB_ABI_VERSION;
  s.tcp_timeout = tcp_timeout;
  s.udp_timeout = udp_timeout;
  s.ring_size = options_.ring_size;
  s.max_vips = options_.max_vips;
  s.max_reals = options_.max_reals;
  s.max_flows = options_.max_flows;
  const std::uint32_t zero = 0;
  check(bpf_map__update_elem(skel_->maps.settings, &zero, sizeof(zero), &s, sizeof(s), BPF_ANY), "write settings");
}

void Balancer::put_real(std::uint32_t real_id, const xlb_real& real) {
  check(bpf_map__update_elem(skel_->maps.reals, &real_id, sizeof(real_id), &real, sizeof(real), BPF_ANY),
        "write real " + std::to_string(real_id));
}

void Balancer::put_vip(const xlb_vip_key& key, const xlb_vip_info& info) {
  check(bpf_map__update_elem(skel_->maps.vips, &key, sizeof(key), &info, sizeof(info), BPF_ANY), "write vip");
  // A writer of the flags keeps the incarnation: one that went back could revive pending counts.
  const xlb_vip_state state{info.flags | XLB_VIP_F_PRESENT, vip_state(info.vip_id).incarnation};
  check(bpf_map__update_elem(skel_->maps.vip_state, &info.vip_id, sizeof(info.vip_id), &state, sizeof(state), BPF_ANY),
        "write vip_state");
}

std::optional<xlb_vip_info> Balancer::vip(const xlb_vip_key& key) const {
  xlb_vip_info info{};
  if (bpf_map__lookup_elem(skel_->maps.vips, &key, sizeof(key), &info, sizeof(info), 0) != 0) return std::nullopt;
  return info;
}

void Balancer::write_ring(std::uint32_t vip_id, std::uint32_t slot, std::span<const std::uint32_t> ring) {
  if (ring.size() > options_.ring_size) throw std::invalid_argument("ring longer than ring_size");
  const dataplane::RingLayout layout(options_.ring_size);
  if (auto ec = layout.write_half(bpf_map__fd(skel_->maps.ring), vip_id, slot, ring); ec) {
    throw std::system_error(ec, "write ring");
  }
}

void Balancer::add_tx_port(std::uint32_t ifindex) {
  check(bpf_map__update_elem(skel_->maps.tx_ports, &ifindex, sizeof(ifindex), &ifindex, sizeof(ifindex), BPF_ANY),
        "add tx port " + std::to_string(ifindex));
}

void Balancer::put_tunnel(std::uint32_t real_id, const xlb_tunnel& tunnel) {
  check(bpf_map__update_elem(skel_->maps.tunnels, &real_id, sizeof(real_id), &tunnel, sizeof(tunnel), BPF_ANY),
        "put tunnel " + std::to_string(real_id));
}

xlb_vip_filter Balancer::filter() const {
  xlb_vip_filter f{};
  const std::uint32_t zero = 0;
  check(bpf_map__lookup_elem(skel_->maps.data_vip_filter, &zero, sizeof(zero), &f, sizeof(f), 0), "read vip_filter");
  return f;
}

void Balancer::write_filter(const xlb_vip_filter& f) {
  const std::uint32_t zero = 0;
  check(bpf_map__update_elem(skel_->maps.data_vip_filter, &zero, sizeof(zero), &f, sizeof(f), BPF_ANY),
        "write vip_filter");
}

void Balancer::set_filter_bit(const Address& vip, bool on) {
  auto f = filter();
  const std::uint32_t bit = filter_bit(vip);
  const std::uint64_t mask = std::uint64_t{1} << (bit % 64);
  f.bits[bit / 64] = on ? (f.bits[bit / 64] | mask) : (f.bits[bit / 64] & ~mask);
  write_filter(f);
}

std::vector<std::uint32_t> Balancer::configure(const ServiceSpec& spec,
                                               std::span<const dataplane::RingMember> members) {
  std::vector<std::uint32_t> ring;
  switch (spec.sched) {
    case XLB_SCHED_RR:
      ring = dataplane::build_rr_ring(members);
      break;
    case XLB_SCHED_WRR:
      ring = dataplane::build_wrr_ring(members, options_.ring_size);
      break;
    default:
      ring = dataplane::build_maglev_ring(members, options_.ring_size);
      break;
  }
  const xlb_vip_key key = make_vip_key(spec.vip, spec.port, spec.proto);
  const auto old = vip(key);
  const std::uint32_t slot = old ? (old->ring_slot ^ 1u) : 0u;
  write_ring(spec.vip_id, slot, ring);
  xlb_vip_info info{};
  info.vip_id = spec.vip_id;
  info.flags = spec.flags | (spec.persist_timeout > 0 ? XLB_VIP_F_PERSIST : 0u);
  info.sched = spec.sched;
  info.ring_slot = slot;
  info.ring_len = static_cast<std::uint32_t>(ring.size());
  info.sorry_real = spec.sorry_real;
  info.persist_timeout = spec.persist_timeout;
  const auto mask = prefix_mask(spec.vip.family, spec.persist_prefix);
  std::memcpy(info.persist_mask, mask.data(), sizeof(info.persist_mask));
  // The filter bit goes in before the VIP, so that no packet to a new VIP is passed by it.
  auto f = filter();
  const std::uint32_t bit = filter_bit(spec.vip);
  f.bits[bit / 64] |= std::uint64_t{1} << (bit % 64);
  f.enabled = 1;
  write_filter(f);
  put_vip(key, info);
  return ring;
}

RunResult Balancer::run(const Bytes& frame, std::optional<std::uint32_t> ingress_ifindex) const {
  return test_run(prog_fd(), frame, ingress_ifindex);
}

dataplane::PendingTraffic Balancer::pending() const {
  return dataplane::PendingTraffic(dataplane::BpfMap(map("flow_cache")), dataplane::BpfMap(map("vip_state")),
                                   dataplane::BpfMap(map("reals")));
}

std::uint64_t Balancer::counter(std::uint32_t index) const {
  return dataplane::sum_counter(dataplane::BpfMap(map("counters")), index, pending());
}

xlb_traffic_stats Balancer::vip_stats(std::uint32_t vip_id) const {
  return dataplane::sum_traffic(dataplane::BpfMap(map("vip_stats")), vip_id, pending().vip(vip_id));
}

xlb_traffic_stats Balancer::real_stats(std::uint32_t real_id) const {
  return dataplane::sum_traffic(dataplane::BpfMap(map("real_stats")), real_id, pending().real(real_id));
}

std::optional<xlb_flow> Balancer::flow(const xlb_flow_key& key) const {
  xlb_flow value{};
  if (bpf_map__lookup_elem(skel_->maps.flows, &key, sizeof(key), &value, sizeof(value), 0) != 0) return std::nullopt;
  return value;
}

std::vector<xlb_flow_cache_entry> Balancer::flow_cache(std::uint32_t slot) const {
  auto entries = dataplane::BpfMap(map("flow_cache")).lookup_per_cpu<std::uint32_t, xlb_flow_cache_entry>(slot);
  if (entries.empty()) throw std::runtime_error("read flow_cache slot " + std::to_string(slot));
  return entries;
}

xlb_vip_state Balancer::vip_state(std::uint32_t vip_id) const {
  xlb_vip_state state{};
  bpf_map__lookup_elem(skel_->maps.vip_state, &vip_id, sizeof(vip_id), &state, sizeof(state), 0);
  return state;
}

bpf_map* Balancer::vip_filter_map() const { return skel_->maps.data_vip_filter; }
bpf_map* Balancer::capture_map() const { return skel_->maps.data_capture; }

void Balancer::bump_cache_epoch() {
  xlb_vip_filter f = filter();
  ++f.cache_epoch;
  write_filter(f);
}

void Balancer::remove_vip(std::uint32_t vip_id, const xlb_vip_key& key) {
  const xlb_vip_state gone{0, vip_state(vip_id).incarnation + 1};
  check(bpf_map__update_elem(skel_->maps.vip_state, &vip_id, sizeof(vip_id), &gone, sizeof(gone), BPF_ANY),
        "retire vip_state");
  bump_cache_epoch();
  check(bpf_map__delete_elem(skel_->maps.vips, &key, sizeof(key), 0), "delete vip");
  for (const auto& k : flow_keys()) {
    if (auto f = flow(k); f && f->vip_id == vip_id) bpf_map__delete_elem(skel_->maps.flows, &k, sizeof(k), 0);
  }
}

std::vector<xlb_flow_key> Balancer::flow_keys() const { return keys_of_flows_map(skel_->maps.flows); }

void Balancer::put_flow(const xlb_flow_key& key, const xlb_flow& value, bool announce) {
  check(bpf_map__update_elem(skel_->maps.flows, &key, sizeof(key), &value, sizeof(value), BPF_ANY), "write flow");
  if (announce) bump_cache_epoch();
}

std::size_t Balancer::flow_count() const { return flow_keys().size(); }

void Balancer::flush_flows() {
  const auto keys = flow_keys();
  for (const auto& k : keys) bpf_map__delete_elem(skel_->maps.flows, &k, sizeof(k), 0);
  if (!keys.empty()) bump_cache_epoch();
}

std::optional<xlb_persist> Balancer::persist(const xlb_persist_key& key) const {
  xlb_persist value{};
  if (bpf_map__lookup_elem(skel_->maps.persist, &key, sizeof(key), &value, sizeof(value), 0) != 0) {
    return std::nullopt;
  }
  return value;
}

void Balancer::put_persist(const xlb_persist_key& key, const xlb_persist& value) {
  check(bpf_map__update_elem(skel_->maps.persist, &key, sizeof(key), &value, sizeof(value), BPF_ANY),
        "write persist");
}

std::array<std::uint32_t, 4> prefix_mask(std::uint8_t family, std::uint32_t prefix) {
  std::array<std::uint8_t, 16> bytes{};
  const std::uint32_t bits = std::min<std::uint32_t>(prefix, family == 4 ? 32 : 128);
  for (std::uint32_t i = 0; i < bits; ++i) bytes[i / 8] |= static_cast<std::uint8_t>(0x80u >> (i % 8));
  std::array<std::uint32_t, 4> words{};
  std::memcpy(words.data(), bytes.data(), family == 4 ? 4 : 16);
  return words;
}

std::uint32_t filter_bit(const Address& addr) {
  const auto w = addr.words();
  return xlb_vip_filter_bit(w[0], w[1], w[2], w[3]);
}

xlb_vip_key make_vip_key(const Address& vip, std::uint16_t port, std::uint8_t proto) {
  xlb_vip_key key;
  std::memset(&key, 0, sizeof(key));
  const auto w = vip.words();
  std::memcpy(key.addr, w.data(), sizeof(key.addr));
  key.port = htons(port);
  key.proto = proto;
  key.family = vip.family;
  return key;
}

std::vector<xlb_flow_key> keys_of_flows_map(const bpf_map* flows) {
  std::vector<xlb_flow_key> keys;
  xlb_flow_key key{};
  xlb_flow_key next{};
  const void* prev = nullptr;
  while (bpf_map__get_next_key(flows, prev, &next, sizeof(next)) == 0) {
    keys.push_back(next);
    key = next;
    prev = &key;
  }
  return keys;
}

xlb_flow_key make_flow_key(const PacketSpec& p) {
  xlb_flow_key key;
  std::memset(&key, 0, sizeof(key));
  const auto s = p.src.words();
  const auto d = p.dst.words();
  std::memcpy(key.src, s.data(), sizeof(key.src));
  std::memcpy(key.dst, d.data(), sizeof(key.dst));
  key.sport = htons(p.sport);
  key.dport = htons(p.dport);
  key.proto = p.proto;
  key.family = p.src.family;
  return key;
}

xlb_persist_key make_persist_key(const Address& client, std::uint32_t prefix, std::uint32_t vip_id) {
  xlb_persist_key key;
  std::memset(&key, 0, sizeof(key));
  const auto c = client.words();
  const auto m = prefix_mask(client.family, prefix);
  for (int i = 0; i < 4; ++i) key.client[i] = c[i] & m[i];
  key.vip_id = vip_id;
  key.family = client.family;
  return key;
}

xlb_real make_real(const Mac& dst_mac, const Mac& src_mac, std::uint32_t ifindex, const Address& addr,
                   std::uint32_t flags) {
  xlb_real real;
  std::memset(&real, 0, sizeof(real));
  std::memcpy(real.dst_mac, dst_mac.data(), 6);
  std::memcpy(real.src_mac, src_mac.data(), 6);
  real.ifindex = ifindex;
  real.flags = flags;
  const auto w = addr.words();
  std::memcpy(real.addr, w.data(), sizeof(real.addr));
  real.family = addr.family;
  return real;
}

}  // namespace xlb::bpftest
