// xlb::vrrp::Router in-process, in a network namespace of the test's own, against two
// vrrp_node peers: a sync group moving together on a link fault, reconfigure() keeping an
// unchanged instance's state, and stop() handing the VIPs over with priority 0.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "ctrl/vrrp/router.hpp"
#include "lab.hpp"

namespace xlb::vrrp {
namespace {

using namespace lab;
using namespace std::chrono_literals;

bool local_vip(const std::string& vip) {
  return capture("ip -o addr show").find(" " + vip + "/") != std::string::npos;
}

class VrrpRouter : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "namespace tests need root";
    orig_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(orig_, 0);
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << "unshare";
  }
  void TearDown() override {
    if (orig_ >= 0) {
      EXPECT_EQ(::setns(orig_, CLONE_NEWNET), 0);
      ::close(orig_);
    }
  }
  bool pump_until(boost::asio::io_context& io, const std::function<bool()>& pred,
                  std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      io.run_for(20ms);
      if (pred()) return true;
    }
    return pred();
  }
  int orig_ = -1;
};

InstanceSettings instance(const std::string& name, const std::string& ifc, int vrid,
                          const std::string& vip, int prio) {
  InstanceSettings s;
  s.name = name;
  s.interface = ifc;
  s.vrid = static_cast<std::uint8_t>(vrid);
  s.priority = static_cast<std::uint8_t>(prio);
  s.version = 3;
  s.advert_int = Millis{100};
  s.garp_master_delay = Millis{0};
  VipSettings v;
  v.address = boost::asio::ip::make_address(vip);
  s.vips.push_back(v);
  return s;
}

