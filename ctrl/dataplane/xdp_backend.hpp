// The Backend on top of the XDP balancer: services become vips entries with a
// double-buffered scheduler ring, (service, real) pairs become reals entries with their
// layer-2 addresses, statistics and flows are read back from the per-CPU and LRU maps.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ctrl/dataplane/backend.hpp"
#include "ctrl/dataplane/bpf_program.hpp"
#include "ctrl/dataplane/map_codec.hpp"
#include "ctrl/dataplane/neighbour_resolver.hpp"
#include "ctrl/dataplane/pending_traffic.hpp"
#include "ctrl/dataplane/xdp_attachment.hpp"

namespace xlb::dataplane {

struct XdpBackendOptions {
  BpfProgramOptions program;
  std::vector<std::string> interfaces;  // where the balancer is attached (native mode)
  XdpAttachOptions attach;
  // How long apply() waits for ARP/ND of an unknown real; one that does not answer stays
  // out of the ring until its neighbour entry appears (followed through watch()).
  std::chrono::milliseconds resolve_timeout{2000};
  // How often every real's neighbour entry is probed while the io_context runs (0: never).
  std::chrono::seconds neighbour_refresh{30};
};

// A flow-table or persistence entry in node-independent form (for flow sync between LB
// nodes, whose map ids differ). Times are CLOCK_MONOTONIC ns of this node.
struct SyncedFlow {
  bool persist = false;      // persistence template: client is masked, ports are 0
  ServiceKey service;        // the virtual server (port 0: all ports)
  IpAddress vip;             // the flow's destination address and port
  std::uint16_t vip_port = 0;
  IpAddress client;
  std::uint16_t client_port = 0;
  IpAddress real;
  std::uint16_t real_port = 0;
  std::uint64_t created_ns = 0;
  std::uint64_t last_seen_ns = 0;
};

class XdpBackend : public Backend {
 public:
  // Loads and attaches; netlink sockets and interfaces are those of the calling thread's
  // network namespace. Neighbour changes are followed while `io` runs.
  XdpBackend(boost::asio::io_context& io, XdpBackendOptions options);
  ~XdpBackend() override;

  std::string name() const override { return "xdp"; }
  void apply(const ServiceSpec& spec) override;
  void remove(const ServiceKey& key) override;
  void flush_flows_to(const ServiceKey& key, const IpAddress& real) override;
  std::vector<ServiceStats> stats() override;
  std::vector<Flow> flows() override;
  // By ids first (FlowCounter), names once per (service, real) at the end.
  FlowCounts count_flows(std::chrono::nanoseconds active_window) override;
  // Persistence templates: client (masked by the granularity), service, real, idle time.
  std::vector<Flow> persistence();

  // After a restart over existing pins, the first apply() of each service takes over its
  // previous VIP id and real ids, so established flows keep their real servers. Call this
  // once the whole configuration is applied: what nobody took over is removed.
  void retire_orphans();

  // Flow sync: entries last used at or after since_ns (monotonic), with addresses instead of
  // ids; entries of unknown services or reals are left out.
  std::vector<SyncedFlow> synced_flows(std::uint64_t since_ns) const;
  // Writes a peer's entry with this node's ids. false: the service or real is not configured
  // here (counted by the caller).
  //  - take_over (a VRRP backup): the peer's entry replaces this node's, last used now;
  //  - keep_own (flow_sync_peers): an entry this node has for another real stays (it forwards
  //    that flow itself now); the copy is stamped last used at `stamp_ns` (no later than an
  //    entry it refreshes), old enough that this node's next sync scan does not send it back.
  enum class SyncedInstall { take_over, keep_own };
  bool install_synced(const SyncedFlow& flow, SyncedInstall how = SyncedInstall::take_over, std::uint64_t stamp_ns = 0);

  // Probes every real's neighbour entry now (the timer does this every neighbour_refresh).
  void refresh_neighbours();

  // Global per-action / per-drop-reason counters, summed over CPUs (enum xlb_counter), with
  // what the flow cache still holds.
  std::array<std::uint64_t, XLB_CTR_MAX> counters() const;
  // stats() and counters() from one read of the flow cache's pending counts: figures that agree
  // with each other (a metrics page), for one walk of the cache instead of two.
  struct Traffic {
    std::vector<ServiceStats> services;
    std::array<std::uint64_t, XLB_CTR_MAX> counters{};
  };
  Traffic traffic() const;
  // false: leave the program attached when the backend goes (a restart keeps forwarding
  // with the pinned maps; the next XdpBackend takes the interface over).
  // Detaching also removes the pins: the flows they hold would be stale by the next start.
  void set_detach_on_exit(bool detach) {
    for (auto& a : attachments_) a->set_detach_on_destroy(detach);
    unpin_on_destroy_ = detach;
  }
  BpfProgram& program() { return *program_; }
  const std::vector<std::unique_ptr<XdpAttachment>>& attachments() const { return attachments_; }

