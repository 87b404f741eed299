// xlb-pktgen-target: the LB side of a forwarding benchmark. Loads the balancer (or the minimal
// "parse + MAC rewrite + XDP_TX" baseline, or that baseline with a connection-table lookup and
// insert, bpf/minimal.bpf.c) on one interface, programs one service with N reals
// that all sit behind that same interface (so the balancer answers with XDP_TX), prints
// "ready", and holds the attachment until SIGINT/SIGTERM. SIGUSR1 prints the counters.
// Maps are not pinned: the lab's programs must not meet xlbd's pins.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "live_frames.hpp"
#include "netdev.hpp"
#include "options.hpp"
#include "ctrl/dataplane/bpf_program.hpp"
#include "ctrl/dataplane/map_values.hpp"
#include "ctrl/dataplane/pending_traffic.hpp"
#include "ctrl/dataplane/ring_codec.hpp"
#include "xlb/balancer.skel.h"
#include "xlb/minimal.skel.h"
#include "xlb/xlb_abi.h"

namespace xlb::pktgen {
namespace {

struct TargetOptions {
  std::string device;
  std::string program = "balancer";
  std::string vip = "198.18.1.1";
  std::uint16_t port = 80;
  std::string proto = "udp";
  std::uint32_t reals = 4;
  MacAddress real_mac{};
  std::uint32_t max_flows = 262144;
  std::string flow_lru = "shared";  // the connection table's LRU lists: shared or per_cpu (xdp_flow_lru)
  std::string tunnel = "none";      // lb_kind TUN: none (DR), ipip or gue
  std::string tunnel_src;           // the outer source address (this end's address on the device)
};

// A step the kernel refused for want of privilege, told apart from other failures so that
// main() can say what to grant instead of a bare errno.
class KernelRefusal : public std::system_error {
 public:
  KernelRefusal(int err, std::string step)
      : std::system_error(err, std::generic_category(), step), step_(std::move(step)) {}
  const std::string& step() const { return step_; }

