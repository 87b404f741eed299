// Flow-sync benchmark over real UDP on loopback (encode + HMAC + send; receive + verify +
// replay check + install hook). Two parts, printed as one JSON object:
//   "sync": unpaced throughput (the send budget set far above what the machine can do):
//     flows replicated per second, the master's CPU per flow, bytes on the wire per flow;
//   "takeover": a new master's whole table sent at the default budget (20,000 datagrams/s),
//     master and backup on their own threads as two nodes would be: how long the table takes,
//     datagrams and slices, the peak datagram rate the backup saw, CPU per flow on each side,
//     and entries lost (the backup counts every flow it installs).
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrl/sync/flow_sync.hpp"

namespace {

namespace asio = boost::asio;
using namespace xlb;
using Clock = std::chrono::steady_clock;

double thread_cpu_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::uint16_t free_port() {
  asio::io_context io;
  asio::ip::udp::socket s(io, asio::ip::udp::endpoint(asio::ip::udp::v4(), 0));
  return s.local_endpoint().port();
}

std::vector<dataplane::SyncedFlow> make_table(std::size_t flows) {
  std::vector<dataplane::SyncedFlow> table;
  table.reserve(flows);
  for (std::size_t i = 0; i < flows; ++i) {
    dataplane::SyncedFlow f;
    f.service.address = asio::ip::make_address("198.18.0.100");
    f.service.port = 80;
    f.vip = f.service.address;
    f.vip_port = 80;
    asio::ip::address_v4::bytes_type c{198, 19, static_cast<unsigned char>(i >> 24), static_cast<unsigned char>(i >> 16)};
    f.client = asio::ip::address_v4(c);
    f.client_port = static_cast<std::uint16_t>(i);
    f.real = asio::ip::make_address(i % 2 ? "198.18.0.11" : "198.18.0.12");
    f.real_port = 80;
    f.created_ns = f.last_seen_ns = 1;
    table.push_back(f);
  }
  return table;
}

sync::FlowSyncSettings settings(std::uint16_t port, std::uint16_t peer, std::uint32_t rate) {
  sync::FlowSyncSettings s;
  s.interface = "lo";
  s.instance = "VI_1";
  s.key = sync::derive_key("bench");
  s.peers = {asio::ip::make_address("127.0.0.1")};
  s.port = port;
  s.peer_port = peer;
  s.scan_interval = std::chrono::hours(1);
  s.max_datagrams_per_second = rate;
  return s;
}

// UDP + IPv4 + Ethernet headers and FCS on top of each datagram.
double wire_bytes(const sync::FlowSyncCounters& c) {
  return static_cast<double>(c.bytes_sent) + static_cast<double>(c.packets_sent) * (8 + 20 + 14 + 4);
}

nlohmann::json measure_unpaced(std::size_t flows) {
  asio::io_context io;
  const auto a = free_port(), b = free_port();
  const auto table = make_table(flows);
  std::size_t installed = 0;
  // A budget no machine reaches: the whole table leaves in the scan's own slice.
  constexpr std::uint32_t unlimited = 1'000'000'000;
  sync::FlowSync master(io.get_executor(), settings(a, b, unlimited),
                        {[&](std::uint64_t) { return table; }, [](const dataplane::SyncedFlow&) { return true; }, {}});
  sync::FlowSync backup(io.get_executor(), settings(b, a, unlimited),
                        {[](std::uint64_t) { return std::vector<dataplane::SyncedFlow>{}; },
                         [&](const dataplane::SyncedFlow&) { return ++installed, true; }, {}});
  master.set_master(true);
  master.start();
  backup.start();
  // Master and backup alternate on one thread in slices, so the backup drains its socket
  // while the master sends.
  const auto start = Clock::now();
  const double cpu0 = thread_cpu_s();
  master.scan_now();
  const double master_cpu = thread_cpu_s() - cpu0;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (installed < flows && Clock::now() < deadline) io.run_for(std::chrono::milliseconds(5));
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  const auto& c = master.counters();
  return {{"flows", flows},
          {"datagrams", c.packets_sent},
          {"installed", installed},
          {"lost", flows - installed},
          {"seconds", wall},
          {"flows_per_second", static_cast<double>(installed) / wall},
          {"master_cpu_ns_per_flow", master_cpu * 1e9 / static_cast<double>(flows)},
          {"master_flows_per_cpu_second", static_cast<double>(flows) / master_cpu},
          {"wire_bytes_per_flow", wire_bytes(c) / static_cast<double>(c.entries_sent)}};
}

// Most events inside any window of the given length.
std::size_t peak_in(const std::vector<Clock::time_point>& t, Clock::duration window) {
  std::size_t best = 0, j = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    while (t[i] - t[j] >= window) ++j;
    best = std::max(best, i - j + 1);
  }
  return best;
}

