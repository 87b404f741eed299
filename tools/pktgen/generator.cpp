#include "generator.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "frame.hpp"
#include "netdev.hpp"
#include "pktgen_abi.h"

namespace xlb::pktgen {

namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

[[noreturn]] void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

std::uint32_t last_word_host_order(const std::array<std::uint8_t, 16>& addr, int family) {
  std::size_t at = family == 4 ? 0 : 12;
  return (std::uint32_t{addr[at]} << 24) | (std::uint32_t{addr[at + 1]} << 16) | (std::uint32_t{addr[at + 2]} << 8) |
         addr[at + 3];
}

}  // namespace

namespace {
void on_wake(int) {}  // SIGUSR1 only has to interrupt BPF_PROG_TEST_RUN
}  // namespace

void Generator::block_stop_signals() {
  struct sigaction action {};
  action.sa_handler = on_wake;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: the interrupted call must return EINTR
  if (sigaction(SIGUSR1, &action, nullptr) != 0) throw_errno(errno, "sigaction");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  if (int err = pthread_sigmask(SIG_BLOCK, &set, nullptr)) throw_errno(err, "pthread_sigmask");
}

Generator::Generator(Options options) : options_(std::move(options)) {
  ifindex_ = device_index(options_.device);
  src_mac_ = options_.src_mac ? *options_.src_mac : device_mac(options_.device);
  // Drivers drop XDP_TX frames longer than the MTU allows, silently: refuse instead.
  const unsigned mtu = device_mtu(options_.device);
  if (options_.buffer_size() > mtu + 14) {
    throw std::invalid_argument("--size " + std::to_string(options_.frame_size) + " does not fit " + options_.device +
                                "'s MTU " + std::to_string(mtu) + " (at most " + std::to_string(mtu + 18) +
                                " with FCS); raise the MTU first");
  }
  frame_ = build_template(options_, src_mac_);

  skeleton_.reset(xlb_pktgen__open());
  if (!skeleton_) throw_errno(errno, "opening the pktgen BPF object");
  auto* ro = skeleton_->rodata;
  ro->cfg_family = static_cast<__u32>(options_.family);
  ro->cfg_proto = options_.proto;
  ro->cfg_flows = options_.flows;
  ro->cfg_src_addrs = options_.src_addrs;
  ro->cfg_src_addr_base = last_word_host_order(options_.src_addr, options_.family);
  ro->cfg_src_port_base = options_.src_port;
  ro->cfg_syn_per_mille = options_.syn_percent * 10;
  std::memcpy(const_cast<__u8*>(ro->cfg_dst_mac), options_.dst_mac.data(), 6);
  std::memcpy(const_cast<__u8*>(ro->cfg_src_mac), src_mac_.data(), 6);
  if (int err = xlb_pktgen__load(skeleton_.get())) throw_errno(-err, "loading the pktgen BPF object");
  prog_fd_ = bpf_program__fd(skeleton_->progs.xlb_pktgen_gen);

  if (options_.sink_device) {
    int sink_index = device_index(*options_.sink_device);
    sink_link_.reset(bpf_program__attach_xdp(skeleton_->progs.xlb_pktgen_sink, sink_index));
    if (!sink_link_) throw_errno(errno, "attaching the sink to " + *options_.sink_device);
  }
  for (std::size_t i = 0; i < options_.cpus.size(); ++i) stats_.push_back(std::make_unique<WorkerStats>());
  init_state();
}

Generator::~Generator() = default;

void Generator::init_state() {
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) throw_errno(-cpus, "counting possible CPUs");
  std::vector<xlb_pktgen_state> values(static_cast<std::size_t>(cpus));
  for (std::size_t i = 0; i < options_.cpus.size(); ++i) {
    unsigned cpu = options_.cpus[i];
    if (cpu >= values.size()) throw std::invalid_argument("--cpus: CPU " + std::to_string(cpu) + " does not exist");
    if (values[cpu].step) throw std::invalid_argument("--cpus: CPU " + std::to_string(cpu) + " given twice");
    values[cpu].next = i;
    values[cpu].step = options_.cpus.size();
  }
  __u32 zero = 0;
  if (bpf_map_update_elem(bpf_map__fd(skeleton_->maps.gen_state), &zero, values.data(), BPF_ANY)) {
    throw_errno(errno, "initialising gen_state");
  }
}

Generator::SinkTotals Generator::read_sink() const {
  SinkTotals totals;
  if (!sink_link_) return totals;
  std::vector<xlb_pktgen_sink> values(static_cast<std::size_t>(libbpf_num_possible_cpus()));
  __u32 zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skeleton_->maps.sink_stats), &zero, values.data()) == 0) {
    for (const auto& v : values) {
      totals.packets += v.packets;
      totals.bytes += v.bytes;
    }
  }
  return totals;
}