 private:
  std::string step_;
};

[[noreturn]] void throw_errno(int err, const std::string& what) {
  if (err == EPERM || err == EACCES) throw KernelRefusal(err, what);
  throw std::system_error(err, std::generic_category(), what);
}

void check(int rc, const std::string& what) {
  if (rc) throw_errno(errno, what);
}

struct BalancerDeleter {
  void operator()(xlb_balancer* s) const { xlb_balancer__destroy(s); }
};
struct MinimalDeleter {
  void operator()(xlb_minimal* s) const { xlb_minimal__destroy(s); }
};
struct LinkDeleter {
  void operator()(bpf_link* l) const { bpf_link__destroy(l); }
};

// The balancer's or the table baseline's connection table, shaped as xlbd shapes its own.
void shape_flow_table(bpf_map* flows, const TargetOptions& o) {
  const auto lru = o.flow_lru == "per_cpu" ? dataplane::FlowLru::per_cpu : dataplane::FlowLru::shared;
  dataplane::shape_flow_map(flows, o.max_flows, lru);
}

// Loads and programs the balancer through its maps, as the XDP backend of xlbd would.
class BalancerTarget {
 public:
  explicit BalancerTarget(const TargetOptions& o) {
    skel_.reset(xlb_balancer__open());
    if (!skel_) throw_errno(errno, "opening the balancer object");
    bpf_object* obj = skel_->obj;
    bpf_map* map;
    bpf_object__for_each_map(map, obj) {
      if (!bpf_map__is_internal(map)) check(bpf_map__set_pin_path(map, nullptr), "unpinning map");
    }
    shape_flow_table(skel_->maps.flows, o);
    if (int err = xlb_balancer__load(skel_.get())) throw_errno(-err, "loading the balancer");

    int ifindex = device_index(o.device);
    MacAddress own = device_mac(o.device);
    int family = o.vip.find(':') == std::string::npos ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
    const std::uint32_t ring_size = skel_->rodata->ring_size;

    xlb_settings settings{};
    settings.abi_version = XLB_ABI_VERSION;
    settings.tcp_timeout = 900;
    settings.udp_timeout = 300;
    settings.ring_size = ring_size;
    settings.max_vips = bpf_map__max_entries(skel_->maps.vips);
    settings.max_reals = bpf_map__max_entries(skel_->maps.reals);
    settings.max_flows = o.max_flows;
    std::uint32_t zero = 0;
    check(bpf_map_update_elem(bpf_map__fd(skel_->maps.settings), &zero, &settings, BPF_ANY), "settings");

    std::vector<std::uint32_t> ring;
    for (std::uint32_t id = 1; id <= o.reals; ++id) {
      xlb_real real{};
      std::memcpy(real.dst_mac, o.real_mac.data(), 6);
      real.dst_mac[5] = static_cast<std::uint8_t>(real.dst_mac[5] + id - 1);
      std::memcpy(real.src_mac, own.data(), 6);
      real.ifindex = static_cast<std::uint32_t>(ifindex);
      real.family = static_cast<std::uint8_t>(family);
      std::uint8_t* addr = reinterpret_cast<std::uint8_t*>(real.addr);
      if (family == XLB_FAMILY_V4) {
        addr[0] = 198, addr[1] = 18, addr[2] = 2, addr[3] = static_cast<std::uint8_t>(id);
      } else {
        inet_pton(AF_INET6, "2001:db8::2:0", addr);
        addr[15] = static_cast<std::uint8_t>(id);
      }
      if (o.tunnel != "none") {
        // TUN: the next hop comes from the FIB (the caller routes the reals' addresses out of
        // the device, neighbours and forwarding set); the MACs above are then unused.
        real.flags |= XLB_REAL_F_TUNNEL;
        xlb_tunnel t{};
        if (inet_pton(family == XLB_FAMILY_V4 ? AF_INET : AF_INET6, o.tunnel_src.c_str(), t.src) != 1) {
          throw std::invalid_argument("--tunnel-src: not an address of the VIP's family: " + o.tunnel_src);
        }
        std::memcpy(t.dst, real.addr, sizeof(t.dst));
        t.type = o.tunnel == "gue" ? XLB_TUN_GUE : XLB_TUN_IPIP;
        t.gue_port = htons(6080);
        t.family = static_cast<std::uint8_t>(family);
        t.ifindex = static_cast<std::uint32_t>(ifindex);
        check(bpf_map_update_elem(bpf_map__fd(skel_->maps.tunnels), &id, &t, BPF_ANY), "tunnels");
      }
      check(bpf_map_update_elem(bpf_map__fd(skel_->maps.reals), &id, &real, BPF_ANY), "reals");
      ring.push_back(id);
    }
    // vip 0, slot 0: each real once (rr).
    if (auto ec = dataplane::RingLayout(ring_size).write_half(bpf_map__fd(skel_->maps.ring), 0, 0, ring); ec) {
      throw std::system_error(ec, "ring");
    }

    xlb_vip_key key{};
    if (inet_pton(family == XLB_FAMILY_V4 ? AF_INET : AF_INET6, o.vip.c_str(), key.addr) != 1) {
      throw std::invalid_argument("--vip: not an address: " + o.vip);
    }
    key.port = htons(o.port);
    key.proto = o.proto == "tcp" ? IPPROTO_TCP : IPPROTO_UDP;
    key.family = static_cast<std::uint8_t>(family);
    xlb_vip_info info{};
    info.vip_id = 0;
    info.flags = XLB_VIP_F_ACTIVE;
    info.sched = XLB_SCHED_RR;
    info.ring_len = o.reals;
    check(bpf_map_update_elem(bpf_map__fd(skel_->maps.vips), &key, &info, BPF_ANY), "vips");
    const xlb_vip_state state{info.flags | XLB_VIP_F_PRESENT, 0};
    check(bpf_map_update_elem(bpf_map__fd(skel_->maps.vip_state), &info.vip_id, &state, BPF_ANY), "vip_state");

    link_.reset(bpf_program__attach_xdp(skel_->progs.xlb_balancer, ifindex));
    if (!link_) throw_errno(errno, "attaching the balancer to " + o.device);
  }

  nlohmann::json counters() const {
    nlohmann::json out;
    const dataplane::PendingTraffic pending(dataplane::BpfMap(skel_->maps.flow_cache),
                                            dataplane::BpfMap(skel_->maps.vip_state),
                                            dataplane::BpfMap(skel_->maps.reals));
    const dataplane::BpfMap counters(skel_->maps.counters);
    for (std::uint32_t i = 0; i < XLB_CTR_MAX; ++i) out[dataplane::counter_name(i)] = sum_counter(counters, i, pending);
    return out;
  }

