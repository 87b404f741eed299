// ns/packet of the XDP balancer through BPF_PROG_TEST_RUN, each scenario beside the minimal
// "parse + MAC rewrite + XDP_TX" program measured in the same run.
//
// Stateless scenarios (non-VIP, established flows, ICMP errors) use repeat=N, where the
// kernel reports the average over N runs of the same frame. A new flow cannot repeat (the
// first run creates it), so those scenarios run repeat=1 over many distinct frames; each such
// call carries a fixed cost (the kernel's timer and setup around one run), measured as the
// minimal program's repeat=1 time minus its repeat=N time, and subtracted.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <time.h>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/bpf/support/harness.hpp"
#include "xlb/minimal.skel.h"

namespace xlb::bench {
namespace {

using bpftest::Address;
using bpftest::Bytes;
using bpftest::PacketSpec;

const Address kVip4 = Address::parse("198.18.0.10");
const Address kVip6 = Address::parse("2001:db8::10");
const Address kOther4 = Address::parse("198.18.0.99");
const Address kRouter4 = Address::parse("198.18.5.1");
const bpftest::Mac kEgress{0x02, 0x1b, 0, 0, 0, 0xee};
constexpr std::uint32_t kLoopback = 1;
constexpr std::uint32_t kPersistVip = 2;
constexpr std::uint32_t kMhVip = 3;

struct Options {
  int repeat = 1000000;
  int distinct = 10000;  // frames per round for the repeat=1 scenarios
  int rounds = 5;        // medians over this many interleaved rounds
  std::string json_path;
  std::string commit = "unknown";
};

// The minimal program, loaded once; its next hop is set so the rewrite is not folded away.
class Minimal {
 public:
  Minimal() {
    skel_ = xlb_minimal__open();
    if (!skel_) throw std::runtime_error("open minimal skeleton");
    if (xlb_minimal__load(skel_) != 0) {
      xlb_minimal__destroy(skel_);
      throw std::runtime_error("load minimal program");
    }
    for (int i = 0; i < 6; ++i) skel_->bss->next_hop[i] = static_cast<std::uint8_t>(0x40 + i);
  }
  ~Minimal() { xlb_minimal__destroy(skel_); }
  Minimal(const Minimal&) = delete;
  Minimal& operator=(const Minimal&) = delete;
  int fd() const { return bpf_program__fd(skel_->progs.xlb_minimal); }

 private:
  xlb_minimal* skel_ = nullptr;
};

PacketSpec tcp(const Address& src, std::uint16_t sport, const Address& dst, std::uint16_t dport = 80) {
  PacketSpec p;
  p.src = src;
  p.dst = dst;
  p.sport = sport;
  p.dport = dport;
  p.tcp_flags = bpftest::kTcpAck;
  p.payload = src.family == 4 ? 10 : 0;  // 64-byte IPv4 frames, 74-byte IPv6 frames
  return p;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Timing {
  double kernel_ns = 0;  // opts.duration: the kernel's average, in whole ns, CPU time only
  double wall_ns = 0;    // the syscall's wall time / repeat: includes time preempted by others
};

// Average ns per run of one frame, repeated.
Timing repeated(int fd, const Bytes& frame, int repeat, int expect_action) {
  timespec t0{};
  timespec t1{};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  const auto r = bpftest::test_run(fd, frame, std::nullopt, repeat);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (r.action != expect_action) {
    throw std::runtime_error("unexpected XDP action " + std::to_string(r.action) + " (wanted " +
                             std::to_string(expect_action) + ")");
  }
  const double wall = static_cast<double>(t1.tv_sec - t0.tv_sec) * 1e9 + static_cast<double>(t1.tv_nsec - t0.tv_nsec);
  return {static_cast<double>(r.duration_ns), wall / repeat};
}

// Mean kernel-measured ns of single runs over distinct frames.
double singles(int fd, const std::vector<Bytes>& frames, int expect_action) {
  double sum = 0;
  for (const auto& f : frames) sum += repeated(fd, f, 1, expect_action).kernel_ns;
  return sum / static_cast<double>(frames.size());
}

struct Row {
  std::string name;
  std::string method;
  double xlb_ns = 0;
  double minimal_ns = 0;
  double target = 0;        // ratio target, 0 = none
  double xlb_wall_ns = 0;  // repeat rows only
  double minimal_wall_ns = 0;
  double ratio() const { return minimal_ns > 0 ? xlb_ns / minimal_ns : 0; }
  bool target_met() const { return ratio() <= target; }
};

struct ProgStats {
  std::uint32_t xlated_insns = 0;
  std::uint32_t jited_bytes = 0;
  std::uint32_t verified_insns = 0;
};

ProgStats prog_stats(int fd) {
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) throw std::runtime_error("bpf_obj_get_info_by_fd");
  return {info.xlated_prog_len / 8, info.jited_prog_len, info.verified_insns};
}

class PacketCost {
 public:
  explicit PacketCost(const Options& o) : opts_(o), fs_("bench-packet-cost"), lb_(fs_.path(), lb_options()) {
    configure();
  }

