// The dataplane expressed as kernel IPVS services and destinations over generic netlink.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ctrl/dataplane/backend.hpp"
#include "ctrl/dataplane/ipvs/genl_socket.hpp"
#include "ctrl/dataplane/ipvs/messages.hpp"

namespace xlb::dataplane {

// How many netlink changes one apply() made; a second apply of the same spec makes none.
struct IpvsApplyCounts {
  unsigned services_added = 0;
  unsigned services_updated = 0;
  unsigned dests_added = 0;
  unsigned dests_updated = 0;
  unsigned dests_removed = 0;
  unsigned total() const {
    return services_added + services_updated + dests_added + dests_updated + dests_removed;
  }
};

// Not thread-safe: one owner (the dataplane writer) calls it. ServiceSpec::active is not
// looked at: like keepalived, a backup node keeps its IPVS table, and traffic reaches it only
// when VRRP moves the VIP there.
class IpvsBackend : public Backend {
 public:
  // Works in the caller's network namespace. Throws std::system_error when IPVS is absent.
  IpvsBackend();

  std::string name() const override { return "ipvs"; }
  // Reads the service back from the kernel and changes only what differs: new reals are
  // added before old ones leave, so that the service is never without a destination.
  // Throws std::system_error with the kernel's errno when IPVS refuses a change.
  void apply(const ServiceSpec& spec) override;
  void remove(const ServiceKey& key) override;
  // IPVS cannot delete single connections over netlink. This turns on, in this namespace,
  // expire_nodest_conn and expire_quiescent_template, so that the flows and persistence
  // entries of a real that left the table (or was set to weight 0) end at their next
  // packet instead of living on until they idle out.
  void flush_flows_to(const ServiceKey& key, const IpAddress& real) override;
  std::vector<ServiceStats> stats() override;
  std::vector<Flow> flows() override;

  // IPVS-specific views, for tests, xlbctl and a clean start.
  void flush();  // every service in this namespace, also ones xlb did not make
  std::vector<ipvs::KernelService> services();
  std::optional<ipvs::KernelService> service(const ServiceKey& key);
  std::vector<ipvs::KernelDest> dests(const ServiceKey& key);
  const IpvsApplyCounts& last_apply() const { return last_apply_; }

 private:
  void run(ipvs::NlMsgPtr msg, const char* what);

  ipvs::GenlSocket sock_;
  IpvsApplyCounts last_apply_;
};

}  // namespace xlb::dataplane
