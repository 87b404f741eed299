// FlowCounter: the connection table counted by ids, names resolved once per pair. The same
// entries also go through count_flows(), the census' count over Flow objects, which the counter
// must agree with.
#include "ctrl/dataplane/flow_counter.hpp"

#include <gtest/gtest.h>

#include <map>

namespace xlb::dataplane {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kNow = 1'000'000'000'000'000;  // about 11.6 days of monotonic time

ServiceKey service(const char* vip, std::uint16_t port) {
  ServiceKey k;
  k.address = boost::asio::ip::make_address(vip);
  k.port = port;
  return k;
}

IpAddress ip(const char* a) { return boost::asio::ip::make_address(a); }

std::uint64_t seen_ago(std::chrono::nanoseconds idle) { return kNow - static_cast<std::uint64_t>(idle.count()); }

// vip 1 = web, 2 = dns; reals 10, 11 (web), 12 (dns; same address as 10).
struct Directory {
  std::map<std::uint32_t, ServiceKey> services{{1, service("198.18.0.100", 80)}, {2, service("198.18.0.100", 53)}};
  std::map<std::uint32_t, IpAddress> reals{{10, ip("198.18.0.11")}, {11, ip("198.18.0.12")}, {12, ip("198.18.0.11")}};
  mutable int service_lookups = 0;
  mutable int address_lookups = 0;