  std::vector<Row> run() {
    const Bytes minimal_frame = bpftest::build_packet(tcp(bpftest::client_v4(1), 1000, kOther4));
    const int tx = XDP_TX;
    const auto minimal_repeat = [&] { return repeated(minimal_.fd(), minimal_frame, opts_.repeat, tx); };

    // Frames for the stateless scenarios; their flows exist before timing starts.
    const Bytes non_vip = minimal_frame;
    const Bytes est4 = bpftest::build_packet(tcp(bpftest::client_v4(2), 2000, kVip4));
    const Bytes est6 = bpftest::build_packet(tcp(bpftest::client_v6(3), 3000, kVip6));
    const Bytes icmp = bpftest::build_icmp4_frag_needed(
        kEgress, kEgress, kRouter4, kVip4,
        bpftest::ip_part(bpftest::build_packet(tcp(kVip4, 80, bpftest::client_v4(2), 2000))), 1400);
    for (const auto* f : {&est4, &est6}) repeated(lb_.prog_fd(), *f, 1, tx);

    std::vector<Row> rows;
    const auto stateless = [&](const std::string& name, const Bytes& frame, int action, double target) {
      std::vector<double> xlb, minimal, xlb_wall, minimal_wall;
      for (int r = 0; r < opts_.rounds; ++r) {
        const auto m = minimal_repeat();
        const auto x = repeated(lb_.prog_fd(), frame, opts_.repeat, action);
        minimal.push_back(m.kernel_ns);
        minimal_wall.push_back(m.wall_ns);
        xlb.push_back(x.kernel_ns);
        xlb_wall.push_back(x.wall_ns);
      }
      rows.push_back({name, "repeat=" + std::to_string(opts_.repeat), median(xlb), median(minimal), target,
                      median(xlb_wall), median(minimal_wall)});
    };
    stateless("non-VIP IPv4 TCP (XDP_PASS)", non_vip, XDP_PASS, 1.3);
    stateless("established IPv4 TCP flow", est4, tx, 2.0);
    stateless("established IPv6 TCP flow", est6, tx, 0);
    stateless("ICMP frag-needed for a flow", icmp, tx, 0);

    // The fixed cost of one repeat=1 call, from the minimal program.
    std::vector<Bytes> minimal_frames;
    for (int i = 0; i < opts_.distinct; ++i) {
      minimal_frames.push_back(bpftest::build_packet(tcp(bpftest::client_v4(i), 1000, kOther4)));
    }
    std::vector<double> single_costs, repeat_costs;
    for (int r = 0; r < opts_.rounds; ++r) {
      single_costs.push_back(singles(minimal_.fd(), minimal_frames, tx));
      repeat_costs.push_back(minimal_repeat().kernel_ns);
    }
    fixed_call_ns_ = std::max(0.0, median(single_costs) - median(repeat_costs));
    minimal_single_ns_ = median(single_costs);

    // warm: run every frame once untimed first, so the timed runs hit established flows.
    const auto new_flows = [&](const std::string& name, const std::function<PacketSpec(int, int)>& make,
                               bool warm = false) {
      std::vector<double> xlb;
      std::vector<double> minimal;
      for (int r = 0; r < opts_.rounds; ++r) {
        std::vector<Bytes> frames;
        for (int i = 0; i < opts_.distinct; ++i) frames.push_back(bpftest::build_packet(make(r, i)));
        if (warm) singles(lb_.prog_fd(), frames, tx);
        xlb.push_back(singles(lb_.prog_fd(), frames, tx) - fixed_call_ns_);
        minimal.push_back(minimal_repeat().kernel_ns);
      }
      rows.push_back({name, "repeat=1 x" + std::to_string(opts_.distinct) + ", fixed cost subtracted", median(xlb),
                      median(minimal), 0});
    };
    // Every frame is a 5-tuple the flow table has not seen: frame n of the scenario (over all
    // rounds) is client base + n / 60000, port 1024 + n % 60000.
    const auto syn = [&](std::uint32_t base, std::uint16_t dport) {
      return [&, base, dport](int r, int i) {
        const auto n = static_cast<std::uint32_t>(r * opts_.distinct + i);
        auto p = tcp(bpftest::client_v4(base + n / 60000), static_cast<std::uint16_t>(1024 + n % 60000), kVip4,
                     dport);
        p.tcp_flags = bpftest::kTcpSyn;
        return p;
      };
    };
    new_flows("new flow, wrr", syn(1000, 80));
    new_flows("new flow, mh", syn(2000, 443));
    // Few clients, every connection new: all but each client's first are placed by its
    // persistence template.
    new_flows("new flow, persistence hit", syn(3000, 8443));
    // The same call pattern on flows that exist: how much of the above is the new flow itself
    // and how much is a cold cache after the syscall.
    new_flows("established flows, one run each", syn(4000, 80), true);
    return rows;
  }

