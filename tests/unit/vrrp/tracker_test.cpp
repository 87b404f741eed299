#include "ctrl/vrrp/tracker.hpp"

#include <gtest/gtest.h>

#include <set>

namespace xlb::vrrp {
namespace {

InstanceSettings settings() {
  InstanceSettings s;
  s.interface = "eth0";
  s.priority = 100;
  s.track_interfaces = {{"eth1", -30}, {"eth2", 20}, {"eth3", 0}};
  TrackScript up, down, must;
  up.weight = 10;
  down.weight = -50;
  down.rise = 2;
  down.fall = 3;
  must.weight = 0;
  s.track_scripts = {up, down, must};
  return s;
}

TEST(VrrpTracker, InterfaceWeightsAndFault) {
  Tracker t(settings());
  std::set<std::string> down;
  auto is_up = [&](const std::string& n) { return !down.count(n); };
  EXPECT_FALSE(t.set_links(is_up));  // all up, as assumed
  EXPECT_EQ(t.effective_priority(), 100 + 20 + 10);
  down = {"eth1"};
  EXPECT_TRUE(t.set_links(is_up));
  EXPECT_EQ(t.effective_priority(), 100 - 30 + 20 + 10);
  down = {"eth2"};
  t.set_links(is_up);
  EXPECT_EQ(t.effective_priority(), 100 + 10);
  EXPECT_FALSE(t.fault());
  down = {"eth3"};
  EXPECT_TRUE(t.set_links(is_up));
  EXPECT_TRUE(t.fault());
  EXPECT_EQ(t.fault_reason(), Reason::link_down);
  down = {"eth0"};  // the instance's own interface is always tracked
  t.set_links(is_up);
  EXPECT_TRUE(t.fault());
}

TEST(VrrpTracker, ScriptRiseFallAndWeights) {
  Tracker t(settings());
  t.record_script(1, 0);  // first result decides at once
  EXPECT_EQ(t.effective_priority(), 130);
  EXPECT_FALSE(t.record_script(1, 1));  // fall 3: two failures are not enough
  EXPECT_FALSE(t.record_script(1, 1));
  EXPECT_TRUE(t.record_script(1, 1));
  EXPECT_EQ(t.effective_priority(), 80);
  EXPECT_FALSE(t.record_script(1, 0));  // rise 2
  EXPECT_FALSE(t.record_script(1, 1));  // streak broken
  EXPECT_FALSE(t.record_script(1, 0));
  EXPECT_TRUE(t.record_script(1, 0));
  EXPECT_EQ(t.effective_priority(), 130);
  EXPECT_TRUE(t.record_script(2, 1));
  EXPECT_TRUE(t.fault());
  EXPECT_EQ(t.fault_reason(), Reason::script_failed);
  EXPECT_TRUE(t.record_script(0, 1));
  EXPECT_EQ(t.effective_priority(), 120);
}

TEST(VrrpTracker, ClampsToValidPriorities) {
  InstanceSettings s;
  s.interface = "eth0";
  s.priority = 250;
  s.track_interfaces = {{"eth1", 50}};
  Tracker t(s);
  EXPECT_EQ(t.effective_priority(), 254);
  s.priority = 10;
  s.track_interfaces = {{"eth1", -50}};
  Tracker low(s);
  low.set_links([](const std::string& n) { return n != "eth1"; });
  EXPECT_EQ(low.effective_priority(), 1);
}

}  // namespace
}  // namespace xlb::vrrp
