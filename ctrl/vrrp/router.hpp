// xlb::vrrp::Router: every VRRP instance of one xlbd on one io_context.
//
//   xlb::vrrp::Router router(io.get_executor(), settings, script_runner);
//   router.set_observer([&](const StateChange& c) { notify.on_vrrp(c); dataplane.on_vrrp(c); });
//   router.start();                       // throws on a missing interface or socket error
//   router.reconfigure(new_settings);     // on SIGHUP: unchanged instances keep their state
//   router.status();  router.counters();  // xlbctl status, metrics
//   router.stop();                        // on SIGTERM: priority 0 adverts, VIPs removed
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "xlb/asio.hpp"
#include "ctrl/vrrp/events.hpp"
#include "ctrl/vrrp/settings.hpp"

namespace xlb::vrrp {

class Instance;

class Router {
 public:
  Router(boost::asio::any_io_executor ex, RouterSettings settings, ScriptRunner runner);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Called on the io_context's thread for every transition and split-brain detection.
  void set_observer(StateObserver o) { observer_ = std::move(o); }

  void start();
  void stop();
  // Instances whose settings are unchanged keep running in their state; changed ones restart
  // (a master among them leaves with priority 0); removed ones stop; new ones start.
  void reconfigure(RouterSettings settings);

  std::vector<InstanceStatus> status() const;
  const RouterSettings& settings() const { return settings_; }

 private:
  std::shared_ptr<Instance> make(const InstanceSettings& s);
  void on_change(Instance& from, const StateChange& c);
  const SyncGroupSettings* group_of(const std::string& instance) const;

  boost::asio::any_io_executor ex_;
  RouterSettings settings_;
  ScriptRunner runner_;
  StateObserver observer_;
  std::map<std::string, std::shared_ptr<Instance>> instances_;
  bool started_ = false;
  int propagating_ = 0;
};

// Checks that settings can run (vrid, priority, version, interval, sync-group members) and
// returns one message per problem; empty when fine. main.cpp turns them into config errors.
std::vector<std::string> check_settings(const RouterSettings& s);

}  // namespace xlb::vrrp