Generator::ProgramTotals Generator::program_totals() const {
  std::vector<xlb_pktgen_state> values(static_cast<std::size_t>(libbpf_num_possible_cpus()));
  __u32 zero = 0;
  ProgramTotals totals;
  if (bpf_map_lookup_elem(bpf_map__fd(skeleton_->maps.gen_state), &zero, values.data()) == 0) {
    for (const auto& v : values) {
      totals.generated += v.generated;
      totals.syn += v.syn;
    }
  }
  return totals;
}

std::vector<std::uint64_t> Generator::generated_per_cpu() const {
  std::vector<xlb_pktgen_state> values(static_cast<std::size_t>(libbpf_num_possible_cpus()));
  std::vector<std::uint64_t> generated(values.size(), 0);
  __u32 zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skeleton_->maps.gen_state), &zero, values.data()) == 0) {
    for (std::size_t cpu = 0; cpu < values.size(); ++cpu) generated[cpu] = values[cpu].generated;
  }
  return generated;
}

// Each BPF_PROG_TEST_RUN call costs 10-40 ms of set-up and tear-down in the kernel (a page
// pool per call), whatever its size. So a worker makes one long call, and run() ends it with
// SIGUSR1 (EINTR); what was sent is read from the program's own per-CPU counter, which is
// exact however the call ended.
void Generator::worker(std::size_t index, std::uint64_t quota, std::uint64_t deadline_ns) {
  WorkerStats& stats = *stats_[index];
  const unsigned cpu = options_.cpus[index];
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set)) {
    stats.error.store(err);
    stats.done.store(true);
    return;
  }
  const double rate = options_.rate_pps ? static_cast<double>(options_.rate_pps) / options_.cpus.size() : 0;
  std::uint64_t chunk = options_.chunk ? options_.chunk : kLongCall;
  // Rate-limited: 100 ms worth of frames per call, then sleep until they are due.
  if (rate > 0) chunk = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(rate / 10), 1, chunk);

  xdp_md ctx{};
  ctx.data_end = static_cast<__u32>(frame_.size());
  ctx.ingress_ifindex = static_cast<__u32>(ifindex_);
  const std::uint64_t start = now_ns();
  std::uint64_t sent = 0;
  while (!stop_.load()) {
    if (quota && sent >= quota) break;
    if (deadline_ns && now_ns() >= deadline_ns) break;
    std::uint64_t n = chunk;
    if (quota) n = std::min(n, quota - sent);
    LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = frame_.data(), .data_size_in = static_cast<__u32>(frame_.size()),
                .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = static_cast<int>(n),
                .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = options_.batch_size);
    int rc = bpf_prog_test_run_opts(prog_fd_, &run);
    int err = errno;
    sent = generated_per_cpu()[cpu];
    stats.packets.store(sent);
    if (rc != 0 && err != EINTR) {
      stats.error.store(err);
      break;
    }
    if (rate > 0) {
      auto due = start + static_cast<std::uint64_t>(static_cast<double>(sent) * 1e9 / rate);
      std::uint64_t t = now_ns();
      if (due > t && !stop_.load()) std::this_thread::sleep_for(std::chrono::nanoseconds(due - t));
    }
  }
  stats.done.store(true);
}

