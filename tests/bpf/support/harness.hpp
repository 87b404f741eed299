// The balancer loaded for BPF_PROG_TEST_RUN: its maps pinned on a private bpffs, typed
// writers for VIPs, reals, rings and settings, and readers for flows, persistence templates
// and the per-CPU statistics. Shared by the BPF tests and the packet-cost benchmark.
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ctrl/dataplane/pending_traffic.hpp"
#include "ctrl/dataplane/ring_builder.hpp"
#include "tests/bpf/support/packet.hpp"
#include "xlb/xlb_abi.h"

struct xlb_balancer;
struct bpf_map;
struct bpf_object;

namespace xlb::bpftest {

// A bpffs mounted on a fresh directory /run/xlb-<tag>-<pid>-<n>; unmounted and removed on
// destruction, which also drops every pin made under it.
class BpfFsMount {
 public:
  explicit BpfFsMount(const std::string& tag);
  ~BpfFsMount();
  BpfFsMount(const BpfFsMount&) = delete;
  BpfFsMount& operator=(const BpfFsMount&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::atomic<const char*>* registered_ = nullptr;  // its slot in the signal handler's list (harness.cpp)
};

struct RunResult {
  int action = -1;
  Bytes frame;                    // data_out
  std::uint32_t duration_ns = 0;  // the kernel's average per repetition
};

// BPF_PROG_TEST_RUN of any XDP program. `ingress_ifindex` fills ctx_in (xdp_md); without it
// the kernel presents the frame as received on loopback. Throws std::system_error on failure.
RunResult test_run(int prog_fd, const Bytes& frame, std::optional<std::uint32_t> ingress_ifindex = {},
                   int repeat = 1);

// Throws std::runtime_error naming both actions when a run's verdict is not `action`.
void expect_action(const RunResult& r, int action);

// b - a in ns.
double ns_between(const timespec& a, const timespec& b);

// ns per run of one frame, to a hundredth of a ns: the calling thread's CPU time for a
// repeat=`repeat` run minus that of a repeat=`repeat`/10 run, per extra repetition. The kernel's
// own average (opts.duration) is whole ns, too coarse to compare 6 with 9; and each repeat>1
// call swaps the XDP dispatcher (about 0.4 ms of CPU, varying by tens of us), which the
// difference cancels. Meaningful from repeat=100k on: at 1,000 the swap's variation exceeds the
// runs. Throws std::runtime_error when a run returns another action than `action`, or when the
// longer call took no more CPU than the shorter (repeat too small to measure).
double cpu_ns_per_run(int prog_fd, const Bytes& frame, int repeat, int action);

// CLOCK_MONOTONIC_COARSE, the clock behind bpf_ktime_get_coarse_ns().
std::uint64_t coarse_now_ns();

// Pins the calling thread to the CPU it runs on (BPF_PROG_TEST_RUN runs the program on the
// calling CPU, so per-CPU maps such as the rr cursor then see one CPU); restores on destruction.
class CpuPin {
 public:
  CpuPin();                 // on the CPU the thread runs on now
  explicit CpuPin(int cpu);  // on that CPU
  ~CpuPin();
  CpuPin(const CpuPin&) = delete;
  CpuPin& operator=(const CpuPin&) = delete;
  int cpu() const { return cpu_; }

 private:
  int cpu_ = -1;
  std::vector<std::uint8_t> saved_;  // the previous cpu_set_t, as bytes
};

struct BalancerOptions {
  std::uint32_t ring_size = 4093;  // rodata, entries per ring half
  std::uint32_t max_vips = 16;
  std::uint32_t max_reals = 64;
  std::uint32_t max_flows = 65536;
  std::uint32_t tcp_timeout = 900;
  std::uint32_t udp_timeout = 300;
};

// What a test says about a virtual service; the ring comes from the dataplane's builders.
struct ServiceSpec {
  Address vip;
  std::uint16_t port = 80;  // 0 = all ports
  std::uint8_t proto = kTcp;
  std::uint32_t vip_id = 1;
  std::uint32_t sched = XLB_SCHED_WRR;
  std::uint32_t flags = XLB_VIP_F_ACTIVE;
  std::uint32_t persist_timeout = 0;   // seconds; > 0 also sets XLB_VIP_F_PERSIST
  std::uint32_t persist_prefix = 32;   // persistence_granularity as a prefix length
  std::uint32_t sorry_real = 0;
};

class Balancer {
 public:
  explicit Balancer(const std::string& pin_root, const BalancerOptions& options = {});
  ~Balancer();
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;

