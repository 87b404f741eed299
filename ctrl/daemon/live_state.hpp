// The one place where configuration, health verdicts, VRRP ownership and operator overrides
// meet before they reach the dataplane. Data flows one way: inputs change, the effective
// ServiceSpec is recomputed, and the backend is told only when it differs from what it has.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "ctrl/dataplane/backend.hpp"

namespace xlb::daemon {

struct RealRef {
  dataplane::IpAddress address;
  std::uint16_t port = 0;
  bool operator==(const RealRef&) const = default;
  bool operator<(const RealRef& o) const { return std::tie(address, port) < std::tie(o.address, o.port); }
  std::string text() const;
  static RealRef parse(const std::string& text);  // "ADDR:PORT", "[V6]:PORT"; throws
};

class LiveState {
 public:
  explicit LiveState(dataplane::Backend& backend) : backend_(backend) {}

  // Health says what a service should forward to (configured spec, minus failed reals).
  void on_health(const dataplane::ServiceSpec& spec);
  void on_removed(const dataplane::ServiceKey& key);
  // VRRP: whether this node owns a VIP. VIPs no VRRP instance holds are always active.
  void set_vip_owned(const dataplane::IpAddress& vip, bool owned);
  void set_vrrp_managed(std::set<dataplane::IpAddress> vips);

  // Operator overrides (xlbctl weight/drain): kept across reloads until the file changes the
  // real's configured weight. Returns how many services the real is in (0: unknown real).
  std::size_t set_weight_override(const RealRef& real, std::optional<std::uint32_t> weight);
  // After a reload: forget overrides whose real's configured weight changed in the file.
  void drop_overrides_changed_by(const std::map<RealRef, std::uint32_t>& old_weights,
                                 const std::map<RealRef, std::uint32_t>& new_weights);
  const std::map<RealRef, std::uint32_t>& overrides() const { return overrides_; }

  // Before a reload's new configuration reaches the health monitor: reals that the dataplane
  // has now and the new file no longer lists stay with weight 0 (no new flows, established
  // ones keep their real) until release_retired finds them without live flows.
  void retire_removed(const std::vector<dataplane::ServiceSpec>& next);
  // Lets go of retired reals for which has_live_flows(service, real address) is false.
  // Returns how many went.
  std::size_t release_retired(
      const std::function<bool(const dataplane::ServiceKey&, const dataplane::IpAddress&)>& has_live_flows);
  const std::map<dataplane::ServiceKey, std::map<RealRef, dataplane::RealServer>>& retired() const { return retired_; }

  // What the backend was last given, per service.
  const std::map<dataplane::ServiceKey, dataplane::ServiceSpec>& applied() const { return applied_; }
  bool vip_active(const dataplane::IpAddress& vip) const;
  bool vrrp_managed(const dataplane::IpAddress& vip) const { return vrrp_managed_.contains(vip); }
  // flow_sync_peers: false from start until this node's bulk sync ended (announcing waits).
  void set_flows_synced(bool synced) {
    ++generation_;
    flows_synced_ = synced;
  }
  bool flows_synced() const { return flows_synced_; }
  // Counts the calls that may have changed the live state: the status views read their model
  // again when it moved (api::ServicesDocument).
  std::uint64_t generation() const { return generation_; }

 private:
  dataplane::ServiceSpec effective(const dataplane::ServiceSpec& healthy) const;
  void push(const dataplane::ServiceKey& key);

  dataplane::Backend& backend_;
  std::map<dataplane::ServiceKey, dataplane::ServiceSpec> healthy_;
  std::map<dataplane::ServiceKey, dataplane::ServiceSpec> applied_;
  std::set<dataplane::IpAddress> vrrp_managed_;
  std::set<dataplane::IpAddress> owned_;
  bool flows_synced_ = true;
  std::map<RealRef, std::uint32_t> overrides_;
  std::map<dataplane::ServiceKey, std::map<RealRef, dataplane::RealServer>> retired_;
  std::uint64_t generation_ = 0;
};

}  // namespace xlb::daemon
