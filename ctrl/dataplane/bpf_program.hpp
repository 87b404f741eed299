// Owner of the loaded XDP balancer: opens the skeleton with the configured table sizes, pins
// every map under a directory on a bpffs (reusing pins left by an earlier xlbd, so flows
// survive restarts), checks that reused pins were written by this ABI, and hands out typed
// maps. Attaching to interfaces is XdpAttachment's job.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "ctrl/dataplane/bpf_map.hpp"
#include "ctrl/dataplane/pinned_map.hpp"
#include "xlb/xlb_abi.h"

struct xlb_balancer;
struct bpf_map;
struct bpf_object;
struct bpf_program;

namespace xlb::dataplane {

struct BpfSizes {
  std::uint32_t max_vips = 256;
  std::uint32_t max_reals = 4096;  // ids 1..max_reals-1; one per (service, real) pair
  std::uint32_t max_flows = 262144;
  std::uint32_t max_persist = 65536;
  std::uint32_t ring_size = 4093;  // entries per ring half; prime (Maglev)
  std::uint32_t max_tx_ports = 64;
};

// How the connection table's LRU lists are kept (xdp_flow_lru). shared: one list, so the
// table holds max_flows flows whichever CPUs create them. per_cpu (BPF_F_NO_COMMON_LRU): a
// list per possible CPU, holding max_flows / CPUs each, so new flows scale across many cores
// but a CPU that creates more than its share (xlbd installing synced flows, traffic on fewer
// receive queues than CPUs) evicts its own flows early.
enum class FlowLru { shared, per_cpu };

// max_entries of the flows map that holds `max_flows` flows with these lists. Shared lists
// keep up to 128 free entries on each CPU (the kernel's LOCAL_FREE_TARGET) and take 128 at a
// time from the common free list, evicting live flows when fewer are left there: a map of
// exactly max_flows entries written from several CPUs dropped 128 of 4096 before it was full,
// so it gets that much room per possible CPU. Per-CPU lists: the kernel rounds the size up to
// a multiple of the possible CPUs, and reports the rounded size for the pin.
std::uint32_t flow_map_entries(std::uint32_t max_flows, FlowLru lru, int possible_cpus);
// Sizes (flow_map_entries) and flags a flows map, before its object is loaded, as xlbd does:
// every loader of a connection table (xlbd, the test harness, the benchmarks' baselines and
// xlb-pktgen-target) calls this, so that they all measure xlbd's table. Throws on a libbpf error.
void shape_flow_map(bpf_map* flows, std::uint32_t max_flows, FlowLru lru);

struct BpfProgramOptions {
  std::filesystem::path pin_dir = "/sys/fs/bpf/xlb";
  BpfSizes sizes;
  FlowLru flow_lru = FlowLru::shared;
  std::uint32_t tcp_timeout = 900;  // seconds (IPVS default for established TCP)
  std::uint32_t udp_timeout = 300;  // seconds (IPVS default)
};

// Throws std::runtime_error naming the directory when it is not on a bpffs.
void require_bpffs(const std::filesystem::path& dir);

// Gives a global of its own section (vip_filter, capture), which libbpf pins by no name, the pin
// <pin_dir>/<name> before load, so that it is reused like every other map.
void pin_global_section(bpf_map* section, const std::filesystem::path& pin_dir, const char* name);

class BpfProgram {
 public:
  explicit BpfProgram(const BpfProgramOptions& options);
  ~BpfProgram();
  BpfProgram(const BpfProgram&) = delete;
  BpfProgram& operator=(const BpfProgram&) = delete;

  bpf_object* object() const;
  bpf_program* program() const;
  int program_fd() const;
  const BpfSizes& sizes() const { return options_.sizes; }
  const std::filesystem::path& pin_dir() const { return options_.pin_dir; }
  // True when the maps came from pins of an earlier run (their contents are live state).
  bool reused_pins() const { return reused_pins_; }
  // The connection table's LRU lists as they are: a reused pin keeps its own (see below).
  FlowLru flow_lru() const;

  const BpfMap& vips() const { return vips_; }
  const BpfMap& ring() const { return ring_; }
  const BpfMap& reals() const { return reals_; }
  const BpfMap& flows() const { return flows_; }
  const BpfMap& persist() const { return persist_; }
  const BpfMap& vip_stats() const { return vip_stats_; }
  const BpfMap& real_stats() const { return real_stats_; }
  const BpfMap& counters() const { return counters_; }
  const BpfMap& rr_cursor() const { return rr_cursor_; }
  const BpfMap& settings() const { return settings_; }
  const BpfMap& tx_ports() const { return tx_ports_; }
  const BpfMap& tunnels() const { return tunnels_; }
  const BpfMap& vip_filter() const { return vip_filter_; }
  const BpfMap& vip_state() const { return vip_state_; }
  const BpfMap& flow_cache() const { return flow_cache_; }
  const BpfMap& if_macs() const { return if_macs_; }

  xlb_settings read_settings() const;
  void write_timeouts(std::uint32_t tcp_seconds, std::uint32_t udp_seconds);

  // Sets the prefilter bit of a VIP address and turns the filter on. Call it before the
  // address's first vips entry; every VIP address in the maps must have its bit by then.
  void mark_vip_address(const std::uint32_t addr[4]);
  // Moves vip_filter.cache_epoch: every CPU's flow cache entries go back to the connection
  // table once. Call it after the change they must not outlive (xlb_abi.h, flow_cache).
  void bump_cache_epoch();

  // Removes the pins (the maps live on while this object or an attachment holds them).
  void unpin();

 private:
  struct SkeletonDeleter {
    void operator()(xlb_balancer* skel) const;
  };

  void check_pinned_maps();
  void migrate_legacy_flows();
  std::optional<xlb_settings> pinned_settings() const;
  void check_pinned_settings(const xlb_settings& old) const;
  void bind_maps();

  BpfProgramOptions options_;
  std::unique_ptr<xlb_balancer, SkeletonDeleter> skel_;
  bool reused_pins_ = false;
  // A flows table pinned by ABI 2-4 (values without client_state), unpinned before load and
  // copied into the new table after it.
  std::unique_ptr<PinnedMap> legacy_flows_;
  BpfMap vips_, ring_, reals_, flows_, persist_, vip_stats_, real_stats_, counters_, rr_cursor_, settings_,
      tx_ports_, tunnels_, vip_filter_, vip_state_, flow_cache_, if_macs_;
};

}  // namespace xlb::dataplane
