// The flow census: what it counts (Backend::count_flows' default, by Flow objects), what it
// passes its source, how its walk is spaced, and that it walks on its timer rather than per
// request.
#include "ctrl/daemon/flow_census.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace xlb::daemon {
namespace {

using namespace std::chrono_literals;
using dataplane::Flow;
using dataplane::FlowCounts;
using dataplane::ServiceKey;

ServiceKey service(const char* vip, std::uint16_t port) {
  ServiceKey k;
  k.address = boost::asio::ip::make_address(vip);
  k.port = port;
  return k;
}

Flow flow(const ServiceKey& svc, const char* real, std::chrono::nanoseconds idle) {
  Flow f;
  f.service = svc;
  f.real = boost::asio::ip::make_address(real);
  f.idle = idle;
  return f;
}

FlowCounts counts_of(std::uint64_t n) {
  FlowCounts c;
  c.flows = n;
  return c;
}

TEST(FlowCensus, CountsEveryEntryAndActivePerServiceAndReal) {
  const auto web = service("198.18.0.100", 80);
  const auto dns = service("198.18.0.100", 53);
  const std::vector<Flow> flows{flow(web, "198.18.0.11", 1s), flow(web, "198.18.0.11", 59s),
                                flow(web, "198.18.0.11", 61s), flow(web, "198.18.0.12", 0s),
                                flow(dns, "198.18.0.11", 2s)};
  const auto s = dataplane::count_flows(flows, 60s);
  EXPECT_EQ(s.flows, 5u);
  const auto at = [&](const ServiceKey& k, const char* real) {
    const auto it = s.active.find({k, boost::asio::ip::make_address(real)});
    return it == s.active.end() ? 0 : it->second;
  };
  EXPECT_EQ(at(web, "198.18.0.11"), 2u);  // the one idle 61 s is not active
  EXPECT_EQ(at(web, "198.18.0.12"), 1u);
  EXPECT_EQ(at(dns, "198.18.0.11"), 1u);
  EXPECT_EQ(at(dns, "198.18.0.12"), 0u);
}

TEST(FlowCensus, SampleCarriesTheSourcesCountsForItsActiveWindow) {
  boost::asio::io_context io;
  std::chrono::nanoseconds asked{0};
  const auto web = service("198.18.0.100", 80);
  const auto real = boost::asio::ip::make_address("198.18.0.11");
  FlowCensus census(
      io,
      [&](std::chrono::nanoseconds window) {
        asked = window;
        auto c = counts_of(7);
        c.active[{web, real}] = 4;
        return c;
      },
      FlowCensus::Options{.active_window = 90s});
  const auto& s = census.latest();
  EXPECT_EQ(asked, 90s);
  EXPECT_EQ(s.flows, 7u);
  ASSERT_EQ(s.active.size(), 1u);
  EXPECT_EQ(s.active.at({web, real}), 4u);
  EXPECT_NE(s.taken, std::chrono::steady_clock::time_point{});
}

TEST(FlowCensus, SpacesWalksToStayUnderItsCpuShare) {
  FlowCensus::Options o;
  o.interval = 5000ms;
  o.max_cpu_share = 0.05;
  EXPECT_EQ(FlowCensus::next_wait(o, 10ms), 5000ms);   // small table: the interval
  EXPECT_EQ(FlowCensus::next_wait(o, 250ms), 5000ms);  // 256k flows: still 5%
  EXPECT_EQ(FlowCensus::next_wait(o, 1s), 20000ms);    // 1M flows: every 20 s
}

TEST(FlowCensus, WalksOnItsTimerNotPerRead) {
  boost::asio::io_context io;
  int walks = 0;
  FlowCensus census(
      io,
      [&](std::chrono::nanoseconds) {
        ++walks;
        return counts_of(static_cast<std::uint64_t>(walks));
      },
      FlowCensus::Options{.interval = 20ms});
  census.start();
  while (walks < 3) io.run_one();  // the timer fires again and again
  for (int i = 0; i < 100; ++i) census.latest();  // reads never walk
  EXPECT_EQ(walks, 3);
  EXPECT_EQ(census.latest().flows, 3u);
  census.stop();
  io.run();  // returns: the loop ended with the cancelled timer
  EXPECT_EQ(walks, 3);
}

TEST(FlowCensus, FirstReadBeforeAnyWalkCountsAtOnce) {
  boost::asio::io_context io;
  FlowCensus census(io, [](std::chrono::nanoseconds) { return counts_of(3); }, {});
  EXPECT_EQ(census.latest().flows, 3u);
}

}  // namespace
}  // namespace xlb::daemon
