// ns/packet of the XDP balancer through BPF_PROG_TEST_RUN, each scenario beside the minimal
// "parse + MAC rewrite + XDP_TX" program measured in the same run, by two methods:
//
//  A  repeat=N: CPU time per run of one frame over N runs, to 0.01 ns (the kernel's own average,
//     opts.duration, is whole ns: 6 and 9 would read 1.5x from 6.0 to 6.99). A new flow
//     cannot repeat (the first run creates it), so new-flow scenarios run repeat=1 over
//     distinct frames and subtract the fixed cost of a repeat=1 call (the minimal program's
//     repeat=1 time minus its repeat=N time). The ratio targets apply here.
//  B  repeat=1 calls: the kernel's duration of single runs, the fixed cost of the call
//     included, as lab.md measured Katran (about 235 ns established, 345-390 ns new flow, about
//     80 ns of it the call). Target: at most half of Katran. The syscall's wall time per call
//     is printed beside it.
//
// Rows over distinct frames also run the table baseline (xlb_minimal_table: the minimal program,
// and the flow looked up and, when new, inserted in a connection table sized as the balancer's)
// on the same frames: what the kernel's LRU hash costs on this machine, under any balancer that
// keeps its flows there.
//
// The machine is shared: every figure is the best of --rounds rounds, and each round measures
// the minimal program right before the balancer, on a frame of the row's address family (it
// parses IPv6 as well as IPv4); IPv6 rows also show their ratio to the IPv4 minimal.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "tests/bpf/support/harness.hpp"
#include "tests/bpf/support/tunnel_netns.hpp"
#include "tests/bpf/support/minimal.hpp"

