// Flow-sync throughput: a master FlowSync replicates a table of N new flows to a backup
// FlowSync over real UDP on loopback (encode + HMAC + send, receive + verify + replay check +
// install hook). Prints one JSON object per table size: flows replicated per second, the
// master's CPU per flow, bytes on the wire per flow, and how many arrived (a burst larger than
// the backup's socket buffer loses datagrams: those flows wait for their refresh).
#include <time.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "ctrl/sync/flow_sync.hpp"

namespace {

namespace asio = boost::asio;
using namespace xlb;

double thread_cpu_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::uint16_t free_port(asio::io_context& io) {
  asio::ip::udp::socket s(io, asio::ip::udp::endpoint(asio::ip::udp::v4(), 0));
  return s.local_endpoint().port();
}

nlohmann::json measure(std::size_t flows) {
  asio::io_context io;
  const auto a = free_port(io), b = free_port(io);
  std::vector<dataplane::SyncedFlow> table;
  table.reserve(flows);
  for (std::size_t i = 0; i < flows; ++i) {
    dataplane::SyncedFlow f;
    f.service.address = asio::ip::make_address("198.18.0.100");
    f.service.port = 80;
    f.vip = f.service.address;
    f.vip_port = 80;
    asio::ip::address_v4::bytes_type c{198, 19, static_cast<unsigned char>(i >> 16), static_cast<unsigned char>(i >> 8)};
    f.client = asio::ip::address_v4(c);
    f.client_port = static_cast<std::uint16_t>(i);
    f.real = asio::ip::make_address(i % 2 ? "198.18.0.11" : "198.18.0.12");
    f.real_port = 80;
    f.created_ns = f.last_seen_ns = 1;
    table.push_back(f);
  }
  std::size_t installed = 0;
  auto settings = [](std::uint16_t port, std::uint16_t peer) {
    sync::FlowSyncSettings s;
    s.interface = "lo";
    s.instance = "VI_1";
    s.key = sync::derive_key("bench");
    s.peers = {asio::ip::make_address("127.0.0.1")};
    s.port = port;
    s.peer_port = peer;
    s.scan_interval = std::chrono::hours(1);
    return s;
  };
  sync::FlowSync master(io.get_executor(), settings(a, b),
                        {[&](std::uint64_t) { return table; }, [](const dataplane::SyncedFlow&) { return true; }});
  sync::FlowSync backup(io.get_executor(), settings(b, a),
                        {[](std::uint64_t) { return std::vector<dataplane::SyncedFlow>{}; },
                         [&](const dataplane::SyncedFlow&) { return ++installed, true; }});
  master.set_master(true);
  master.start();
  backup.start();
  // Master and backup alternate on one thread in slices, so the backup drains its socket
  // while the master sends, as two nodes would in parallel.
  const auto start = std::chrono::steady_clock::now();
  const double cpu0 = thread_cpu_s();
  master.scan_now();
  const double master_cpu = thread_cpu_s() - cpu0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (installed < flows && std::chrono::steady_clock::now() < deadline) io.run_for(std::chrono::milliseconds(5));
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& c = master.counters();
  const double packets = static_cast<double>(c.packets_sent);
  // UDP + IPv4 + Ethernet headers and FCS on top of the datagram.
  const double wire = static_cast<double>(c.bytes_sent) + packets * (8 + 20 + 14 + 4);
  return {{"flows", flows},
          {"datagrams", c.packets_sent},
          {"installed", installed},
          {"lost", flows - installed},
          {"seconds", wall},
          {"flows_per_second", static_cast<double>(installed) / wall},
          {"master_cpu_ns_per_flow", master_cpu * 1e9 / static_cast<double>(flows)},
          {"master_flows_per_cpu_second", static_cast<double>(flows) / master_cpu},
          {"wire_bytes_per_flow", wire / static_cast<double>(c.entries_sent)}};
}

}  // namespace

int main(int argc, char** argv) {
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t n : {1000u, 10000u, 100000u}) out.push_back(measure(n));
  if (argc > 1 && std::string(argv[1]) == "--pretty") {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%s\n", out.dump().c_str());
  }
}
