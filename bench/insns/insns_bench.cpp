// xlb-bench-insns: instruction counts of the hot paths, free of timing noise.
//   bpf            verifier statistics of every BPF program (root: loads them on a private bpffs)
//   user OP -n K   runs OP K times between CALLGRIND_START/STOP_INSTRUMENTATION, so that
//                  `valgrind --tool=callgrind --instr-atstart=no` counts exactly those K
//                  operations (bench/insns/run.sh divides by K). One warm-up run comes first.
// OPs: config-parse (1,000 virtual servers, 4 reals and a TCP_CHECK each, one VRRP instance),
// ring-wrr / ring-maglev (1,000 reals, mixed weights, ring of 4093), sync-encode / sync-decode
// (one full datagram of 20 entries, HMAC-SHA256), health-update (ServiceState, 16 reals, one
// verdict flips per call).
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <valgrind/callgrind.h>

#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "ctrl/check/service_state.hpp"
#include "ctrl/config/config.hpp"
#include "ctrl/dataplane/ring_builder.hpp"
#include "ctrl/sync/sync_codec.hpp"
#include "tests/bpf/support/harness.hpp"
#include "xlb/balancer.skel.h"
#include "xlb/minimal.skel.h"
#include "xlb/pass.skel.h"

namespace {

using Json = nlohmann::json;
namespace dp = xlb::dataplane;

// ---- BPF: what the verifier and the JIT say about each program.

Json prog_json(int fd, const std::string& verifier_log) {
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) throw std::runtime_error("bpf_obj_get_info_by_fd");
  Json j{{"verified_insns", info.verified_insns},
         {"xlated_insns", info.xlated_prog_len / 8},
         {"jited_bytes", info.jited_prog_len}};
  // BPF_LOG_STATS ends with: "processed N insns (limit 1000000) max_states_per_insn M
  // total_states T peak_states P mark_read R" and "verification time U usec".
  std::istringstream in(verifier_log);
  std::string line;
  while (std::getline(in, line)) {
    unsigned long processed = 0, max_states = 0, total = 0, peak = 0, mark = 0, usec = 0, limit = 0;
    if (std::sscanf(line.c_str(), "processed %lu insns (limit %lu) max_states_per_insn %lu total_states %lu "
                                  "peak_states %lu mark_read %lu",
                    &processed, &limit, &max_states, &total, &peak, &mark) == 6) {
      j["processed_insns"] = processed;
      j["max_states_per_insn"] = max_states;
      j["total_states"] = total;
      j["peak_states"] = peak;
    }
    if (std::sscanf(line.c_str(), "verification time %lu usec", &usec) == 1) j["verification_usec"] = usec;
    if (line.find("stack depth") == 0) j["stack_depth"] = line.substr(12);
  }
  return j;
}

template <class Skel>
Json load_with_stats(Skel* (*open)(const bpf_object_open_opts*), int (*load)(Skel*), void (*destroy)(Skel*),
                     const std::function<int(Skel*)>& fd_of, const std::string& pin_root) {
  static char buf[1 << 20];
  bpf_object_open_opts o{};
  o.sz = sizeof(o);
  o.pin_root_path = pin_root.c_str();
  o.kernel_log_buf = buf;
  o.kernel_log_size = sizeof(buf);
  o.kernel_log_level = 4;  // BPF_LOG_STATS only
  buf[0] = 0;
  Skel* skel = open(&o);
  if (!skel) throw std::runtime_error("open skeleton");
  if (load(skel) != 0) {
    destroy(skel);
    throw std::runtime_error("load BPF program");
  }
  Json j = prog_json(fd_of(skel), buf);
  destroy(skel);
  return j;
}

Json bpf_stats() {
  xlb::bpftest::BpfFsMount fs("bench-insns");
  Json progs;
  progs["xlb_balancer"] = load_with_stats<xlb_balancer>(
      xlb_balancer__open_opts, xlb_balancer__load, xlb_balancer__destroy,
      [](xlb_balancer* s) { return bpf_program__fd(s->progs.xlb_balancer); }, fs.path());
  progs["xlb_minimal"] = load_with_stats<xlb_minimal>(
      xlb_minimal__open_opts, xlb_minimal__load, xlb_minimal__destroy,
      [](xlb_minimal* s) { return bpf_program__fd(s->progs.xlb_minimal); }, fs.path());
  progs["xlb_pass"] = load_with_stats<xlb_pass>(
      xlb_pass__open_opts, xlb_pass__load, xlb_pass__destroy,
      [](xlb_pass* s) { return bpf_program__fd(s->progs.xlb_pass); }, fs.path());
  return progs;
}

// ---- User space: the operations callgrind counts.

std::string large_config() {
  std::ostringstream c;
  c << "global_defs {\n    router_id bench\n}\n"
       "vrrp_instance VI_1 {\n    state MASTER\n    interface eth0\n    virtual_router_id 51\n    priority 100\n"
       "    advert_int 1\n    virtual_ipaddress {\n        198.18.64.1/32\n    }\n}\n";
  for (int i = 0; i < 1000; ++i) {
    c << "virtual_server 198.18." << 64 + i / 250 << "." << i % 250 + 1 << " 80 {\n"
      << "    delay_loop 6\n    lb_algo wrr\n    lb_kind DR\n    persistence_timeout 300\n    protocol TCP\n";
    for (int r = 0; r < 4; ++r) {
      c << "    real_server 198.18.0." << 11 + r << " 80 {\n        weight " << 1 + r << "\n"
        << "        TCP_CHECK {\n            connect_timeout 3\n            retry 2\n"
        << "            delay_before_retry 2\n        }\n    }\n";
    }
    c << "}\n";
  }
  return c.str();
}