nlohmann::json Generator::run() {
  const std::size_t n = options_.cpus.size();
  const std::uint64_t start = now_ns();
  const std::uint64_t deadline =
      options_.count ? 0 : start + static_cast<std::uint64_t>((options_.warmup_s + options_.duration_s) * 1e9);
  const std::uint64_t warmup_end = start + static_cast<std::uint64_t>(options_.warmup_s * 1e9);
  const SinkTotals sink_start = read_sink();
  // The measured window starts after the warm-up (page pool and caches filling up).
  std::uint64_t window_t = start, window_packets = 0;
  SinkTotals window_sink = sink_start;
  bool in_window = options_.warmup_s <= 0;
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t quota = options_.count ? options_.count / n + (i < options_.count % n ? 1 : 0) : 0;
    threads.emplace_back([this, i, quota, deadline] { worker(i, quota, deadline); });
  }

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  std::uint64_t last_packets = 0, last_t = start;
  SinkTotals last_sink = sink_start;
  bool interrupted = false;
  const double wire_bits = options_.frame_size * 8.0;
  auto sent_now = [this] {
    std::vector<std::uint64_t> per_cpu = generated_per_cpu();
    std::uint64_t total = 0;
    for (unsigned cpu : options_.cpus) total += per_cpu[cpu];
    return total;
  };
  for (;;) {
    // Wakes every 100 ms to end the run on time, prints once a second.
    timespec wait{0, 100'000'000};
    if (sigtimedwait(&set, nullptr, &wait) > 0) {
      interrupted = true;
      stop_.store(true);
    }
    std::uint64_t t = now_ns();
    if (!in_window && t >= warmup_end) {
      window_packets = sent_now();
      window_sink = read_sink();
      window_t = now_ns();
      in_window = true;
    }
    if (deadline && t >= deadline) stop_.store(true);
    bool running = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (stats_[i]->done.load()) continue;
      running = true;
      // Repeated until the worker is out: a signal that lands just before its next call
      // would otherwise be lost.
      if (stop_.load()) pthread_kill(threads[i].native_handle(), SIGUSR1);
    }
    if (!options_.quiet && (t - last_t >= 1'000'000'000 || !running)) {
      std::uint64_t packets = sent_now();
      double secs = static_cast<double>(t - last_t) / 1e9;
      double pps = static_cast<double>(packets - last_packets) / secs;
      SinkTotals sink = read_sink();
      std::fprintf(stderr, "%7.1fs  tx %8.3f Mpps %8.3f Gbit/s", static_cast<double>(t - start) / 1e9, pps / 1e6,
                   pps * wire_bits / 1e9);
      if (sink_link_) {
        std::fprintf(stderr, "  rx %8.3f Mpps",
                     static_cast<double>(sink.packets - last_sink.packets) / secs / 1e6);
      }
      std::fprintf(stderr, "\n");
      last_packets = packets;
      last_t = t;
      last_sink = sink;
    }
    if (!running) break;
  }
  for (auto& thread : threads) thread.join();
  const std::uint64_t end = now_ns();
  // Frames still in flight through the veth pair: let the softirqs finish before counting.
  if (sink_link_) std::this_thread::sleep_for(std::chrono::milliseconds(100));

  const double seconds = static_cast<double>(end - start) / 1e9;
  const double window_s = static_cast<double>(end - window_t) / 1e9;
  std::uint64_t packets = 0;
  nlohmann::json per_cpu = nlohmann::json::array();
  std::string error;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t p = stats_[i]->packets.load();
    packets += p;
    per_cpu.push_back({{"cpu", options_.cpus[i]}, {"packets", p}});
    if (int err = stats_[i]->error.load()) {
      error = "cpu " + std::to_string(options_.cpus[i]) + ": BPF_PROG_TEST_RUN: " + std::strerror(err);
    }
  }
  const ProgramTotals program = program_totals();
  char addr_text[INET6_ADDRSTRLEN];
  inet_ntop(options_.family == 4 ? AF_INET : AF_INET6, options_.dst_addr.data(), addr_text, sizeof(addr_text));
  nlohmann::json summary = {
      {"device", options_.device},
      {"family", options_.family == 4 ? "ipv4" : "ipv6"},
      {"proto", options_.proto == 6 ? "tcp" : "udp"},
      {"syn_percent", options_.syn_percent},
      {"frame_size", options_.frame_size},
      {"flows", options_.flows},
      {"src_addrs", options_.src_addrs},
      {"dst", addr_text},
      {"dport", options_.dst_port},
      {"dst_mac", format_mac(options_.dst_mac)},
      {"cpus", options_.cpus},
      {"rate_limit_pps", options_.rate_pps},
      {"seconds", seconds},
      {"packets", packets},
      {"warmup_seconds", options_.warmup_s},
      {"measured_seconds", window_s},
      {"measured_packets", packets - window_packets},
      {"program_generated", program.generated},
      {"program_syn", program.syn},
      {"bytes_on_wire", packets * options_.frame_size},
      {"mpps", static_cast<double>(packets - window_packets) / window_s / 1e6},
      {"gbps", static_cast<double>(packets - window_packets) * wire_bits / window_s / 1e9},
      {"per_cpu", per_cpu},
      {"interrupted", interrupted},
  };
  if (sink_link_) {
    SinkTotals sink = read_sink();
    summary["sink"] = {{"device", *options_.sink_device},
                       {"packets", sink.packets - sink_start.packets},
                       {"bytes", sink.bytes - sink_start.bytes},
                       {"measured_packets", sink.packets - window_sink.packets},
                       {"mpps", static_cast<double>(sink.packets - window_sink.packets) / window_s / 1e6}};
  }
  if (!error.empty()) summary["error"] = error;
  return summary;
}

}  // namespace xlb::pktgen