namespace xlb::bench {
namespace {

using bpftest::Address;
using bpftest::Bytes;
using bpftest::PacketSpec;

const Address kVip4 = Address::parse("198.18.0.10");
const Address kVip6 = Address::parse("2001:db8::10");
const Address kOther4 = Address::parse("198.18.0.99");
const Address kOther6 = Address::parse("2001:db8::99");
const Address kRouter4 = Address::parse("198.18.5.1");
const bpftest::Mac kEgress{0x02, 0x1b, 0, 0, 0, 0xee};
constexpr std::uint32_t kLoopback = 1;

// Targets of issue 7 and lab.md's Katran figures (method B).
constexpr double kNonVipRatio = 1.2;
constexpr double kEstablishedRatio = 1.5;
constexpr double kNewFlowRatio = 3.0;
constexpr double kKatranEstablishedNs = 235;
constexpr double kKatranNewFlowNs = 345;  // the low end of 345-390: the stricter half

// One service per scheduler; port = which one a frame goes to.
struct Service {
  std::uint16_t port;
  std::uint32_t sched;
  std::uint32_t vip_id;
  std::uint32_t persist_timeout;
};
constexpr Service kWrr{80, XLB_SCHED_WRR, 1, 0};
constexpr Service kRr{81, XLB_SCHED_RR, 2, 0};
constexpr Service kSh{82, XLB_SCHED_SH, 3, 0};
constexpr Service kMh{443, XLB_SCHED_MH, 4, 0};
constexpr Service kPersist{8443, XLB_SCHED_WRR, 5, 3600};
constexpr std::uint32_t kVip6Id = 6;

struct Options {
  int repeat = 1000000;
  int distinct = 10000;  // repeat=1 calls per round
  int rounds = 5;
  std::uint32_t max_flows = 262144;  // the loader's default (ctrl/dataplane/bpf_program.hpp)
  std::string json_path;
  std::string commit = "unknown";
  std::string only;  // run only scenarios whose name contains this
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

struct Calls {
  double kernel_ns = 0;  // mean opts.duration of the repeat=1 calls: fixed call cost included
  double wall_ns = 0;    // mean wall time of the bpf() syscall
};

// repeat=1 calls over `frames` (one frame may stand for many calls of the same frame).
Calls calls(int fd, const std::vector<const Bytes*>& frames, int action) {
  double kernel = 0;
  timespec t0{};
  timespec t1{};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (const Bytes* f : frames) {
    const auto r = bpftest::test_run(fd, *f, std::nullopt, 1);
    bpftest::expect_action(r, action);
    kernel += r.duration_ns;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  const auto n = static_cast<double>(frames.size());
  return {kernel / n, bpftest::ns_between(t0, t1) / n};
}

std::vector<const Bytes*> pointers(const std::vector<Bytes>& frames) {
  std::vector<const Bytes*> out;
  for (const auto& f : frames) out.push_back(&f);
  return out;
}

struct Row {
  std::string name;
  int family = 4;  // of the row's frames, and of the minimal program's in minimal_a
  std::string method_a;
  double xlb_a = 0;      // ns, method A
  double minimal_a = 0;  // ns, minimal program at repeat=N on a frame of the row's family, same rounds
  double minimal_v4_a = 0;  // the same on the IPv4 frame (minimal_a itself for IPv4 rows)
  double target_ratio = 0;
  double xlb_b = 0;  // ns per repeat=1 call, kernel-measured, fixed cost included
  double wall_b = 0;  // ns per repeat=1 call, the syscall's wall time
  double katran_b = 0;  // lab.md's Katran figure for this kind of packet, 0 = none
  double table_b = 0;   // the table baseline per repeat=1 call on the same frames, 0 = not run
  double ratio() const { return minimal_a > 0 ? xlb_a / minimal_a : 0; }
  double ratio_to_v4() const { return minimal_v4_a > 0 ? xlb_a / minimal_v4_a : 0; }
  bool met_a() const { return ratio() <= target_ratio; }
  double target_b() const { return katran_b / 2; }
  bool met_b() const { return xlb_b <= target_b(); }
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

double best(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

class PacketCost {
 public:
  explicit PacketCost(const Options& o) : opts_(o) {
    reload();
    minimal_frame_ = bpftest::build_packet(tcp(bpftest::client_v4(1), 1000, kOther4));
    minimal_frame6_ = bpftest::build_packet(tcp(bpftest::client_v6(1), 1000, kOther6));
  }

  std::vector<Row> run() {
    measure_call_cost();
    const int tx = XDP_TX;
    const Bytes est4 = bpftest::build_packet(tcp(bpftest::client_v4(2), 2000, kVip4));
    const Bytes est6 = bpftest::build_packet(tcp(bpftest::client_v6(3), 3000, kVip6));
    const Bytes icmp = bpftest::build_icmp4_frag_needed(
        kEgress, PacketSpec{}.dst_mac, kRouter4, kVip4,  // to this node's MAC (if_macs)
        bpftest::ip_part(bpftest::build_packet(tcp(kVip4, 80, bpftest::client_v4(2), 2000))), 1400);
    // Their flows opened as a client opens them: only a SYN makes an entry.
    for (const auto& [client, port, vip] : {std::tuple{bpftest::client_v4(2), 2000, kVip4},
                                            std::tuple{bpftest::client_v6(3), 3000, kVip6}}) {
      auto open = tcp(client, static_cast<std::uint16_t>(port), vip);
      open.tcp_flags = bpftest::kTcpSyn;
      bpftest::test_run(lb().prog_fd(), bpftest::build_packet(open), std::nullopt, 1);
    }

    stateless("non-VIP IPv4 TCP (XDP_PASS)", minimal_frame_, XDP_PASS, kNonVipRatio, 0);
    stateless("established IPv4 TCP", est4, tx, kEstablishedRatio, kKatranEstablishedNs);
    stateless("established IPv6 TCP", est6, tx, kEstablishedRatio, kKatranEstablishedNs);
    stateless("ICMP frag-needed for a flow", icmp, tx, 0, 0);
    // The same calls on many existing flows: a cold table entry per call instead of one hot.
    distinct("established IPv4, 10k flows cold", syn(kVip4, kWrr.port, 0), true, kEstablishedRatio,
             kKatranEstablishedNs);
    distinct("new flow IPv4, wrr", syn(kVip4, kWrr.port, 0), false, kNewFlowRatio, kKatranNewFlowNs);
    distinct("new flow IPv4, rr", syn(kVip4, kRr.port, 0), false, kNewFlowRatio, kKatranNewFlowNs);
    distinct("new flow IPv4, sh", syn(kVip4, kSh.port, 0), false, kNewFlowRatio, kKatranNewFlowNs);
    distinct("new flow IPv4, mh", syn(kVip4, kMh.port, 0), false, kNewFlowRatio, kKatranNewFlowNs);
    // Few clients, every connection new: all but each client's first are placed by its
    // persistence template.
    distinct("new flow IPv4, persistence hit", syn(kVip4, kPersist.port, 0), false, kNewFlowRatio,
             kKatranNewFlowNs);
    distinct("new flow IPv6, wrr", syn(kVip6, kWrr.port, 0), false, kNewFlowRatio, kKatranNewFlowNs);
    if (wanted("TUN")) tunnel_vs_dr();
    return rows_;
  }

  // lb_kind TUN beside DR, established flows (flow cache hits), in the same run. The
  // encapsulation grows the frame, so repeat=N would rerun the program on its own output:
  // repeat=1 calls minus the fixed call cost instead, for both. Both reals are reached through a
  // veth of a namespace made here (the FIB's), so both leave by redirect.
  struct TunnelFigures {
    std::string name;
    double tun_ns = 0, dr_ns = 0;
  };
  const std::vector<TunnelFigures>& tunnel_figures() const { return tunnel_; }

  void tunnel_vs_dr() {
    reload();
    bpftest::NetnsScope ns;
    const std::uint32_t ifindex = ns.ifindex();
    lb().add_tx_port(ifindex);
    const Address real4 = Address::parse("198.18.100.1"), dr_real = Address::parse("198.18.2.7");
    const Address real6 = Address::parse("2001:db8:100::1");
    lb().put_real(10, bpftest::make_real(bpftest::Mac{0x02, 0, 0, 0, 0, 7}, ns.mac(), ifindex, dr_real));
    struct Case {
      const char* name;
      std::uint8_t type;
      Address vip;
      Address real;
      Address src;
    };
    const Case cases[] = {{"TUN ipip IPv4", XLB_TUN_IPIP, kVip4, real4, Address::parse("198.18.2.1")},
                          {"TUN gue IPv4 (no checksum)", XLB_TUN_GUE, kVip4, real4, Address::parse("198.18.2.1")},
                          {"TUN ip6ip6 IPv6", XLB_TUN_IPIP, kVip6, real6, Address::parse("2001:db8:2::1")}};
    std::uint32_t id = 11, vip_id = 20;
    std::uint16_t port = 7000;
    const auto serve = [&](const Address& vip, std::uint32_t real_id) {
      bpftest::ServiceSpec s;
      s.vip = vip;
      s.port = port;
      s.vip_id = vip_id++;
      lb().configure(s, std::vector<dataplane::RingMember>{{real_id, 1, "r"}});
      auto p = tcp(vip.family == 4 ? bpftest::client_v4(77) : bpftest::client_v6(77), 5555, vip, port++);
      p.tcp_flags = bpftest::kTcpSyn;
      bpftest::expect_action(bpftest::test_run(lb().prog_fd(), bpftest::build_packet(p), std::nullopt, 1), XDP_REDIRECT);
      p.tcp_flags = bpftest::kTcpAck;
      return bpftest::build_packet(p);
    };
    for (const Case& c : cases) {
      lb().put_real(id, bpftest::make_real({}, {}, ifindex, c.real, XLB_REAL_F_TUNNEL));
      xlb_tunnel t{};
      const auto src = c.src.words(), dst = c.real.words();
      std::copy(src.begin(), src.end(), t.src);
      std::copy(dst.begin(), dst.end(), t.dst);
      t.type = c.type;
      t.gue_port = htons(6080);
      t.family = c.real.family;
      t.ifindex = ifindex;
      lb().put_tunnel(id, t);
      const Bytes tun_frame = serve(c.vip, id++);
      const Bytes dr_frame = serve(c.vip, 10);
      // Call by call in turn (DR, TUN, DR, ...): the machine is shared, and blocks of one kind
      // measured a few ms apart met different loads (ratios of 1.35-1.55 for one build).
      std::vector<double> tun, dr;
      for (int r = 0; r < opts_.rounds; ++r) {
        double tun_sum = 0, dr_sum = 0;
        for (int i = 0; i < opts_.distinct; ++i) {
          const auto d = bpftest::test_run(lb().prog_fd(), dr_frame, std::nullopt, 1);
          bpftest::expect_action(d, XDP_REDIRECT);
          const auto t = bpftest::test_run(lb().prog_fd(), tun_frame, std::nullopt, 1);
          bpftest::expect_action(t, XDP_REDIRECT);
          dr_sum += d.duration_ns;
          tun_sum += t.duration_ns;
        }
        tun.push_back(tun_sum / opts_.distinct);
        dr.push_back(dr_sum / opts_.distinct);
      }
      tunnel_.push_back({c.name, std::max(0.0, best(tun) - fixed_call_ns_), std::max(0.0, best(dr) - fixed_call_ns_)});
    }
    // The namespace lives on while the devmap holds its veth: until the next reload or exit.
  }

  double fixed_call_ns() const { return fixed_call_ns_; }
  std::uint32_t table_baseline_entries() const { return table_entries_; }
  double minimal_repeat_ns() const { return minimal_repeat_ns_; }
  const Calls& minimal_calls() const { return minimal_calls_; }
  ProgStats balancer_stats() const { return prog_stats(lb_->prog_fd()); }
  ProgStats minimal_stats() const { return prog_stats(minimal_.fd()); }
  std::uint64_t persist_hits() const { return totals_[0] + lb_->counter(XLB_CTR_PERSIST_HIT); }
  std::uint64_t new_flow_count() const { return totals_[1] + lb_->counter(XLB_CTR_FLOW_NEW); }

 private:
  static bpftest::BalancerOptions lb_options(const Options& o) {
    bpftest::BalancerOptions b;  // the loader's production sizes
    b.max_vips = 256;
    b.max_reals = 4096;
    b.max_flows = o.max_flows;
    return b;
  }

  bpftest::Balancer& lb() const { return *lb_; }

  // A freshly loaded balancer on a fresh bpffs (pins by name would otherwise hand the new
  // program the old tables): every new-flow scenario starts from the same empty table, so the
  // schedulers compare alike, whatever ran before.
  void reload() {
    if (lb_) {
      totals_[0] += lb_->counter(XLB_CTR_PERSIST_HIT);
      totals_[1] += lb_->counter(XLB_CTR_FLOW_NEW);
    }
    lb_.reset();
    table_baseline_.reset();
    fs_.reset();
    fs_ = std::make_unique<bpftest::BpfFsMount>("bench-packet-cost");
    lb_ = std::make_unique<bpftest::Balancer>(fs_->path(), lb_options(opts_));
    configure();
  }

  bool wanted(const std::string& name) const { return name.find(opts_.only) != std::string::npos; }

  double minimal_repeat(int family = 4) {
    return bpftest::cpu_ns_per_run(minimal_.fd(), family == 4 ? minimal_frame_ : minimal_frame6_, opts_.repeat,
                                   XDP_TX);
  }

  // The minimal program's repeat=N figure for a round: on the row's family, and on IPv4.
  void measure_minimal(int family, std::vector<double>& same_family, std::vector<double>& v4) {
    v4.push_back(minimal_repeat(4));
    same_family.push_back(family == 4 ? v4.back() : minimal_repeat(family));
  }

  // The fixed cost of a repeat=1 call: the minimal program's repeat=1 time minus its repeat=N.
  void measure_call_cost() {
    const std::vector<const Bytes*> same(static_cast<std::size_t>(opts_.distinct), &minimal_frame_);
    std::vector<double> single, wall, rep;
    for (int r = 0; r < opts_.rounds; ++r) {
      const Calls c = calls(minimal_.fd(), same, XDP_TX);
      single.push_back(c.kernel_ns);
      wall.push_back(c.wall_ns);
      rep.push_back(minimal_repeat());
    }
    minimal_calls_ = {best(single), best(wall)};
    minimal_repeat_ns_ = best(rep);
    fixed_call_ns_ = std::max(0.0, minimal_calls_.kernel_ns - minimal_repeat_ns_);
  }

  // A frame whose result does not depend on earlier runs: method A repeats it, method B calls
  // it --distinct times.
  void stateless(const std::string& name, const Bytes& frame, int action, double target, double katran) {
    if (!wanted(name)) return;
    const int family = frame[12] == 0x86 && frame[13] == 0xdd ? 6 : 4;  // the EtherType
    const std::vector<const Bytes*> same(static_cast<std::size_t>(opts_.distinct), &frame);
    std::vector<double> xlb_a, minimal_a, minimal_v4_a, xlb_b, wall_b;
    for (int r = 0; r < opts_.rounds; ++r) {
      measure_minimal(family, minimal_a, minimal_v4_a);
      xlb_a.push_back(bpftest::cpu_ns_per_run(lb().prog_fd(), frame, opts_.repeat, action));
      const Calls c = calls(lb().prog_fd(), same, action);
      xlb_b.push_back(c.kernel_ns);
      wall_b.push_back(c.wall_ns);
    }
    rows_.push_back({name, family, "repeat=" + std::to_string(opts_.repeat), best(xlb_a), best(minimal_a),
                     best(minimal_v4_a), target, best(xlb_b), best(wall_b), katran});
  }

  // Frames n = 0.. of a scenario: client base + n / 60000, port 1024 + n % 60000 (the base keeps
  // scenarios apart). Every round takes new frames, so a new flow is new in every round.
  std::function<PacketSpec(int, int)> syn(const Address& vip, std::uint16_t dport, std::uint32_t base) {
    const std::uint32_t scenario = next_client_base_;
    next_client_base_ += 16;
    return [this, vip, dport, base, scenario](int r, int i) {
      const auto n = static_cast<std::uint32_t>(r * opts_.distinct + i);
      const std::uint32_t client = scenario + base + n / 60000;
      auto p = tcp(vip.family == 4 ? bpftest::client_v4(client) : bpftest::client_v6(client),
                   static_cast<std::uint16_t>(1024 + n % 60000), vip, dport);
      p.tcp_flags = bpftest::kTcpSyn;
      return p;
    };
  }

  // repeat=1 calls over distinct frames. warm: run each frame once untimed, so the timed runs
  // meet established flows. Method A subtracts the fixed call cost.
  void distinct(const std::string& name, const std::function<PacketSpec(int, int)>& make, bool warm, double target,
                double katran) {
    if (!wanted(name)) return;
    reload();
    table_baseline_ = std::make_unique<bpftest::MinimalProgram>(opts_.max_flows);  // as empty as the balancer's
    table_entries_ = table_baseline_->table_entries();
    const int family = make(0, 0).dst.family;
    std::vector<double> xlb_b, wall_b, minimal_a, minimal_v4_a, table_b;
    for (int r = 0; r < opts_.rounds; ++r) {
      std::vector<Bytes> frames;
      for (int i = 0; i < opts_.distinct; ++i) frames.push_back(bpftest::build_packet(make(warm ? 0 : r, i)));
      if (warm && r == 0) {
        calls(lb().prog_fd(), pointers(frames), XDP_TX);
        calls(table_baseline_->table_fd(), pointers(frames), XDP_TX);
      }
      measure_minimal(family, minimal_a, minimal_v4_a);
      // The two take turns at going first, so that neither always meets what the other left.
      const auto table = [&] {
        table_b.push_back(calls(table_baseline_->table_fd(), pointers(frames), XDP_TX).kernel_ns);
      };
      if (r % 2) table();
      const Calls c = calls(lb().prog_fd(), pointers(frames), XDP_TX);
      xlb_b.push_back(c.kernel_ns);
      wall_b.push_back(c.wall_ns);
      if (r % 2 == 0) table();
    }
    rows_.push_back({name, family, "repeat=1 x" + std::to_string(opts_.distinct) + " - fixed call cost",
                     std::max(0.0, best(xlb_b) - fixed_call_ns_), best(minimal_a), best(minimal_v4_a), target,
                     best(xlb_b), best(wall_b), katran, best(table_b)});
  }

  void configure() {
    // As xlbd fills it for an attached interface: every VIP frame pays the destination MAC
    // compare (the frames carry PacketSpec's default destination). repeat=N reruns the program
    // on the frame it rewrote, so every real has that MAC too: a second run of a frame with the
    // real's MAC as destination would be another host's frame, passed.
    xlb_if_mac own{};
    const bpftest::Mac dst = bpftest::PacketSpec{}.dst_mac;
    std::copy(dst.begin(), dst.end(), own.mac);
    own.enabled = 1;
    const std::uint32_t ingress = kLoopback;
    if (bpf_map_update_elem(bpf_map__fd(lb().map("if_macs")), &ingress, &own, BPF_ANY) != 0) {
      throw std::runtime_error("if_macs");
    }
    std::vector<dataplane::RingMember> members;
    for (std::uint32_t id = 1; id <= 4; ++id) {
      const Address addr = Address::parse("198.18.1." + std::to_string(id));
      lb().put_real(id, bpftest::make_real(dst, kEgress, kLoopback, addr));
      members.push_back({id, id, addr.str() + ":80"});
    }
    for (const Service& svc : {kWrr, kRr, kSh, kMh, kPersist}) {
      bpftest::ServiceSpec s;
      s.vip = kVip4;
      s.port = svc.port;
      s.sched = svc.sched;
      s.vip_id = svc.vip_id;
      s.persist_timeout = svc.persist_timeout;
      lb().configure(s, members);
    }
    bpftest::ServiceSpec s;
    s.vip = kVip6;
    s.vip_id = kVip6Id;
    lb().configure(s, members);
  }

  Options opts_;
  std::unique_ptr<bpftest::BpfFsMount> fs_;
  std::unique_ptr<bpftest::Balancer> lb_;
  std::uint64_t totals_[2] = {0, 0};  // persistence hits, new flows of the balancers already gone
  bpftest::MinimalProgram minimal_;
  std::unique_ptr<bpftest::MinimalProgram> table_baseline_;  // made by the rows over distinct frames
  std::uint32_t table_entries_ = 0;
  Bytes minimal_frame_;   // 64-byte IPv4 TCP to no VIP
  Bytes minimal_frame6_;  // 74-byte IPv6 TCP to no VIP, the size of the IPv6 rows' frames
  std::vector<Row> rows_;
  std::vector<TunnelFigures> tunnel_;
  std::uint32_t next_client_base_ = 100;
  double fixed_call_ns_ = 0;
  double minimal_repeat_ns_ = 0;
  Calls minimal_calls_;
};

std::string utc_now() {
  char buf[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buf;
}

std::string met(bool applies, bool ok) { return applies ? (ok ? "met" : "MISSED") : "-"; }

nlohmann::json maybe(bool applies, const nlohmann::json& value) { return applies ? value : nlohmann::json(); }

int run(const Options& o) {
  bpftest::CpuPin pin;
  PacketCost bench(o);
  const auto rows = bench.run();
  const auto b = bench.balancer_stats();
  const auto m = bench.minimal_stats();

  std::printf("packet_cost: ns/packet through BPF_PROG_TEST_RUN, CPU %d, commit %s, best of %d rounds\n", pin.cpu(),
              o.commit.c_str(), o.rounds);
  std::printf("%-34s | %8s %8s %6s %6s %6s | %8s %8s %7s %7s %6s\n", "", "A: xlb", "minimal", "ratio", "target",
              "", "B: xlb", "wall", "Katran", "target", "");
  nlohmann::json json_rows = nlohmann::json::array();
  for (const auto& r : rows) {
    const bool has_a = r.target_ratio > 0;
    const bool has_b = r.katran_b > 0;
    const std::string target_a = has_a ? "<=" + std::to_string(r.target_ratio).substr(0, 3) : "-";
    const std::string katran = has_b ? std::to_string(static_cast<int>(r.katran_b)) : "-";
    const std::string target_b = has_b ? "<=" + std::to_string(static_cast<int>(r.target_b())) : "-";
    std::printf("%-34s | %8.1f %8.1f %5.2fx %6s %6s | %8.1f %8.0f %7s %7s %6s\n", r.name.c_str(), r.xlb_a,
                r.minimal_a, r.ratio(), target_a.c_str(), met(has_a, r.met_a()).c_str(), r.xlb_b, r.wall_b,
                katran.c_str(), target_b.c_str(), met(has_b, r.met_b()).c_str());
    json_rows.push_back({{"scenario", r.name},
                         {"family", r.family},
                         {"method_a", r.method_a},
                         {"xlb_ns", r.xlb_a},
                         {"minimal_ns", r.minimal_a},
                         {"ratio", r.ratio()},
                         {"minimal_ipv4_ns", r.minimal_v4_a},
                         {"ratio_to_ipv4_minimal", r.ratio_to_v4()},
                         {"target_ratio", maybe(has_a, r.target_ratio)},
                         {"target_ratio_met", maybe(has_a, r.met_a())},
                         {"repeat1_call_ns", r.xlb_b},
                         {"repeat1_call_wall_ns", r.wall_b},
                         {"katran_repeat1_ns", maybe(has_b, r.katran_b)},
                         {"target_repeat1_ns", maybe(has_b, r.target_b())},
                         {"target_repeat1_met", maybe(has_b, r.met_b())},
                         {"table_baseline_repeat1_call_ns", maybe(r.table_b > 0, r.table_b)},
                         {"table_baseline_ns",
                          maybe(r.table_b > 0, std::max(0.0, r.table_b - bench.fixed_call_ns()))}});
  }
  std::printf("A: CPU ns per run at repeat=%d (the thread's CPU time, repeat=N minus repeat=N/10); new-flow and "
              "cold rows run repeat=1 over distinct frames minus the fixed call cost %.1f ns\n",
              o.repeat, bench.fixed_call_ns());
  std::printf("B: opts.duration of repeat=1 calls, fixed call cost included (lab.md's Katran method); wall: the "
              "bpf() syscall's wall time per call\n");
  if (bench.table_baseline_entries() > 0) {
    std::printf("table baseline: the minimal program that also looks each flow up in a connection table like the "
                "balancer's, and inserts it when new, on the same frames (%u entries)\n",
                bench.table_baseline_entries());
  }
  std::printf("minimal program (64-byte IPv4 TCP): %.1f ns at repeat=%d, %.1f ns per repeat=1 call (wall %.0f ns); "
              "IPv6 rows compare with it on a 74-byte IPv6 TCP frame\n",
              bench.minimal_repeat_ns(), o.repeat, bench.minimal_calls().kernel_ns, bench.minimal_calls().wall_ns);
  for (const auto& r : rows) {
    if (r.family != 6) continue;
    std::printf("  %s: minimal on IPv6 %.1f ns, on IPv4 %.1f ns; ratio to the IPv4 minimal %.2fx\n", r.name.c_str(),
                r.minimal_a, r.minimal_v4_a, r.ratio_to_v4());
  }
  for (const auto& r : rows) {
    if (r.table_b <= 0) continue;
    const double table_a = std::max(0.0, r.table_b - bench.fixed_call_ns());
    std::printf("  %s: table baseline %.1f ns per call (A: %.1f ns); xlb %.1f ns above it\n", r.name.c_str(),
                r.table_b, table_a, r.xlb_b - r.table_b);
  }
  nlohmann::json tunnel_rows = nlohmann::json::array();
  for (const auto& t : bench.tunnel_figures()) {
    const double ratio = t.dr_ns > 0 ? t.tun_ns / t.dr_ns : 0;
    std::printf("  %s, established: %.1f ns vs DR %.1f ns (repeat=1 - fixed call cost, redirect both): %.2fx "
                "(target <= 1.3: %s)\n",
                t.name.c_str(), t.tun_ns, t.dr_ns, ratio, ratio <= 1.3 ? "met" : "MISSED");
    tunnel_rows.push_back({{"name", t.name}, {"tun_ns", t.tun_ns}, {"dr_ns", t.dr_ns}, {"ratio", ratio},
                           {"target_ratio", 1.3}});
  }
  std::printf("counters: persistence hits %llu, new flows %llu; flow table max_entries %u\n",
              static_cast<unsigned long long>(bench.persist_hits()),
              static_cast<unsigned long long>(bench.new_flow_count()), o.max_flows);
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
                       {"repeat1_calls_per_round", o.distinct},
                       {"rounds", o.rounds},
                       {"statistic", "best of rounds"},
                       {"max_flows", o.max_flows},
                       {"fixed_call_ns", bench.fixed_call_ns()},
                       {"minimal_repeat_ns", bench.minimal_repeat_ns()},
                       {"minimal_repeat1_call_ns", bench.minimal_calls().kernel_ns},
                       {"minimal_repeat1_call_wall_ns", bench.minimal_calls().wall_ns},
                       {"rows", json_rows},
                       {"tunnel_vs_dr", tunnel_rows},
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
      } else if (arg == "--max-flows") {
        o.max_flows = static_cast<std::uint32_t>(std::stoul(value()));
      } else if (arg == "--json") {
        o.json_path = value();
      } else if (arg == "--commit") {
        o.commit = value();
      } else if (arg == "--only") {
        o.only = value();
      } else {
        std::cerr << "usage: xlb-bench-packet-cost [--repeat N] [--distinct N] [--rounds N] [--max-flows N] "
                     "[--json FILE] [--commit HASH] [--only SUBSTRING]\n";
        return 2;
      }
    } catch (const std::exception& e) {
      std::cerr << "xlb-bench-packet-cost: " << e.what() << "\n";
      return 2;
    }
  }
  if (o.repeat < 1 || o.distinct < 1 || o.rounds < 1) {
    std::cerr << "xlb-bench-packet-cost: --repeat, --distinct and --rounds must be positive\n";
    return 2;
  }
  try {
    return xlb::bench::run(o);
  } catch (const std::exception& e) {
    std::cerr << "xlb-bench-packet-cost: " << e.what() << "\n";
    return 1;
  }
}
