// The VIP routes of vip_route_table as an output of live state (issue 29): the daemon hands
// over, per VIP, what decides it; this keeps the routes, when each changed and why.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "ctrl/announce/decision.hpp"
#include "ctrl/announce/route_table.hpp"
#include "ctrl/dataplane/backend.hpp"

namespace xlb::api {
class MetricsText;
}

namespace xlb::daemon {

class VipAnnouncer {
 public:
  explicit VipAnnouncer(std::uint32_t table) : routes_(table) {}

  // Every VIP the node has, with its inputs; a VIP left out is withdrawn and forgotten.
  void update(const std::map<dataplane::IpAddress, announce::VipInputs>& vips);

  // Told each time a VIP's route went in or out of the table, and of a VIP's first state when
  // that is not announced (`initial`: why it is not out yet, "checks_pending" at start): the
  // daemon sends it to notify_announce and, route changes only, to the mail alerts.
  using Observer =
      std::function<void(const dataplane::IpAddress& vip, bool announced, announce::Reason why, bool initial)>;
  void set_observer(Observer observer) { observer_ = std::move(observer); }

  // xlbctl withdraw / announce: the operator's word on the whole node, until changed.
  void set_operator_withdrawn(bool withdrawn) { operator_withdrawn_ = withdrawn; }
  bool operator_withdrawn() const { return operator_withdrawn_; }

  nlohmann::json describe() const;
  void write_metrics(api::MetricsText& m) const;
  const std::string& device() const { return routes_.device(); }

 private:
  struct Entry {
    announce::Decision decision;
    bool routed = false;  // the route is in the table (false also when adding it failed)
    std::chrono::system_clock::time_point since;
  };

  announce::RouteTable routes_;
  std::map<dataplane::IpAddress, Entry> vips_;
  bool operator_withdrawn_ = false;
  Observer observer_;
};

}  // namespace xlb::daemon