  FlowCounts counts(const FlowCounter& c) const {
    return c.counts(
        [&](std::uint32_t id) -> std::optional<ServiceKey> {
          ++service_lookups;
          auto it = services.find(id);
          return it == services.end() ? std::nullopt : std::optional(it->second);
        },
        [&](std::uint32_t id) -> std::optional<IpAddress> {
          ++address_lookups;
          auto it = reals.find(id);
          return it == reals.end() ? std::nullopt : std::optional(it->second);
        });
  }
};

std::uint64_t at(const FlowCounts& c, const ServiceKey& k, const char* real) {
  const auto it = c.active.find({k, ip(real)});
  return it == c.active.end() ? 0 : it->second;
}

TEST(FlowCounter, CountsActivePerServiceAndRealByName) {
  const Directory d;
  FlowCounter c(kNow, 60s);
  c.add(1, 10, seen_ago(1s));
  c.add(1, 11, seen_ago(5s));
  c.add(1, 10, seen_ago(59s));
  c.add(2, 12, seen_ago(0s));
  c.add(1, 10, seen_ago(30s));
  const auto counts = d.counts(c);
  EXPECT_EQ(counts.flows, 5u);
  EXPECT_EQ(at(counts, d.services.at(1), "198.18.0.11"), 3u);
  EXPECT_EQ(at(counts, d.services.at(1), "198.18.0.12"), 1u);
  EXPECT_EQ(at(counts, d.services.at(2), "198.18.0.11"), 1u);
  EXPECT_EQ(at(counts, d.services.at(2), "198.18.0.12"), 0u);
  EXPECT_EQ(counts.active.size(), 3u);
}

// ipvsadm's ActiveConn counts established connections only; a handshake, a closed connection,
// UDP and an entry xlbd wrote (state 0) are InActConn.
TEST(FlowCounter, EstablishedAreOpenAndNotEnded) {
  const Directory d;
  FlowCounter c(kNow, 60s);
  c.add(1, 10, seen_ago(1s), XLB_FLOW_S_OPEN);
  c.add(1, 10, seen_ago(2s), XLB_FLOW_S_OPEN);
  c.add(1, 10, seen_ago(3s), XLB_FLOW_S_OPEN | XLB_FLOW_S_ENDED);  // FIN or RST seen
  c.add(1, 10, seen_ago(4s), 0);                                  // SYN only, or UDP
  c.add(1, 10, seen_ago(90s), XLB_FLOW_S_OPEN);                   // outside the window
  const auto counts = d.counts(c);
  EXPECT_EQ(counts.flows, 5u);
  EXPECT_EQ(at(counts, d.services.at(1), "198.18.0.11"), 4u);
  const auto it = counts.established.find({d.services.at(1), ip("198.18.0.11")});
  ASSERT_NE(it, counts.established.end());
  EXPECT_EQ(it->second, 2u);
}

TEST(FlowCounter, ResolvesEachPairOnceNotEachFlow) {
  const Directory d;
  FlowCounter c(kNow, 60s);
  for (int i = 0; i < 1000; ++i) c.add(1, i % 2 == 0 ? 10 : 11, seen_ago(1s));
  const auto counts = d.counts(c);
  EXPECT_EQ(c.active_pairs(), 2u);
  EXPECT_EQ(d.service_lookups, 2);
  EXPECT_EQ(d.address_lookups, 2);
  EXPECT_EQ(at(counts, d.services.at(1), "198.18.0.11"), 500u);
  EXPECT_EQ(at(counts, d.services.at(1), "198.18.0.12"), 500u);
}

TEST(FlowCounter, ActiveWindowIsStrictAndFutureTimesAreIdleZero) {
  const Directory d;
  FlowCounter c(kNow, 60s);
  c.add(1, 10, seen_ago(60s));                // idle exactly the window: not active
  c.add(1, 10, seen_ago(60s - 1ns));          // just inside
  c.add(1, 10, seen_ago(3600s));              // long idle
  c.add(1, 10, kNow + 5'000'000'000ULL);      // a packet while the walk ran: idle 0
  c.add(1, 10, 0);                            // never seen: idle since boot
  const auto counts = d.counts(c);
  EXPECT_EQ(counts.flows, 5u);
  EXPECT_EQ(at(counts, d.services.at(1), "198.18.0.11"), 2u);
}

TEST(FlowCounter, ZeroWindowCountsNothingActive) {
  const Directory d;
  FlowCounter c(kNow, 0s);
  c.add(1, 10, kNow);
  c.add(1, 10, kNow + 1);
  const auto counts = d.counts(c);
  EXPECT_EQ(counts.flows, 2u);
  EXPECT_TRUE(counts.active.empty());
}

TEST(FlowCounter, UnknownIdsCountInTotalOnly) {
  const Directory d;
  FlowCounter c(kNow, 60s);
  c.add(7, 10, seen_ago(1s));   // VIP id of a service being removed
  c.add(1, 99, seen_ago(1s));   // real id nobody holds
  c.add(0, 0, seen_ago(1s));    // both unknown
  c.add(1, 10, seen_ago(1s));
  const auto counts = d.counts(c);
  EXPECT_EQ(counts.flows, 4u);
  ASSERT_EQ(counts.active.size(), 1u);
  EXPECT_EQ(at(counts, d.services.at(1), "198.18.0.11"), 1u);
}

TEST(FlowCounter, PairsWithTheSameNamesAddUp) {
  // Two real ids with one address in one service (a sorry server that is also a real).
  Directory d;
  d.reals[13] = ip("198.18.0.11");
  FlowCounter c(kNow, 60s);
  c.add(1, 10, seen_ago(1s));
  c.add(1, 13, seen_ago(1s));
  c.add(1, 13, seen_ago(2s));
  const auto counts = d.counts(c);
  EXPECT_EQ(counts.active.size(), 1u);
  EXPECT_EQ(at(counts, d.services.at(1), "198.18.0.11"), 3u);
}

TEST(FlowCounter, AgreesWithTheCountOverFlowObjects) {
  // The same table once as ids (the XDP path) and once as Flow objects (the default path).
  const Directory d;
  FlowCounter c(kNow, 60s);
  std::vector<Flow> flows;
  const std::uint32_t vips[] = {1, 2, 1, 1, 2, 1, 1};
  const std::uint32_t reals[] = {10, 12, 11, 10, 12, 11, 10};
  const std::chrono::seconds idles[] = {1s, 70s, 59s, 61s, 3s, 0s, 120s};
  for (std::size_t i = 0; i < std::size(vips); ++i) {
    c.add(vips[i], reals[i], seen_ago(idles[i]));
    Flow f;
    f.service = d.services.at(vips[i]);
    f.real = d.reals.at(reals[i]);
    f.idle = idles[i];
    flows.push_back(f);
  }
  const auto by_ids = d.counts(c);
  const auto by_objects = count_flows(flows, 60s);
  EXPECT_EQ(by_ids.flows, by_objects.flows);
  EXPECT_EQ(by_ids.active, by_objects.active);
  EXPECT_EQ(by_ids.active.size(), 3u);
}

}  // namespace
}  // namespace xlb::dataplane
