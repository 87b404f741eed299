// What a flood of TCP packets that open no connection costs the balancer (issue 27, item 10):
// --flows distinct tuples of one kind each (SYN, the new flows they are; lone ACK, RST, NULL,
// SYN+FIN), sent once each through BPF_PROG_TEST_RUN (repeat=1 calls) into a freshly loaded
// balancer with an empty connection table. Per kind: ns per call, the connection-table entries
// the flood left, and the verdicts. Baselines on the same frames in the same rounds: the minimal
// program (parse + MAC rewrite + XDP_TX, no table) and the table baseline (the same, and every
// frame's flow looked up and inserted into an LRU table sized as the balancer's), i.e. what a
// forwarder that records every packet's tuple pays. Figures are the best of --rounds rounds;
// the ratios are to the SYN row and to the minimal program of the same run.
#include <linux/bpf.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/bpf/support/harness.hpp"
#include "tests/bpf/support/minimal.hpp"

namespace xlb::bench {
namespace {

using bpftest::Address;
using bpftest::Bytes;

const Address kVip4 = Address::parse("198.18.0.10");
const bpftest::Mac kEgress{0x02, 0x1b, 0, 0, 0, 0xee};
constexpr std::uint32_t kLoopback = 1;

struct Options {
  int flows = 50000;  // distinct tuples per kind and round
  int rounds = 3;
  std::uint32_t max_flows = 262144;  // the loader's default
  std::string json_path;
  std::string commit = "unknown";
};

struct Kind {
  const char* name;
  std::uint8_t flags;
};
constexpr Kind kKinds[] = {{"SYN (new flows)", 0x02}, {"ACK", 0x10}, {"RST", 0x04}, {"NULL", 0x00},
                           {"SYN+FIN", 0x03}};

struct Row {
  std::string name;
  double xlb_ns = 1e18;      // kernel duration per repeat=1 call, best round
  double minimal_ns = 1e18;  // the minimal program on the same frames
  double table_ns = 1e18;    // the table baseline on the same frames
  std::size_t entries = 0;   // connection-table entries the balancer held after the flood
  std::uint64_t forwarded = 0;  // XDP_TX verdicts of the balancer, last round
  std::uint64_t dropped = 0;
};

// Mean kernel duration of repeat=1 calls over the frames; counts the verdicts.
double calls(int fd, const std::vector<Bytes>& frames, std::uint64_t* tx = nullptr, std::uint64_t* drop = nullptr) {
  double total = 0;
  for (const Bytes& f : frames) {
    const auto r = bpftest::test_run(fd, f, std::nullopt, 1);
    total += r.duration_ns;
    if (tx && r.action == XDP_TX) ++*tx;
    if (drop && r.action == XDP_DROP) ++*drop;
  }
  return total / static_cast<double>(frames.size());
}

class Flood {
 public:
  explicit Flood(const Options& o) : opts_(o) {}

  std::vector<Row> run() {
    std::vector<Row> rows;
    std::uint32_t base = 0;
    for (const Kind& k : kKinds) {
      Row row{k.name};
      for (int r = 0; r < opts_.rounds; ++r) {
        // Fresh tuples every round and kind: clients 198.19.x.y, 60,000 ports each.
        std::vector<Bytes> frames;
        for (int i = 0; i < opts_.flows; ++i, ++base) {
          bpftest::PacketSpec p;
          p.src = bpftest::client_v4(100 + base / 60000);
          p.dst = kVip4;
          p.sport = static_cast<std::uint16_t>(1024 + base % 60000);
          p.tcp_flags = k.flags;
          p.payload = 10;  // 64-byte frames
          frames.push_back(bpftest::build_packet(p));
        }
        load();
        bpftest::MinimalProgram baseline(opts_.max_flows);
        std::uint64_t tx = 0, drop = 0;
        // Turn about at going first, so that neither always meets the caches the other left.
        double table = 0;
        if (r % 2) table = calls(baseline.table_fd(), frames);
        const double xlb = calls(lb_->prog_fd(), frames, &tx, &drop);
        if (r % 2 == 0) table = calls(baseline.table_fd(), frames);
        const double minimal = calls(baseline.fd(), frames);
        row.xlb_ns = std::min(row.xlb_ns, xlb);
        row.table_ns = std::min(row.table_ns, table);
        row.minimal_ns = std::min(row.minimal_ns, minimal);
        row.entries = lb_->flow_count();
        row.forwarded = tx;
        row.dropped = drop;
        table_entries_ = baseline.table_entries();
        table_filled_ = baseline.table_flows();
      }
      rows.push_back(row);
    }
    return rows;
  }