  double fixed_call_ns() const { return fixed_call_ns_; }
  double minimal_single_ns() const { return minimal_single_ns_; }
  ProgStats balancer_stats() const { return prog_stats(lb_.prog_fd()); }
  ProgStats minimal_stats() const { return prog_stats(minimal_.fd()); }
  std::uint64_t persist_hits() const { return lb_.counter(XLB_CTR_PERSIST_HIT); }
  std::uint64_t new_flow_count() const { return lb_.counter(XLB_CTR_FLOW_NEW); }

 private:
  static bpftest::BalancerOptions lb_options() {
    bpftest::BalancerOptions o;  // the loader's production defaults
    o.max_vips = 256;
    o.max_reals = 4096;
    o.max_flows = 524288;  // per-CPU LRU lists: 262,144 on the benchmark's CPU
    return o;
  }

  void configure() {
    std::vector<dataplane::RingMember> members;
    for (std::uint32_t id = 1; id <= 4; ++id) {
      const Address addr = Address::parse("198.18.1." + std::to_string(id));
      lb_.put_real(id, bpftest::make_real({0x02, 0x4e, 0, 0, 0, static_cast<std::uint8_t>(id)}, kEgress, kLoopback,
                                          addr));
      members.push_back({id, id, addr.str() + ":80"});
    }
    bpftest::ServiceSpec s;
    s.vip = kVip4;
    s.sched = XLB_SCHED_WRR;
    s.vip_id = 1;
    lb_.configure(s, members);
    s.vip = kVip6;
    s.vip_id = 4;
    lb_.configure(s, members);
    s.vip = kVip4;
    s.port = 443;
    s.sched = XLB_SCHED_MH;
    s.vip_id = kMhVip;
    lb_.configure(s, members);
    s.port = 8443;
    s.sched = XLB_SCHED_WRR;
    s.vip_id = kPersistVip;
    s.persist_timeout = 3600;
    lb_.configure(s, members);
  }

