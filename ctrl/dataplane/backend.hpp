// The dataplane as the rest of xlbd sees it: a set of virtual services, each with its real
// servers. Two implementations: XdpBackend (BPF maps) and IpvsBackend (kernel IPVS).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <system_error>
#include <utility>
#include <vector>

#include "xlb/asio.hpp"

namespace xlb::dataplane {

using IpAddress = boost::asio::ip::address;

enum class Protocol : std::uint8_t { tcp = 6, udp = 17 };
enum class Scheduler { rr, wrr, sh, mh, lc, wlc };  // lc/wlc: IPVS backend only
// nat: IPVS backend only; tun: both (the XDP program does ipip and gue, see TunnelSpec);
// local: a real at an address of this node (IPVS's "Local"), as a
// backend reports it (the configuration says dr, and the backend finds the address local)
enum class Forwarding { dr, nat, tun, local };

struct ServiceKey {
  IpAddress address;
  std::uint16_t port = 0;  // 0: all ports
  Protocol protocol = Protocol::tcp;
  std::uint32_t fwmark = 0;  // IPVS only: service by firewall mark instead of address
  bool operator==(const ServiceKey&) const = default;
  // asio's address has no <=>, so ordering is spelled out.
  bool operator<(const ServiceKey& o) const {
    return std::tie(address, port, protocol, fwmark) < std::tie(o.address, o.port, o.protocol, o.fwmark);
  }
};

struct RealServer {
  IpAddress address;
  std::uint16_t port = 0;
  std::uint32_t weight = 1;  // 0 = quiesced: keeps its flows, gets no new ones
  Forwarding forwarding = Forwarding::dr;
  bool operator==(const RealServer&) const = default;
  bool operator<(const RealServer& o) const {
    return std::tie(address, port, weight, forwarding) < std::tie(o.address, o.port, o.weight, o.forwarding);
  }
};

// How a service's Forwarding::tun reals are encapsulated (keepalived's lvs_method TUN options).
struct TunnelSpec {
  enum class Type : std::uint8_t { ipip, gue, gre };
  enum class Checksum : std::uint8_t { none, csum, remcsum };
  struct SourcePrefix {
    IpAddress address;
    std::uint8_t prefix = 32;
    bool operator==(const SourcePrefix&) const = default;
  };
  Type type = Type::ipip;
  std::uint16_t port = 0;  // gue: the real's UDP port
  Checksum checksum = Checksum::none;
  // The outer source per family, host bits from the flow hash; none: the egress's address.
  std::vector<SourcePrefix> sources;
  bool operator==(const TunnelSpec&) const = default;
};

struct ServiceSpec {
  ServiceKey key;
  Scheduler scheduler = Scheduler::wrr;
  std::uint32_t persistence_timeout = 0;      // seconds, 0 = off
  std::uint8_t persistence_prefix_len = 255;  // 255 = host (/32 or /128)
  std::optional<RealServer> sorry_server;
  std::vector<RealServer> reals;  // every configured real; weight 0 or absent = no new flows
  TunnelSpec tunnel;              // for reals with Forwarding::tun
  bool active = true;             // this node forwards for it (VRRP master, or no VRRP)
  bool operator==(const ServiceSpec&) const = default;
};

struct TrafficCounters {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t new_flows = 0;
};

struct RealStats {
  RealServer real;
  TrafficCounters counters;
};

struct ServiceStats {
  ServiceKey key;
  TrafficCounters counters;
  std::vector<RealStats> reals;
};

struct Flow {
  IpAddress client;
  std::uint16_t client_port = 0;
  ServiceKey service;
  IpAddress real;
  std::chrono::nanoseconds age{0};   // since the first packet
  std::chrono::nanoseconds idle{0};  // since the last packet
};

// What the flow census reads: every connection-table entry, and per (service, real address)
// the flows that carried a packet within an active window.
struct FlowCounts {
  std::uint64_t flows = 0;
  // Per (service, real): entries with a packet within the active window, and of those the
  // established connections (ipvsadm's ActiveConn; the rest are its InActConn). A backend that
  // cannot tell leaves `established` empty.
  std::map<std::pair<ServiceKey, IpAddress>, std::uint64_t> active;
  std::map<std::pair<ServiceKey, IpAddress>, std::uint64_t> established;
};

// Counts `flows` as the census does: an entry is active while its idle time is below
// `active_window`.
inline FlowCounts count_flows(const std::vector<Flow>& flows, std::chrono::nanoseconds active_window) {
  FlowCounts out;
  out.flows = flows.size();
  for (const auto& f : flows) {
    if (f.idle < active_window) ++out.active[{f.service, f.real}];
  }
  return out;
}

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Creates or updates a service; reals and weights change atomically for new flows.
  virtual void apply(const ServiceSpec& spec) = 0;
  virtual void remove(const ServiceKey& key) = 0;
  // Ends the flows (connection and persistence entries) that point at a real server.
  virtual void flush_flows_to(const ServiceKey& key, const IpAddress& real) = 0;
  virtual std::vector<ServiceStats> stats() = 0;
  virtual std::vector<Flow> flows() = 0;
  // The same counts as count_flows(flows(), active_window); a backend with a large table
  // counts without building a Flow per entry.
  virtual FlowCounts count_flows(std::chrono::nanoseconds active_window) {
    return dataplane::count_flows(flows(), active_window);
  }
};

}  // namespace xlb::dataplane