 private:
  PendingTraffic pending_traffic() const;
  std::vector<ServiceStats> stats(const PendingTraffic& pending) const;
  std::array<std::uint64_t, XLB_CTR_MAX> counters(const PendingTraffic& pending) const;
  void write_vip_state(std::uint32_t vip_id, std::uint32_t flags);
  void drop_cached_flows();
  using RealKey = std::pair<IpAddress, std::uint16_t>;
  struct RealSlot {
    RealServer real;
    std::uint32_t id = 0;
    Egress egress;
    std::optional<MacAddress> mac;  // nullopt: not resolved yet, so not in the ring
    bool adjacent = true;           // false: a route change put it behind a gateway (no MAC until back)
    std::optional<TunnelSpec> tunnel;  // Forwarding::tun: encapsulated, `mac` is the next hop's
    // A local real needs no MAC: its packets go to this node's stack.
    bool usable() const { return mac.has_value() || egress.local; }
    // Whose neighbour entry the real needs: a tunnel real's next hop, else the real itself.
    const IpAddress& neighbour() const { return egress.next_hop(real.address); }
  };
  struct Service {
    ServiceSpec spec;
    std::uint32_t vip_id = 0;
    std::uint32_t live_slot = 0;
    bool written = false;  // the vips entry exists
    std::map<RealKey, RealSlot> reals;
    std::optional<RealSlot> sorry;
  };
  // Who a vip id and a real id are, for reading the maps back.
  struct Directory {
    std::map<std::uint32_t, const Service*> by_vip;
    std::map<std::uint32_t, IpAddress> real_address;
  };
  Directory directory() const;

  RealSlot make_slot(const RealServer& real, const TunnelSpec& tunnel, const std::optional<RealSlot>& previous);
  Egress route_of(const RealServer& real);
  void write_tunnel(const RealSlot& slot) const;
  void write_real(const RealSlot& slot) const;
  void clear_real(std::uint32_t id);
  void write_ring(const Service& svc, std::uint32_t slot, const std::vector<std::uint32_t>& ring) const;
  std::vector<std::uint32_t> build_ring(const Service& svc) const;
  void publish(Service& svc);
  void flush_real_ids(const std::vector<std::uint32_t>& ids, std::optional<std::uint32_t> vip_id);
  void on_neighbour(const IpAddress& address, int ifindex, const MacAddress& mac);
  void on_routes();
  struct SlotRevision {
    bool rewritten = false;  // the slot's reals entry was written
    bool usability = false;  // the real became usable or unusable: the ring changes
  };
  void revise_slots(Service& svc, const std::function<SlotRevision(RealSlot&)>& revise);
  void add_tx_port(const Egress& egress) const;
  void reset_stats(const BpfMap& map, std::uint32_t id) const;

  void adopt_pins();
  void arm_refresh();
  void attach_all();
  // Off the interfaces, then the pins too when set_detach_on_exit said so.
  void release();

  XdpBackendOptions options_;
  std::unique_ptr<BpfProgram> program_;
  std::vector<std::unique_ptr<XdpAttachment>> attachments_;
  bool unpin_on_destroy_ = false;
  NeighbourResolver resolver_;
  boost::asio::steady_timer refresh_timer_;
  IdPool vip_ids_;
  IdPool real_ids_;
  std::map<ServiceKey, Service> services_;
  // Where each address that slots hold was found, so that a new slot of a known address is a
  // copy instead of three netlink round trips (10,000 services over the same 16 reals asked
  // 160,000 times). The neighbour watch updates it as it does the slots; whatever drops slots
  // or moves routes clears it, so it never names an address that no slot follows.
  struct Resolved {
    Egress egress;
    MacAddress mac;
  };
  // Keyed by the real's address and whether it is reached by tunnel: a DR slot needs the real's
  // own MAC on a link, a TUN slot the gateway's, and one address may be both in two services.
  std::map<std::pair<IpAddress, bool>, Resolved> resolved_;
  // From pins of an earlier run, not yet claimed by a service of this run.
  std::map<ServiceKey, std::pair<std::uint32_t, std::uint32_t>> orphan_vips_;  // -> vip id, live slot
  std::map<std::pair<std::uint32_t, IpAddress>, std::uint32_t> orphan_reals_;   // (vip id, addr) -> id
};

}  // namespace xlb::dataplane
