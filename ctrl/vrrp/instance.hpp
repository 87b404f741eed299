// One VRRP instance on the wire: the state machine plus its sockets, VIPs, announcements,
// tracking and split-brain probes, each loop one coroutine on the instance's executor.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xlb/asio.hpp"
#include "ctrl/vrrp/advert_socket.hpp"
#include "ctrl/vrrp/events.hpp"
#include "ctrl/vrrp/l2.hpp"
#include "ctrl/vrrp/settings.hpp"
#include "ctrl/vrrp/state_machine.hpp"
#include "ctrl/vrrp/tracker.hpp"
#include "ctrl/vrrp/vip.hpp"

namespace xlb::vrrp {

class Instance : public std::enable_shared_from_this<Instance> {
 public:
  using TransitionHook = std::function<void(Instance&, const StateChange&)>;

  // Throws when an interface is missing or a socket cannot be opened.
  Instance(boost::asio::any_io_executor ex, InstanceSettings s, ScriptRunner runner,
           TransitionHook hook);
  ~Instance();

  void start();
  // Leaves: priority 0 advert if master, VIPs removed, loops ended. Synchronous.
  void stop();
  void force(State to, Reason why);

  const InstanceSettings& settings() const { return s_; }
  State state() const { return fsm_.state(); }
  InstanceStatus status() const;

 private:
  struct Path {
    std::unique_ptr<AdvertSocket> sock;
    Address src;
    std::vector<Address> dsts;
    Expectation expect;
  };

  void open_paths();
  void apply(const Output& o);
  void send_advert(std::uint8_t priority);
  void handle(const Received& r, const Path& p);
  void rearm() { timer_.cancel(); }
  void spawn(boost::asio::awaitable<void> a, const char* what);
  void retrack(TimePoint now);

  boost::asio::awaitable<void> timer_loop();
  boost::asio::awaitable<void> receive_loop(Path& p);
  boost::asio::awaitable<void> link_loop();
  boost::asio::awaitable<void> script_loop(std::size_t index);
  boost::asio::awaitable<void> announce_loop(std::uint64_t generation);
  boost::asio::awaitable<void> probe_loop();
  boost::asio::awaitable<void> probe_receive_loop();
  void on_arp(const ArpSeen& seen);
  void yield_split_brain(const std::string& detail);
  Announcer& announcer_for(const std::string& dev);

  boost::asio::any_io_executor ex_;
  InstanceSettings s_;
  ScriptRunner runner_;
  TransitionHook hook_;
  InterfaceInfo ifc_;
  Address primary_;
  std::vector<Address> advertised_;
  StateMachine fsm_;
  Tracker tracker_;
  VipSet vips_;
  std::vector<Path> paths_;
  std::map<std::string, std::unique_ptr<Announcer>> announcers_;
  InterfaceInfo probe_ifc_;
  std::unique_ptr<ArpProber> prober_;
  boost::asio::steady_timer timer_;
  Counters counters_;
  std::uint64_t master_generation_ = 0;
  bool stopped_ = false;
  bool started_ = false;
  // Split brain: set after we gave up the VIP to another holder; while it stays set, that
  // holder's ARP replies count as a live master even when its adverts do not reach us.
  bool yielded_ = false;
  std::map<Mac, ProbeTag> peer_tags_;
  std::map<Mac, TimePoint> first_reply_;
};

}  // namespace xlb::vrrp
