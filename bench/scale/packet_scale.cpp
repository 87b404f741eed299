// The same program and the same table size in both cases; only the table's occupancy differs.
// Established flows are measured two ways: one flow's frame repeated (the table's size alone,
// caches warm) and a different random flow each packet (what 1M concurrent flows really look
// like to the CPU's caches), the latter against the 1-flow table's one frame sent the same
// way. New flows run repeat=1 over distinct SYNs; with the table full, every one evicts.
// The table baseline (the minimal program plus a lookup in a connection table of the same size,
// bpf/minimal.bpf.c) runs the same established frames at the same occupancies: what the
// kernel's table costs by itself at each.
#include "bench/scale/packet_scale.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/scale/flow_fill.hpp"
#include "bench/scale/memory_floor.hpp"
#include "tests/bpf/support/harness.hpp"
#include "tests/bpf/support/minimal.hpp"

namespace xlb::bench::scale {

namespace {

using bpftest::Address;
using bpftest::Bytes;
using bpftest::PacketSpec;

const Address kVip = Address::parse("198.18.0.10");
const bpftest::Mac kEgress{0x02, 0x1b, 0, 0, 0, 0xee};
constexpr std::uint32_t kVipId = 1;
constexpr std::uint16_t kPort = 80;
constexpr std::uint32_t kReals = 16;
constexpr std::uint64_t kFloorLoads = 2000000;  // per round: 0.2-0.4 s where each load misses

// Flow i as fill_flows() keys it; its frame is 64 bytes.
PacketSpec flow_spec(std::uint32_t i, std::uint8_t flags) {
  PacketSpec p;
  p.src.family = 4;
  const std::uint32_t host = 0xc6130000u | (i & 0xffffu);
  p.src.bytes = {static_cast<std::uint8_t>(host >> 24), static_cast<std::uint8_t>(host >> 16),
                 static_cast<std::uint8_t>(host >> 8), static_cast<std::uint8_t>(host)};
  p.dst = kVip;
  p.sport = static_cast<std::uint16_t>(1024 + (i >> 16));
  p.dport = kPort;
  p.tcp_flags = flags;
  p.payload = 10;
  return p;
}

Bytes flow_frame(std::uint32_t i, std::uint8_t flags) { return bpftest::build_packet(flow_spec(i, flags)); }

// The full-table cases measure lookups that find their flow: were fill_flows() and flow_spec()
// ever to key flows apart, they would measure inserts that evict instead, and nothing else says so.
void require_in_table(int flows_fd, const std::vector<std::uint32_t>& ids) {
  for (const auto id : ids) {
    const xlb_flow_key key = bpftest::make_flow_key(flow_spec(id, bpftest::kTcpAck));
    xlb_flow value{};
    if (bpf_map_lookup_elem(flows_fd, &key, &value) != 0) {
      throw std::runtime_error("flow " + std::to_string(id) + " is not in the filled table");
    }
  }
}

double single_ns(int fd, const Bytes& frame, int expect) {
  const auto r = bpftest::test_run(fd, frame, std::nullopt, 1);
  bpftest::expect_action(r, expect);
  return r.duration_ns;
}

double singles_ns(int fd, const std::vector<Bytes>& frames, int expect) {
  double sum = 0;
  for (const auto& f : frames) sum += single_ns(fd, f, expect);
  return sum / static_cast<double>(frames.size());
}

double best(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

// The table baseline's established cost per packet at the three occupancies.
struct TableBaseline {
  double one_flow = 0;
  double distinct_only = 0;
  double full = 0;
  std::size_t full_flows = 0;
};

struct Case {
  double est_repeat = 0;   // one flow's frame, repeat=N
  double est_single = 0;   // repeat=1 per packet, fixed call cost subtracted
  double new_flow = 0;     // repeat=1 distinct SYNs, fixed call cost subtracted
  std::uint64_t flows_before = 0;
};

class PacketScale {
 public:
  explicit PacketScale(const PacketScaleOptions& o)
      : opts_(o), fs_("bench-scale"), lb_(fs_.path(), lb_options(o)), minimal_(o.max_flows) {
    std::vector<dataplane::RingMember> members;
    for (std::uint32_t id = 1; id <= kReals; ++id) {
      const Address addr = Address::parse("198.18.1." + std::to_string(id));
      lb_.put_real(id, bpftest::make_real({0x02, 0x4e, 0, 0, 0, static_cast<std::uint8_t>(id)}, kEgress, 1, addr));
      members.push_back({id, 1, addr.str() + ":80"});
      real_ids_.push_back(id);
    }
    bpftest::ServiceSpec s;
    s.vip = kVip;
    s.port = kPort;
    s.vip_id = kVipId;
    s.sched = XLB_SCHED_WRR;
    lb_.configure(s, members);
  }

  Json run() {
    bpftest::CpuPin pin;
    fixed_ns_ = fixed_call_ns();
    // One flow: flow 0, opened by its SYN.
    lb_.flush_flows();
    const Bytes one = flow_frame(0, bpftest::kTcpAck);
    single_ns(lb_.prog_fd(), flow_frame(0, bpftest::kTcpSyn), XDP_TX);
    Case small;
    small.flows_before = lb_.flow_count();
    small.est_repeat = est_repeat(one);
    small.est_single = est_single(lb_.prog_fd(), std::vector<Bytes>(opts_.distinct, one));
    small.new_flow = new_flows(true);

    // Between the two: a table holding only the flows the packets go to (a different one
    // each packet). Against "full" this is the table's size alone; against "one flow" it is
    // only spreading the packets over many flows.
    lb_.flush_flows();
    std::vector<std::uint32_t> ids(static_cast<std::size_t>(opts_.distinct));
    for (std::uint32_t i = 0; i < ids.size(); ++i) ids[i] = i * (opts_.max_flows / ids.size());
    std::shuffle(ids.begin(), ids.end(), std::mt19937(11));
    std::vector<Bytes> few;
    for (const auto id : ids) {
      few.push_back(flow_frame(id, bpftest::kTcpAck));
      single_ns(lb_.prog_fd(), flow_frame(id, bpftest::kTcpSyn), XDP_TX);
    }
    const std::uint64_t few_count = lb_.flow_count();
    const double few_ns = est_single(lb_.prog_fd(), few);
    TableBaseline base;
    base.one_flow = baseline_on(std::vector<Bytes>(opts_.distinct, one));
    base.distinct_only = baseline_on(few);

    lb_.flush_flows();
    std::uint64_t inserted = 0;
    double fill_s = 0;
    {
      // Filling pins the thread to each CPU in turn; the measurement CPU comes back after.
      const auto vip_be = kVip.words()[0];
      const auto r = fill_flows(bpf_map__fd(lb_.map("flows")), opts_.max_flows, vip_be, kPort, kVipId, real_ids_);
      inserted = r.inserted;
      fill_s = r.seconds;
    }
    Case full;
    full.flows_before = lb_.flow_count();
    full.est_repeat = est_repeat(one);
    std::mt19937 rng(7);
    std::uniform_int_distribution<std::uint32_t> any(0, opts_.max_flows - 1);
    std::vector<std::uint32_t> spread_ids;
    std::vector<Bytes> spread;
    for (int i = 0; i < opts_.distinct; ++i) {
      spread_ids.push_back(any(rng));
      spread.push_back(flow_frame(spread_ids.back(), bpftest::kTcpAck));
    }
    require_in_table(bpf_map__fd(lb_.map("flows")), spread_ids);
    full.est_single = est_single(lb_.prog_fd(), spread);
    full.new_flow = new_flows(false);
    const std::uint64_t after = lb_.flow_count();
    minimal_.clear_table();
    fill_flows(minimal_.table_map_fd(), opts_.max_flows, kVip.words()[0], kPort, kVipId, real_ids_);
    base.full_flows = minimal_.table_flows();
    require_in_table(minimal_.table_map_fd(), spread_ids);
    base.full = est_single(minimal_.table_fd(), spread);
    // The floor under "a different flow each packet": one dependent random load over as much
    // memory as the full connection table holds, on the same CPU.
    const MemoryFloor memory =
        measure_memory_floor(map_memory(bpf_map__fd(lb_.map("flows"))).memlock, kFloorLoads, opts_.rounds);
    const double extra_ns = full.est_single - small.est_single;

    const auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
    return Json{
        {"cpu", pin.cpu()},
        {"table_max_entries", opts_.max_flows},
        {"fill", {{"inserted", inserted}, {"seconds", fill_s}, {"flows_per_second", inserted / fill_s}}},
        {"fixed_call_ns", fixed_ns_},
        {"repeat", opts_.repeat},
        {"distinct_frames", opts_.distinct},
        {"rounds", opts_.rounds},
        {"one_flow", case_json(small)},
        {"distinct_flows_only",
         {{"flows_in_table", few_count}, {"established_per_packet_ns", few_ns}}},
        {"full", case_json(full)},
        {"flows_after_new_flow_rounds", after},
        {"ratio_full_to_one",
         {{"established_same_flow_repeat", ratio(full.est_repeat, small.est_repeat)},
          {"established_per_packet", ratio(full.est_single, small.est_single)},
          {"established_per_packet_vs_distinct_only", ratio(full.est_single, few_ns)},
          {"new_flow", ratio(full.new_flow, small.new_flow)}}},
        {"target_ratio", 1.3},
        {"table_baseline",
         {{"one_flow_per_packet_ns", base.one_flow},
          {"distinct_flows_only_per_packet_ns", base.distinct_only},
          {"full_per_packet_ns", base.full},
          {"flows_in_full_table", base.full_flows},
          {"ratio_full_to_one", ratio(base.full, base.one_flow)},
          {"ratio_full_to_distinct_only", ratio(base.full, base.distinct_only)}}},
        {"memory_floor",
         {{"bytes", memory.bytes},
          {"ns_per_access_small_pages", memory.ns_small_pages},
          {"ns_per_access_huge_pages", memory.ns_huge_pages},
          {"huge_pages_granted", memory.huge_pages_granted},
          {"full_extra_ns", extra_ns},
          {"full_extra_in_accesses", ratio(extra_ns, memory.ns_small_pages)},
          {"extra_ns_the_target_allows", 0.3 * small.est_single}}}};
  }

 private:
  static bpftest::BalancerOptions lb_options(const PacketScaleOptions& o) {
    bpftest::BalancerOptions b;
    b.max_vips = 16;
    b.max_reals = 64;
    b.max_flows = o.max_flows;
    return b;
  }

  static Json case_json(const Case& c) {
    return {{"flows_in_table", c.flows_before},
            {"established_same_flow_repeat_ns", c.est_repeat},
            {"established_per_packet_ns", c.est_single},
            {"new_flow_ns", c.new_flow}};
  }

  // What one repeat=1 call costs beyond the program, from the minimal program.
  double fixed_call_ns() {
    PacketSpec p;
    p.src = bpftest::client_v4(1);
    p.dst = Address::parse("198.18.0.99");
    p.tcp_flags = bpftest::kTcpAck;
    p.payload = 10;
    const Bytes frame = bpftest::build_packet(p);
    std::vector<double> single, rep;
    const std::vector<Bytes> frames(opts_.distinct, frame);
    for (int r = 0; r < opts_.rounds; ++r) {
      single.push_back(singles_ns(minimal_.fd(), frames, XDP_TX));
      rep.push_back(bpftest::cpu_ns_per_run(minimal_.fd(), frame, opts_.repeat, XDP_TX));
    }
    return std::max(0.0, best(single) - best(rep));
  }

  double est_repeat(const Bytes& frame) {
    std::vector<double> v;
    for (int r = 0; r < opts_.rounds; ++r) {
      v.push_back(bpftest::cpu_ns_per_run(lb_.prog_fd(), frame, opts_.repeat, XDP_TX));
    }
    return best(v);
  }

  double est_single(int fd, const std::vector<Bytes>& frames) {
    std::vector<double> v;
    for (int r = 0; r < opts_.rounds; ++r) v.push_back(singles_ns(fd, frames, XDP_TX) - fixed_ns_);
    return best(v);
  }

  // The table baseline on these frames' flows alone: its table emptied, the flows created by a
  // first untimed pass, then measured as est_single measures the balancer.
  double baseline_on(const std::vector<Bytes>& frames) {
    minimal_.clear_table();
    for (const auto& f : frames) single_ns(minimal_.table_fd(), f, XDP_TX);
    return est_single(minimal_.table_fd(), frames);
  }

  // Distinct SYNs from clients outside the filled range (198.19.0.0/16 uses ports 1024..;
  // these use ports 100..1023, never filled). flush: empty the table before each round
  // so that the "one flow" case stays near empty.
  double new_flows(bool flush) {
    std::vector<double> v;
    for (int r = 0; r < opts_.rounds; ++r) {
      std::vector<Bytes> frames;
      for (int i = 0; i < opts_.distinct; ++i) {
        const auto n = static_cast<std::uint32_t>(serial_++);
        PacketSpec p;
        p.src = bpftest::client_v4(n % 65536);
        p.dst = kVip;
        p.sport = static_cast<std::uint16_t>(100 + (n / 65536) % 900);
        p.dport = kPort;
        p.tcp_flags = bpftest::kTcpSyn;
        p.payload = 10;
        frames.push_back(bpftest::build_packet(p));
      }
      if (flush) {
        lb_.flush_flows();
        single_ns(lb_.prog_fd(), flow_frame(0, bpftest::kTcpSyn), XDP_TX);
      }
      const auto before = lb_.counter(XLB_CTR_FLOW_NEW);
      v.push_back(singles_ns(lb_.prog_fd(), frames, XDP_TX) - fixed_ns_);
      if (lb_.counter(XLB_CTR_FLOW_NEW) - before != frames.size()) {
        throw std::runtime_error("new-flow round: not every SYN made a new flow");
      }
    }
    return best(v);
  }

  PacketScaleOptions opts_;
  bpftest::BpfFsMount fs_;
  bpftest::Balancer lb_;
  bpftest::MinimalProgram minimal_;
  std::vector<std::uint32_t> real_ids_;
  double fixed_ns_ = 0;
  std::uint64_t serial_ = 0;
};

}  // namespace

Json run_packet_scale(const PacketScaleOptions& options) { return PacketScale(options).run(); }

}  // namespace xlb::bench::scale