nlohmann::json measure_takeover(std::size_t flows, std::uint32_t rate) {
  const auto a = free_port(), b = free_port();
  const auto table = make_table(flows);
  asio::io_context master_io, backup_io;
  std::atomic<std::size_t> installed{0};
  std::vector<Clock::time_point> arrivals;  // one per datagram, on the backup's thread
  arrivals.reserve(flows / sync::max_entries_per_packet + 16);
  sync::FlowSync master(master_io.get_executor(), settings(a, b, rate),
                        {[&](std::uint64_t) { return table; }, [](const dataplane::SyncedFlow&) { return true; }, {}});
  sync::FlowSync* backup_ptr = nullptr;
  std::uint64_t seen = 0;
  sync::FlowSync backup(backup_io.get_executor(), settings(b, a, rate),
                        {[](std::uint64_t) { return std::vector<dataplane::SyncedFlow>{}; },
                         [&](const dataplane::SyncedFlow&) {
                           if (backup_ptr->counters().packets_received != seen) {
                             seen = backup_ptr->counters().packets_received;
                             arrivals.push_back(Clock::now());
                           }
                           installed.fetch_add(1, std::memory_order_relaxed);
                           return true;
                         },
                         {}});
  backup_ptr = &backup;
  master.set_master(true);
  master.start();
  backup.start();

  double master_cpu = 0, backup_cpu = 0;
  const auto start = Clock::now();
  std::thread backup_thread([&] {
    const double c0 = thread_cpu_s();
    auto guard = asio::make_work_guard(backup_io);
    backup_io.run();
    backup_cpu = thread_cpu_s() - c0;
  });
  std::thread master_thread([&] {
    const double c0 = thread_cpu_s();
    auto guard = asio::make_work_guard(master_io);
    asio::post(master_io, [&] { master.scan_now(); });
    master_io.run();
    master_cpu = thread_cpu_s() - c0;
  });
  const auto deadline = start + std::chrono::seconds(60);
  while (installed.load() < flows && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  // Late datagrams would still be counted: give them a moment before stopping.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  asio::post(master_io, [&] { master.stop(); master_io.stop(); });
  asio::post(backup_io, [&] { backup.stop(); backup_io.stop(); });
  master_thread.join();
  backup_thread.join();

  const auto& c = master.counters();
  const double datagrams = static_cast<double>(c.packets_sent);
  const std::size_t got = installed.load();
  // First to last arrival at the backup.
  const double span = arrivals.size() < 2 ? 0 : std::chrono::duration<double>(arrivals.back() - arrivals.front()).count();
  return {{"flows", flows},
          {"max_datagrams_per_second", rate},
          {"datagrams", c.packets_sent},
          {"slices", c.slices},
          {"entries_deferred", c.entries_deferred},
          {"entries_dropped", c.entries_dropped},
          {"datagrams_received", backup.counters().packets_received},
          {"installed", got},
          {"lost", flows - std::min(flows, got)},
          {"seconds", wall},
          {"flows_per_second", static_cast<double>(got) / wall},
          {"average_datagrams_per_second", span > 0 ? (static_cast<double>(arrivals.size()) - 1) / span : 0.0},
          {"peak_datagrams_in_any_second", peak_in(arrivals, std::chrono::seconds(1))},
          {"peak_datagrams_per_second_100ms", static_cast<double>(peak_in(arrivals, std::chrono::milliseconds(100))) * 10},
          {"peak_wire_mbytes_in_any_second",
           static_cast<double>(peak_in(arrivals, std::chrono::seconds(1))) * wire_bytes(c) / datagrams / 1e6},
          {"master_cpu_ns_per_flow", master_cpu * 1e9 / static_cast<double>(flows)},
          {"backup_cpu_ns_per_flow", backup_cpu * 1e9 / static_cast<double>(flows)},
          {"wire_bytes_per_flow", wire_bytes(c) / static_cast<double>(c.entries_sent)}};
}

}  // namespace

int main(int argc, char** argv) {
  nlohmann::json out;
  out["sync"] = nlohmann::json::array();
  for (std::size_t n : {1000u, 10000u, 100000u}) out["sync"].push_back(measure_unpaced(n));
  out["takeover"] = nlohmann::json::array();
  for (std::size_t n : {100'000u, 1'000'000u}) out["takeover"].push_back(measure_takeover(n, sync::default_sync_rate));
  if (argc > 1 && std::string(argv[1]) == "--pretty") {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%s\n", out.dump().c_str());
  }
}