 private:
  std::unique_ptr<xlb_balancer, BalancerDeleter> skel_;
  std::unique_ptr<bpf_link, LinkDeleter> link_;
};

// The minimal program, or (minimal_table) the same with the flow looked up, and inserted when
// new, in a connection table sized and flagged as the balancer's.
class MinimalTarget {
 public:
  explicit MinimalTarget(const TargetOptions& o) {
    skel_.reset(xlb_minimal__open());
    if (!skel_) throw_errno(errno, "opening the minimal object");
    shape_flow_table(skel_->maps.flows, o);
    if (int err = xlb_minimal__load(skel_.get())) throw_errno(-err, "loading the minimal programs");
    for (int i = 0; i < 6; ++i) skel_->bss->next_hop[i] = o.real_mac[i];
    bpf_program* prog = o.program == "minimal_table" ? skel_->progs.xlb_minimal_table : skel_->progs.xlb_minimal;
    link_.reset(bpf_program__attach_xdp(prog, device_index(o.device)));
    if (!link_) throw_errno(errno, "attaching the " + o.program + " program to " + o.device);
  }

 private:
  std::unique_ptr<xlb_minimal, MinimalDeleter> skel_;
  std::unique_ptr<bpf_link, LinkDeleter> link_;
};

int run(int argc, char** argv) {
  TargetOptions o;
  std::string real_mac = "02:00:00:00:02:01";
  CLI::App app{"xlb-pktgen-target: load the balancer or the minimal baseline on an interface for a benchmark"};
  app.footer("Exit status: 0 stopped by SIGINT/SIGTERM; 1 failed; " + std::to_string(kExitRefused) +
             " the kernel refused loading or attaching the program (one line on stderr says what and why; see "
             "docs/operations.md); 100 and above: a usage error.");
  app.add_option("-i,--dev", o.device, "interface to attach to")->required();
  app.add_option("--program", o.program, "balancer, minimal, or minimal_table (minimal with the connection table)")
      ->check(CLI::IsMember({"balancer", "minimal", "minimal_table"}));
  app.add_option("--vip", o.vip, "the service address");
  app.add_option("--port", o.port, "the service port");
  app.add_option("--proto", o.proto, "tcp or udp")->check(CLI::IsMember({"tcp", "udp"}));
  app.add_option("--reals", o.reals, "real servers behind the same interface")->check(CLI::Range(1u, 4000u));
  app.add_option("--real-mac", real_mac, "MAC of the first real (the next ones count up)");
  app.add_option("--max-flows", o.max_flows, "flows the connection table holds (as xdp_max_flows)");
  app.add_option("--flow-lru", o.flow_lru, "the connection table's LRU lists, as xdp_flow_lru")
      ->check(CLI::IsMember({"shared", "per_cpu"}));
  app.add_option("--tunnel", o.tunnel,
                 "lb_kind TUN: none (DR), ipip or gue (reals 198.18.2.N or 2001:db8::2:N, next hop from the FIB)")
      ->check(CLI::IsMember({"none", "ipip", "gue"}));
  app.add_option("--tunnel-src", o.tunnel_src, "the outer source address (with --tunnel)");
  CLI11_PARSE(app, argc, argv);
  o.real_mac = parse_mac(real_mac);
  if (o.tunnel != "none" && (o.program != "balancer" || o.tunnel_src.empty())) {
    std::cerr << "xlb-pktgen-target: --tunnel needs --program balancer and --tunnel-src\n";
    return 100;
  }

  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  std::unique_ptr<BalancerTarget> balancer;
  std::unique_ptr<MinimalTarget> minimal;
  if (o.program == "balancer") {
    balancer = std::make_unique<BalancerTarget>(o);
  } else {
    minimal = std::make_unique<MinimalTarget>(o);
  }
  auto report = [&](const char* event) {
    nlohmann::json line = {{"event", event}, {"program", o.program}, {"device", o.device}};
    if (balancer) line["counters"] = balancer->counters();
    std::cout << line.dump() << std::endl;
  };
  report("ready");
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    report(sig == SIGUSR1 ? "counters" : "exit");
    if (sig != SIGUSR1) return 0;
  }
}

}  // namespace
}  // namespace xlb::pktgen

int main(int argc, char** argv) {
  try {
    return xlb::pktgen::run(argc, argv);
  } catch (const xlb::pktgen::KernelRefusal& e) {
    std::fprintf(stderr,
                 "xlb-pktgen-target: the kernel refused %s (%s); the program cannot be attached here. Needs root "
                 "with CAP_BPF/CAP_SYS_ADMIN, CAP_PERFMON and CAP_NET_ADMIN; see docs/operations.md\n",
                 e.step().c_str(), std::strerror(e.code().value()));
    return xlb::pktgen::kExitRefused;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xlb-pktgen-target: %s\n", e.what());
    return 1;
  }
}