  std::uint32_t table_entries() const { return table_entries_; }
  std::size_t table_filled() const { return table_filled_; }

 private:
  // A balancer on a fresh bpffs: every flood meets an empty table.
  void load() {
    lb_.reset();
    fs_.reset();
    fs_ = std::make_unique<bpftest::BpfFsMount>("bench-flood");
    bpftest::BalancerOptions b;
    b.max_vips = 256;
    b.max_reals = 4096;
    b.max_flows = opts_.max_flows;
    lb_ = std::make_unique<bpftest::Balancer>(fs_->path(), b);
    std::vector<dataplane::RingMember> members;
    for (std::uint32_t id = 1; id <= 4; ++id) {
      const Address addr = Address::parse("198.18.1." + std::to_string(id));
      lb_->put_real(id, bpftest::make_real({0x02, 0x4e, 0, 0, 0, static_cast<std::uint8_t>(id)}, kEgress, kLoopback,
                                           addr));
      members.push_back({id, 1, addr.str() + ":80"});
    }
    bpftest::ServiceSpec s;
    s.vip = kVip4;
    lb_->configure(s, members);
  }

  Options opts_;
  std::unique_ptr<bpftest::BpfFsMount> fs_;
  std::unique_ptr<bpftest::Balancer> lb_;
  std::uint32_t table_entries_ = 0;
  std::size_t table_filled_ = 0;
};

int run(const Options& o) {
  bpftest::CpuPin pin;
  Flood flood(o);
  const auto rows = flood.run();
  const double syn_ns = rows.front().xlb_ns;
  std::printf("flood: %d distinct tuples per kind, repeat=1 calls, best of %d rounds, CPU %d, commit %s; "
              "table of %u entries\n",
              o.flows, o.rounds, pin.cpu(), o.commit.c_str(), flood.table_entries());
  std::printf("%-16s | %9s %9s %9s | %8s %8s | %9s %9s %9s\n", "TCP kind", "xlb ns", "minimal", "table bl",
              "/minimal", "/SYN", "entries", "forwarded", "dropped");
  nlohmann::json json_rows = nlohmann::json::array();
  for (const Row& r : rows) {
    std::printf("%-16s | %9.1f %9.1f %9.1f | %7.2fx %7.2fx | %9zu %9llu %9llu\n", r.name.c_str(), r.xlb_ns,
                r.minimal_ns, r.table_ns, r.xlb_ns / r.minimal_ns, r.xlb_ns / syn_ns, r.entries,
                static_cast<unsigned long long>(r.forwarded), static_cast<unsigned long long>(r.dropped));
    json_rows.push_back({{"kind", r.name},
                         {"xlb_call_ns", r.xlb_ns},
                         {"minimal_call_ns", r.minimal_ns},
                         {"table_baseline_call_ns", r.table_ns},
                         {"ratio_to_minimal", r.xlb_ns / r.minimal_ns},
                         {"ratio_to_syn", r.xlb_ns / syn_ns},
                         {"table_entries_after", r.entries},
                         {"forwarded", r.forwarded},
                         {"dropped", r.dropped}});
  }
  std::printf("ns: the kernel's duration of a repeat=1 call, the call's fixed cost included (the minimal program "
              "is mostly that); table bl: the minimal program that also inserts every frame's flow (%zu entries "
              "after its last flood)\n",
              flood.table_filled());
  if (!o.json_path.empty()) {
    nlohmann::json doc{{"benchmark", "flood"}, {"commit", o.commit},  {"time", std::time(nullptr)},
                       {"cpu", pin.cpu()},     {"flows", o.flows},    {"rounds", o.rounds},
                       {"max_flows", o.max_flows}, {"rows", json_rows}};
    std::ofstream(o.json_path) << doc.dump(2) << "\n";
    std::printf("wrote %s\n", o.json_path.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace xlb::bench

int main(int argc, char** argv) {
  xlb::bench::Options o;
  CLI::App app{"xlb-bench-flood: TCP floods that open no connection, ns/packet and table fill"};
  app.add_option("--flows", o.flows, "distinct tuples per kind and round")->check(CLI::PositiveNumber);
  app.add_option("--rounds", o.rounds, "rounds; figures are the best")->check(CLI::PositiveNumber);
  app.add_option("--max-flows", o.max_flows, "connection-table size");
  app.add_option("--json", o.json_path, "write the results here");
  app.add_option("--commit", o.commit, "commit to name in the results");
  CLI11_PARSE(app, argc, argv);
  try {
    return xlb::bench::run(o);
  } catch (const std::exception& e) {
    std::cerr << "xlb-bench-flood: " << e.what() << "\n";
    return 1;
  }
}