std::vector<dp::RingMember> members(int n) {
  std::vector<dp::RingMember> m;
  for (int i = 0; i < n; ++i) {
    m.push_back({static_cast<std::uint32_t>(i + 1), static_cast<std::uint32_t>(1 + i % 7),
                 "198.18." + std::to_string(8 + i / 250) + "." + std::to_string(i % 250 + 1) + ":80"});
  }
  return m;
}

xlb::sync::SyncPacket sync_batch() {
  xlb::sync::SyncPacket p;
  p.header = {7, 0x1234, 1, 1};
  for (std::size_t i = 0; i < xlb::sync::max_entries_per_packet; ++i) {
    xlb::sync::SyncEntry e;
    e.vip = boost::asio::ip::make_address("198.18.64.1");
    e.vip_port = e.service_port = 80;
    e.client = boost::asio::ip::make_address("198.19.0." + std::to_string(i + 1));
    e.client_port = static_cast<std::uint16_t>(40000 + i);
    e.real = boost::asio::ip::make_address("198.18.0.11");
    e.real_port = 80;
    p.entries.push_back(e);
  }
  return p;
}

xlb::check::VirtualServerSettings health_settings() {
  xlb::check::VirtualServerSettings s;
  s.name = "198.18.64.1:80";
  s.spec.key.address = boost::asio::ip::make_address("198.18.64.1");
  s.spec.key.port = 80;
  for (int i = 0; i < 16; ++i) {
    xlb::check::RealSettings r;
    r.address = boost::asio::ip::make_address("198.18.0." + std::to_string(11 + i));
    r.port = 80;
    r.weight = 1 + i % 3;
    r.checks.push_back({});
    s.reals.push_back(r);
  }
  return s;
}

// Returns something derived from the result so the work cannot be optimised away.
using Op = std::function<std::size_t()>;

std::map<std::string, std::pair<std::string, std::function<Op()>>> operations() {
  return {
      {"config-parse",
       {"load_string + validate of 1,000 virtual servers x 4 reals with TCP_CHECK (" +
            std::to_string(large_config().size()) + " bytes)",
        [] {
          return Op([text = large_config()] {
            const auto r = xlb::config::load_string(text, "bench.conf");
            if (!r.ok()) throw std::runtime_error("the generated configuration has errors");
            return r.config.virtual_servers.size();
          });
        }}},
      {"ring-wrr",
       {"build_wrr_ring, 1,000 reals, weights 1..7, max 4093",
        [] { return Op([m = members(1000)] { return dp::build_wrr_ring(m, 4093).size(); }); }}},
      {"ring-maglev",
       {"build_maglev_ring, 1,000 reals, weights 1..7, size 4093",
        [] { return Op([m = members(1000)] { return dp::build_maglev_ring(m, 4093).size(); }); }}},
      {"sync-encode",
       {"sync::encode of one datagram of 20 flow entries with HMAC-SHA256",
        [] {
          return Op([p = sync_batch(), key = xlb::sync::derive_key("secret")] {
            return xlb::sync::encode(p, key).size();
          });
        }}},
      {"sync-decode",
       {"sync::decode (MAC checked) of one datagram of 20 flow entries",
        [] {
          const auto key = xlb::sync::derive_key("secret");
          return Op([key, wire = xlb::sync::encode(sync_batch(), key)] {
            std::error_code ec;
            const auto p = xlb::sync::decode(wire, key, ec);
            if (!p) throw std::runtime_error("decode failed: " + ec.message());
            return p->entries.size();
          });
        }}},
      {"health-update",
       {"check::ServiceState::update, 16 reals, one verdict flips (new dataplane spec each call)",
        [] {
          auto state = std::make_shared<xlb::check::ServiceState>(
              health_settings(), std::vector<xlb::check::RealVerdict>(16));
          auto verdicts = std::make_shared<std::vector<xlb::check::RealVerdict>>(16);
          auto n = std::make_shared<std::size_t>(0);
          return Op([state, verdicts, n] {
            auto& v = (*verdicts)[(*n)++ % 16];
            v.up = !v.up;
            const auto a = state->update(*verdicts);
            return a.apply ? a.apply->reals.size() : 0;
          });
        }}},
  };
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xlb-bench-insns: instruction counts of the hot paths"};
  app.require_subcommand(1);
  auto* bpf = app.add_subcommand("bpf", "verifier statistics of the BPF programs (JSON on stdout)");
  auto* list = app.add_subcommand("list", "the user-space operations, one per line: NAME<TAB>description");
  auto* user = app.add_subcommand("user", "run one operation K times under callgrind's instrumentation");
  std::string op;
  int iterations = 100;
  user->add_option("op", op)->required();
  user->add_option("-n,--iterations", iterations)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    if (bpf->parsed()) {
      libbpf_set_print(nullptr);
      std::cout << Json{{"programs", bpf_stats()}}.dump(2) << "\n";
    }
    if (list->parsed()) {
      for (const auto& [name, entry] : operations()) std::cout << name << "\t" << entry.first << "\n";
    }
    if (user->parsed()) {
      const auto ops = operations();
      const auto it = ops.find(op);
      if (it == ops.end()) throw std::invalid_argument("unknown operation " + op);
      auto run = it->second.second();
      std::size_t sink = run();  // warm-up: first-call costs (lazy binding, static init) stay out
      CALLGRIND_ZERO_STATS;
      CALLGRIND_START_INSTRUMENTATION;
      for (int i = 0; i < iterations; ++i) sink += run();
      CALLGRIND_STOP_INSTRUMENTATION;
      std::cout << op << " " << iterations << " " << sink << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "xlb-bench-insns: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