  int prog_fd() const;
  const BalancerOptions& options() const { return options_; }
  bpf_map* map(const char* name) const;  // throws when the object has no such map
  bpf_object* object() const;

  void write_settings(std::uint32_t tcp_timeout, std::uint32_t udp_timeout);
  void put_real(std::uint32_t real_id, const xlb_real& real);
  void put_vip(const xlb_vip_key& key, const xlb_vip_info& info);
  std::optional<xlb_vip_info> vip(const xlb_vip_key& key) const;
  void write_ring(std::uint32_t vip_id, std::uint32_t slot, std::span<const std::uint32_t> ring);
  void add_tx_port(std::uint32_t ifindex);
  void put_tunnel(std::uint32_t real_id, const xlb_tunnel& tunnel);

  // The VIP address prefilter, as the control plane keeps it: configure() sets the VIP's bit
  // and turns the filter on.
  xlb_vip_filter filter() const;
  void write_filter(const xlb_vip_filter& filter);
  void set_filter_bit(const Address& vip, bool on = true);

  // Writes the ring for `members` into the VIP's idle half, then publishes the VIP pointing
  // at it (the order the control plane uses, so a packet never sees a half-written ring).
  // rr/wrr/sh/mh pick the builder; returns the ring written. Like put_real, it leaves the
  // cache epoch: tests move it where the control plane would.
  std::vector<std::uint32_t> configure(const ServiceSpec& spec, std::span<const dataplane::RingMember> members);

  RunResult run(const Bytes& frame, std::optional<std::uint32_t> ingress_ifindex = {}) const;

  // Statistics as readers see them: summed over CPUs, plus what the flow cache holds.
  std::uint64_t counter(std::uint32_t index) const;
  dataplane::PendingTraffic pending() const;  // the flow cache's part alone
  xlb_traffic_stats vip_stats(std::uint32_t vip_id) const;
  xlb_traffic_stats real_stats(std::uint32_t real_id) const;
  std::optional<xlb_flow> flow(const xlb_flow_key& key) const;
  // Writes a connection-table entry and, as the control plane must, moves the cache epoch so
  // that no CPU's flow cache keeps the old entry; announce=false leaves it.
  void put_flow(const xlb_flow_key& key, const xlb_flow& flow, bool announce = true);
  xlb_vip_state vip_state(std::uint32_t vip_id) const;
  std::vector<xlb_flow_cache_entry> flow_cache(std::uint32_t slot) const;  // one entry per possible CPU
  void bump_cache_epoch();          // every CPU's cache entries lapse, as after a control-plane change
  bpf_map* vip_filter_map() const;  // a global's section, so not found by map name
  bpf_map* capture_map() const;     // likewise: the capture settings (bpf/capture.h)
  // Removes a VIP as the control plane does: its vip_state first (no flags, a new incarnation
  // of the id, then the cache epoch), then its vips entry and its flows.
  void remove_vip(std::uint32_t vip_id, const xlb_vip_key& key);
  std::size_t flow_count() const;
  void flush_flows();  // and moves the cache epoch when there were flows
  std::optional<xlb_persist> persist(const xlb_persist_key& key) const;
  void put_persist(const xlb_persist_key& key, const xlb_persist& value);

 private:
  std::vector<xlb_flow_key> flow_keys() const;
  BalancerOptions options_;
  xlb_balancer* skel_ = nullptr;
};

// Keys as the program builds them: zeroed, addresses and ports in network order.
xlb_vip_key make_vip_key(const Address& vip, std::uint16_t port, std::uint8_t proto);
xlb_flow_key make_flow_key(const PacketSpec& packet);
xlb_persist_key make_persist_key(const Address& client, std::uint32_t prefix, std::uint32_t vip_id);
xlb_real make_real(const Mac& dst_mac, const Mac& src_mac, std::uint32_t ifindex, const Address& addr,
                   std::uint32_t flags = 0);
// Every key in a flows map (of the balancer, or of the table baseline), walked with get_next_key.
std::vector<xlb_flow_key> keys_of_flows_map(const bpf_map* flows);
std::array<std::uint32_t, 4> prefix_mask(std::uint8_t family, std::uint32_t prefix);
std::uint32_t filter_bit(const Address& addr);

}  // namespace xlb::bpftest
