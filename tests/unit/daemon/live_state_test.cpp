#include <gtest/gtest.h>

#include "ctrl/daemon/live_state.hpp"

namespace xlb::daemon {
namespace {

using dataplane::IpAddress;
using dataplane::ServiceKey;
using dataplane::ServiceSpec;

// Records what the daemon asks of a dataplane; the real backends have their own tests.
class RecordingBackend : public dataplane::Backend {
 public:
  std::string name() const override { return "recording"; }
  void apply(const ServiceSpec& spec) override { applied.push_back(spec); }
  void remove(const ServiceKey& key) override { removed.push_back(key); }
  void flush_flows_to(const ServiceKey&, const IpAddress&) override {}
  std::vector<dataplane::ServiceStats> stats() override { return {}; }
  std::vector<dataplane::Flow> flows() override { return {}; }
  std::vector<ServiceSpec> applied;
  std::vector<ServiceKey> removed;
};

IpAddress ip(const char* text) { return boost::asio::ip::make_address(text); }

ServiceSpec web() {
  ServiceSpec spec;
  spec.key = {ip("198.18.0.100"), 80, dataplane::Protocol::tcp};
  spec.reals = {{ip("198.18.1.11"), 80, 2}, {ip("198.18.1.12"), 80, 1}};
  return spec;
}

TEST(LiveState, AppliesOnlyWhatChanged) {
  RecordingBackend backend;
  LiveState live(backend);
  live.on_health(web());
  live.on_health(web());
  ASSERT_EQ(backend.applied.size(), 1u);
  EXPECT_TRUE(backend.applied[0].active) << "a VIP no VRRP instance holds is always active";
}

// The status views read the services model again when the generation moved: every input that
// can change what `xlbctl list` shows (other than counters) moves it.
TEST(LiveState, EveryChangeMovesTheGeneration) {
  RecordingBackend backend;
  LiveState live(backend);
  auto moved = [&, last = live.generation()]() mutable {
    const bool changed = live.generation() != last;
    last = live.generation();
    return changed;
  };
  live.on_health(web());
  EXPECT_TRUE(moved()) << "health";
  live.set_vrrp_managed({ip("198.18.0.100")});
  EXPECT_TRUE(moved()) << "VRRP-managed VIPs";
  live.set_vip_owned(ip("198.18.0.100"), true);
  EXPECT_TRUE(moved()) << "ownership";
  live.set_weight_override(RealRef::parse("198.18.1.11:80"), 0u);
  EXPECT_TRUE(moved()) << "an operator's override";
  live.drop_overrides_changed_by({}, {});
  EXPECT_TRUE(moved()) << "a reload's overrides";
  live.retire_removed({});
  EXPECT_TRUE(moved()) << "a reload's removals";
  live.set_flows_synced(false);
  EXPECT_TRUE(moved()) << "flow sync";
  live.on_removed(web().key);
  EXPECT_TRUE(moved()) << "a service removed";
  EXPECT_FALSE(moved()) << "reading changes nothing";
}

TEST(LiveState, VrrpOwnershipFlipsActiveButKeepsTheMapsFilled) {
  RecordingBackend backend;
  LiveState live(backend);
  live.set_vrrp_managed({ip("198.18.0.100")});
  live.on_health(web());
  ASSERT_EQ(backend.applied.size(), 1u);
  EXPECT_FALSE(backend.applied.back().active);
  EXPECT_EQ(backend.applied.back().reals.size(), 2u) << "a backup keeps its reals programmed";
  live.set_vip_owned(ip("198.18.0.100"), true);
  ASSERT_EQ(backend.applied.size(), 2u);
  EXPECT_TRUE(backend.applied.back().active);
  live.set_vip_owned(ip("198.18.0.200"), true);
  EXPECT_EQ(backend.applied.size(), 2u) << "another VIP's change must not touch this service";
}

TEST(LiveState, OverridesChangeLiveRealsOnlyAndSurviveUntilTheFileChanges) {
  RecordingBackend backend;
  LiveState live(backend);
  live.on_health(web());
  const RealRef rs1 = RealRef::parse("198.18.1.11:80");
  EXPECT_EQ(live.set_weight_override(rs1, 0u), 1u);
  EXPECT_EQ(backend.applied.back().reals[0].weight, 0u);
  EXPECT_EQ(live.set_weight_override(RealRef::parse("198.18.9.9:80"), 0u), 0u);

  // Health removes the real: the override must not bring it back.
  auto failed = web();
  failed.reals[0].weight = 0;
  live.on_health(failed);
  EXPECT_EQ(backend.applied.back().reals[0].weight, 0u);

  // A reload that leaves rs1's weight alone keeps the drain; one that changes it drops it.
  std::map<RealRef, std::uint32_t> before{{rs1, 2}}, same{{rs1, 2}}, changed{{rs1, 3}};
  live.drop_overrides_changed_by(before, same);
  EXPECT_EQ(live.overrides().size(), 1u);
  live.drop_overrides_changed_by(before, changed);
  EXPECT_TRUE(live.overrides().empty());
}

TEST(LiveState, RemovedServicesLeaveTheBackend) {
  RecordingBackend backend;
  LiveState live(backend);
  live.on_health(web());
  live.on_removed(web().key);
  ASSERT_EQ(backend.removed.size(), 1u);
  EXPECT_TRUE(live.applied().empty());
}

// A reload that drops rs2 from the file: rs2 stays with weight 0 (its flows keep their real)
// until the census finds it without live flows; listing it again ends the retirement.
TEST(LiveState, RealsRemovedByAReloadDrainBeforeTheyLeave) {
  RecordingBackend backend;
  LiveState live(backend);
  live.on_health(web());
  auto without_rs2 = web();
  without_rs2.reals.pop_back();
  live.retire_removed({without_rs2});
  live.on_health(without_rs2);  // what the health monitor reports for the new file
  ASSERT_EQ(backend.applied.back().reals.size(), 2u) << "rs2 left the dataplane at once";
  EXPECT_EQ(backend.applied.back().reals[1].address, ip("198.18.1.12"));
  EXPECT_EQ(backend.applied.back().reals[1].weight, 0u) << "a removed real must take no new flows";
  ASSERT_EQ(live.retired().size(), 1u);

  const auto applies = backend.applied.size();
  EXPECT_EQ(live.release_retired([](const ServiceKey&, const IpAddress&) { return true; }), 0u);
  EXPECT_EQ(backend.applied.size(), applies) << "flows still live: nothing changes";
  EXPECT_EQ(live.release_retired([](const ServiceKey&, const IpAddress&) { return false; }), 1u);
  ASSERT_EQ(backend.applied.back().reals.size(), 1u);
  EXPECT_TRUE(live.retired().empty());

  // Removed and listed again before it drained. Its new checker may start with it down: it
  // stays drained (flows kept) until health reports it, then the file's weight is back.
  live.on_health(web());
  live.retire_removed({without_rs2});
  live.on_health(without_rs2);
  live.retire_removed({web()});
  live.on_health(without_rs2);  // the new checker has not passed yet
  ASSERT_EQ(backend.applied.back().reals.size(), 2u) << "a re-added real that is not up yet lost its flows";
  EXPECT_EQ(backend.applied.back().reals[1].weight, 0u);
  live.on_health(web());
  EXPECT_TRUE(live.retired().empty());
  ASSERT_EQ(backend.applied.back().reals.size(), 2u);
  EXPECT_EQ(backend.applied.back().reals[1].weight, 1u);
}

// A real that health had already taken out is gone from the dataplane: nothing to drain.
TEST(LiveState, AFailedRealRemovedByAReloadIsNotRetired) {
  RecordingBackend backend;
  LiveState live(backend);
  auto failed = web();
  failed.reals.pop_back();
  live.on_health(failed);
  live.retire_removed({failed});
  EXPECT_TRUE(live.retired().empty());
}

TEST(RealRef, ParsesBothFamiliesAndRefusesGarbage) {
  EXPECT_EQ(RealRef::parse("[2001:db8::1]:443").port, 443);
  EXPECT_TRUE(RealRef::parse("[2001:db8::1]:443").address.is_v6());
  EXPECT_THROW(RealRef::parse("198.18.1.1"), std::invalid_argument);
  EXPECT_THROW(RealRef::parse("198.18.1.1:99999"), std::invalid_argument);
  EXPECT_THROW(RealRef::parse("nothost:80"), std::invalid_argument);
}

}  // namespace
}  // namespace xlb::daemon