TEST_F(VrrpRouter, SyncGroupReconfigureAndStop) {
  Lab lab;
  std::string peer = lab.add_ns("p");
  check("ip link set lo up");
  for (int i : {0, 1}) {
    std::string l = "l" + lab.suffix() + std::to_string(i);
    std::string r = "r" + lab.suffix() + std::to_string(i);
    std::string eth = "eth" + std::to_string(i);
    std::string net = i == 0 ? "198.18.0." : "198.18.2.";
    check("ip link add " + l + " type veth peer name " + r + " netns " + peer);
    check("ip link set " + l + " name " + eth);
    check("ip -n " + peer + " link set " + r + " name " + eth);
    check("ip addr add " + net + "1/24 dev " + eth);
    check("ip -n " + peer + " addr add " + net + "2/24 dev " + eth);
    check("ip link set " + eth + " up");
    check("ip -n " + peer + " link set " + eth + " up");
  }
  auto peer_node = [&](const std::string& ifc, const std::string& vrid, const std::string& vip) {
    return std::make_unique<Process>(
        peer,
        std::vector<std::string>{vrrp_node_path(), "--interface", ifc, "--vrid", vrid, "--priority",
                                 "100", "--version", "3", "--advert-int", "0.1", "--vip", vip},
        lab.file("peer-" + ifc + ".log"));
  };
  auto p0 = peer_node("eth0", "51", "198.18.0.100");
  auto p1 = peer_node("eth1", "52", "198.18.2.100");
  ASSERT_TRUE(p0->wait_log("READY", 5s) && p1->wait_log("READY", 5s));

  RouterSettings rs;
  rs.instances = {instance("VI_1", "eth0", 51, "198.18.0.100", 150),
                  instance("VI_2", "eth1", 52, "198.18.2.100", 150)};
  rs.instances[0].vips[0].label = "eth0:vi1";
  rs.instances[0].vips[0].scope = "link";
  rs.sync_groups = {SyncGroupSettings{"G", {"VI_1", "VI_2"}}};
  boost::asio::io_context io;
  Router router(io.get_executor(), rs, nullptr);
  std::vector<StateChange> events;
  router.set_observer([&](const StateChange& c) { events.push_back(c); });
  auto state = [&](const std::string& name) {
    for (const auto& s : router.status())
      if (s.name == name) return s.state;
    return State::init;
  };
  auto both = [&](State st) { return state("VI_1") == st && state("VI_2") == st; };
  router.start();
  ASSERT_TRUE(pump_until(io, [&] {
    return both(State::master) && local_vip("198.18.0.100") && local_vip("198.18.2.100");
  }, 5s));
  ASSERT_TRUE(pump_until(io, [&] {
    return !has_vip(peer, "198.18.0.100") && !has_vip(peer, "198.18.2.100");
  }, 3s));
  std::string addr = capture("ip -o addr show dev eth0");
  EXPECT_NE(addr.find("198.18.0.100/32 scope link eth0:vi1"), std::string::npos) << addr;

  // eth1 loses its link: VI_2 FAULT, and the group takes VI_1 down with it.
  events.clear();
  check("ip link set eth1 down");
  ASSERT_TRUE(pump_until(io, [&] { return both(State::fault); }, 3s));
  bool grouped = false;
  for (const auto& e : events)
    grouped |= e.instance == "VI_1" && e.new_state == State::fault && e.reason == Reason::sync_group;
  EXPECT_TRUE(grouped);
  EXPECT_TRUE(pump_until(io, [&] {
    return has_vip(peer, "198.18.0.100") && !local_vip("198.18.0.100");
  }, 3s));
  check("ip link set eth1 up");
  ASSERT_TRUE(pump_until(io, [&] { return both(State::master); }, 5s));

  // Reconfigure: VI_2 changes and restarts, VI_1 is untouched and stays master throughout.
  auto before = router.status();
  RouterSettings next = rs;
  next.instances[1].priority = 140;
  events.clear();
  router.reconfigure(next);
  ASSERT_TRUE(pump_until(io, [&] { return both(State::master); }, 5s));
  for (const auto& e : events) EXPECT_NE(e.instance, "VI_1") << to_string(e.new_state);
  auto after = router.status();
  EXPECT_EQ(after[0].counters.became_master, before[0].counters.became_master);
  EXPECT_EQ(after[1].effective_priority, 140);

  // A reconfiguration that cannot be opened changes nothing.
  RouterSettings broken = next;
  broken.instances[1].interface = "nosuch" + lab.suffix().substr(0, 4);
  broken.instances[1].priority = 130;
  EXPECT_THROW(router.reconfigure(broken), std::exception);
  ASSERT_TRUE(pump_until(io, [&] { return false; }, 300ms) || both(State::master));
  EXPECT_EQ(router.status()[1].effective_priority, 140);

  // stop(): priority 0 on both, VIPs removed; the peer takes over within its skew time.
  router.stop();
  EXPECT_FALSE(local_vip("198.18.0.100"));
  EXPECT_FALSE(local_vip("198.18.2.100"));
  EXPECT_TRUE(wait_until([&] {
    return has_vip(peer, "198.18.0.100") && has_vip(peer, "198.18.2.100");
  }, 2s)) << p0->log();
  EXPECT_NE(p0->log().find("master left (priority 0)"), std::string::npos) << p0->log();
}

TEST(VrrpRouterSettings, ChecksReportEveryProblem) {
  RouterSettings rs;
  InstanceSettings a;
  a.name = "A";
  a.interface = "eth0";
  a.vrid = 0;
  a.version = 2;
  a.advert_int = Millis{300000};
  rs.instances = {a};
  rs.sync_groups = {SyncGroupSettings{"G", {"A", "B"}}};
  auto errs = check_settings(rs);
  auto has = [&](const std::string& s) {
    for (const auto& e : errs)
      if (e.find(s) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("virtual_router_id"));
  EXPECT_TRUE(has("1-255 s"));
  EXPECT_TRUE(has("no virtual_ipaddress"));
  EXPECT_TRUE(has("unknown instance B"));
}

}  // namespace
}  // namespace xlb::vrrp