  Options opts_;
  bpftest::BpfFsMount fs_;
  bpftest::Balancer lb_;
  Minimal minimal_;
  double fixed_call_ns_ = 0;
  double minimal_single_ns_ = 0;
};

std::string utc_now() {
  char buf[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buf;
}

int run(const Options& o) {
  bpftest::CpuPin pin;
  PacketCost bench(o);
  const auto rows = bench.run();
  const auto b = bench.balancer_stats();
  const auto m = bench.minimal_stats();

  std::printf("packet_cost: ns/packet through BPF_PROG_TEST_RUN (kernel-measured), CPU %d, commit %s\n", pin.cpu(),
              o.commit.c_str());
  std::printf("%-32s %-42s %9s %11s %7s %s\n", "scenario", "method", "xlb ns", "minimal ns", "ratio", "target");
  nlohmann::json json_rows = nlohmann::json::array();
  for (const auto& r : rows) {
    std::string target = "-";
    if (r.target > 0) target = "<= " + std::to_string(r.target).substr(0, 3) + "x " + (r.target_met() ? "met" : "MISSED");
    std::printf("%-32s %-42s %9.1f %11.1f %6.2fx %s\n", r.name.c_str(), r.method.c_str(), r.xlb_ns, r.minimal_ns,
                r.ratio(), target.c_str());
    json_rows.push_back({{"scenario", r.name},
                         {"method", r.method},
                         {"xlb_ns", r.xlb_ns},
                         {"minimal_ns", r.minimal_ns},
                         {"ratio", r.ratio()},
                         {"xlb_wall_ns", r.xlb_wall_ns},
                         {"minimal_wall_ns", r.minimal_wall_ns},
                         {"target_ratio", r.target > 0 ? nlohmann::json(r.target) : nlohmann::json()},
                         {"target_met", r.target > 0 ? nlohmann::json(r.target_met()) : nlohmann::json()}});
  }
  std::printf("ns: the kernel's opts.duration, which counts only time on the CPU (whole ns at repeat>1); the "
              "syscall's wall time per run is also in the JSON but includes waiting for the CPU\n");
  std::printf("minimal program: 64-byte IPv4 TCP frame, repeat=%d; fixed cost of a repeat=1 call %.1f ns "
              "(minimal at repeat=1: %.1f ns)\n",
              o.repeat, bench.fixed_call_ns(), bench.minimal_single_ns());
  std::printf("new-flow rows: mean over distinct frames at repeat=1 minus that fixed cost; persistence hits %llu, "
              "new flows %llu\n",
              static_cast<unsigned long long>(bench.persist_hits()),
              static_cast<unsigned long long>(bench.new_flow_count()));
  // Both kinds of repeat=1 row run equally cold, so their difference is the new flow's own work.
  const auto row = [&](const std::string& name) {
    for (const auto& r : rows) {
      if (r.name == name) return r.xlb_ns;
    }
    return 0.0;
  };
  const double cold = row("established flows, one run each");
  std::printf("a new flow costs more than an established one run the same way: wrr %+.0f ns, mh %+.0f ns, "
              "persistence hit %+.0f ns\n",
              row("new flow, wrr") - cold, row("new flow, mh") - cold, row("new flow, persistence hit") - cold);
  std::printf("verifier: xlb_balancer %u xlated insns, %u JITed bytes, %u insns verified; "
              "xlb_minimal %u xlated insns, %u JITed bytes, %u insns verified\n",
              b.xlated_insns, b.jited_bytes, b.verified_insns, m.xlated_insns, m.jited_bytes, m.verified_insns);

  if (!o.json_path.empty()) {
    const auto prog = [](const ProgStats& s) {
      return nlohmann::json{{"xlated_insns", s.xlated_insns}, {"jited_bytes", s.jited_bytes},
                            {"verified_insns", s.verified_insns}};
    };
    nlohmann::json doc{{"benchmark", "packet_cost"},
                       {"commit", o.commit},
                       {"time", utc_now()},
                       {"cpu", pin.cpu()},
                       {"repeat", o.repeat},
                       {"distinct_frames", o.distinct},
                       {"rounds", o.rounds},
                       {"fixed_call_ns", bench.fixed_call_ns()},
                       {"rows", json_rows},
                       {"programs", {{"xlb_balancer", prog(b)}, {"xlb_minimal", prog(m)}}}};
    std::ofstream out(o.json_path);
    out << doc.dump(2) << "\n";
    if (!out) throw std::runtime_error("cannot write " + o.json_path);
    std::printf("wrote %s\n", o.json_path.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace xlb::bench

int main(int argc, char** argv) {
  xlb::bench::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    try {
      if (arg == "--repeat") {
        o.repeat = std::stoi(value());
      } else if (arg == "--distinct") {
        o.distinct = std::stoi(value());
      } else if (arg == "--rounds") {
        o.rounds = std::stoi(value());
      } else if (arg == "--json") {
        o.json_path = value();
      } else if (arg == "--commit") {
        o.commit = value();
      } else {
        std::cerr << "usage: xlb-bench-packet-cost [--repeat N] [--distinct N] [--rounds N] [--json FILE] "
                     "[--commit HASH]\n";
        return 2;
      }
    } catch (const std::exception& e) {
      std::cerr << "xlb-bench-packet-cost: " << e.what() << "\n";
      return 2;
    }
  }
  try {
    return xlb::bench::run(o);
  } catch (const std::exception& e) {
    std::cerr << "xlb-bench-packet-cost: " << e.what() << "\n";
    return 1;
  }
}
