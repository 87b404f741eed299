// Everything under the dataplane interface for one xlbd: the XDP program (loaded, pinned,
// attached) with its XdpBackend, and IPVS where a virtual server needs or asks for it. It is a
// Backend itself and sends each service to the backend chosen for it.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrl/config/model.hpp"
#include "ctrl/daemon/service_plan.hpp"
#include "ctrl/dataplane/backend.hpp"
#include "xlb/asio.hpp"

namespace xlb::dataplane {
class XdpBackend;
}

namespace xlb::daemon {

struct DataplaneOptions {
  std::vector<std::string> interfaces;  // empty: derived from the configuration
  std::string pin_dir;
  bool detach_on_exit = false;
};

class DataplaneStack : public dataplane::Backend {
 public:
  // Throws when a service's backend cannot be had (XDP cannot attach and IPVS is missing).
  DataplaneStack(boost::asio::io_context& io, const config::Config& config,
                 const std::vector<PlannedService>& plan, DataplaneOptions options);
  ~DataplaneStack() override;

  std::string name() const override;
  void apply(const dataplane::ServiceSpec& spec) override;
  void remove(const dataplane::ServiceKey& key) override;
  void flush_flows_to(const dataplane::ServiceKey& key, const dataplane::IpAddress& real) override;
  std::vector<dataplane::ServiceStats> stats() override;
  std::vector<dataplane::Flow> flows() override;
  // Each backend counts its own table; the sums are added up.
  dataplane::FlowCounts count_flows(std::chrono::nanoseconds active_window) override;

  // Backend choice for services of a new configuration (reload): a service keeps the
  // backend it has; a new one gets the choice the configuration asks for.
  void plan(const std::vector<PlannedService>& plan);
  // stats() and XDP's global counters by name (actions and drop reasons; none without XDP),
  // of one moment: XDP's from one read of its flow cache.
  struct Traffic {
    std::vector<dataplane::ServiceStats> services;
    std::vector<std::pair<std::string, std::uint64_t>> counters;
  };
  Traffic traffic();
  nlohmann::json describe() const;
  void set_detach_on_exit(bool detach);
  // For a start that failed: detach and unpin what this start created, so that it leaves
  // nothing behind; pins adopted from a running xlb stay, and keep forwarding.
  void undo_start();
  // After the first full apply: XDP entries adopted from an earlier run that no service took
  // over are removed.
  void retire_orphans();
  // The XDP backend when any service uses it (flow sync reads and writes its tables).
  dataplane::XdpBackend* xdp();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Interfaces the XDP program goes on when --interface is not given, for the virtual servers
// that run on XDP: the `dev` of each virtual IP, else its vrrp_instance's interface, else the
// one that reaches the reals.
std::vector<std::string> derive_interfaces(const config::Config& config);

}  // namespace xlb::daemon
