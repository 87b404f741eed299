// "Directly connected" as the kernel decides it, on netlink messages captured from a real
// kernel (captured_dumps.hpp, made by capture_route_dumps.sh): the dumps go through libnl's
// parser and decide(); the single-address answers through classify(), as the neighbour
// resolver uses them.
#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <sys/socket.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ctrl/route/adjacency.hpp"
#include "tests/unit/route/captured_dumps.hpp"

namespace xlb::route {
// Failures name the verdict instead of printing its bytes.
void PrintTo(Reach reach, std::ostream* os) { *os << to_string(reach); }
}  // namespace xlb::route

namespace {

using xlb::route::Reach;
namespace captured = xlb::route::captured;

std::vector<std::uint8_t> unhex(const char* hex) {
  std::vector<std::uint8_t> out;
  for (const char* p = hex; p[0] && p[1]; p += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoul(std::string(p, 2), nullptr, 16)));
  return out;
}

xlb::route::Address address(const char* text) {
  xlb::route::Address a;
  a.family = std::string(text).find(':') != std::string::npos ? AF_INET6 : AF_INET;
  EXPECT_EQ(inet_pton(a.family, text, a.bytes.data()), 1) << text;
  return a;
}

class CapturedDump : public ::testing::Test {
 protected:
  static std::vector<xlb::route::RouteRecord> v4_, v6_;
  static void SetUpTestSuite() {
    v4_ = xlb::route::parse_dump(unhex(captured::kDumpV4));
    v6_ = xlb::route::parse_dump(unhex(captured::kDumpV6));
  }
  static xlb::route::Decision decide(const char* text) {
    const auto a = address(text);
    return xlb::route::decide(a.family == AF_INET ? v4_ : v6_, a);
  }
};
std::vector<xlb::route::RouteRecord> CapturedDump::v4_;
std::vector<xlb::route::RouteRecord> CapturedDump::v6_;

TEST_F(CapturedDump, ParsesEveryRouteOfBothFamilies) {
  // Every message of the capture: 13 IPv4 routes (5 in the local table, loopback's included)
  // and 15 IPv6 routes (4 in the local table).
  EXPECT_EQ(v4_.size(), 13u);
  EXPECT_EQ(v6_.size(), 15u);
  for (const auto& r : v4_) EXPECT_EQ(r.family, AF_INET);
  for (const auto& r : v6_) EXPECT_EQ(r.family, AF_INET6);
}

// The issue: the connected /64 is stored with scope global, and a rule that wants scope link
// refused every IPv6 real.
TEST_F(CapturedDump, Ipv6ConnectedNetworkIsDirectThoughItsScopeIsGlobal) {
  const auto d = decide("2001:db8:7::21");
  EXPECT_EQ(d.reach, Reach::direct) << to_string(d.reach);
  ASSERT_TRUE(d.route);
  EXPECT_EQ(d.route->dst_len, 64u);
  EXPECT_EQ(d.route->table, static_cast<std::uint32_t>(RT_TABLE_MAIN));
  EXPECT_EQ(d.route->scope, RT_SCOPE_UNIVERSE);
  ASSERT_EQ(d.route->nexthops.size(), 1u);
  EXPECT_GT(d.route->nexthops[0].ifindex, 0);
  EXPECT_FALSE(d.route->nexthops[0].gateway);
}

TEST_F(CapturedDump, Ipv6LongestPrefixThroughAGatewayWinsOverTheConnectedNetwork) {
  // 2001:db8:7::80/122 via 2001:db8:7::1 lies inside the connected /64.
  const auto d = decide("2001:db8:7::85");
  EXPECT_EQ(d.reach, Reach::via_gateway);
  ASSERT_TRUE(d.route);
  EXPECT_EQ(d.route->dst_len, 122u);
  // Just outside it, the /64 decides again.
  EXPECT_EQ(decide("2001:db8:7::c0").reach, Reach::direct);
}

TEST_F(CapturedDump, Ipv6OtherRoutes) {
  EXPECT_EQ(decide("2001:db8:7::2").reach, Reach::local);         // the node's own address
  EXPECT_EQ(decide("2001:db8:8::5").reach, Reach::direct);        // on-link route added by hand
  EXPECT_EQ(decide("2001:db8:9::1").reach, Reach::via_gateway);   // /48 via a router
  EXPECT_EQ(decide("2001:db8:66::1").reach, Reach::no_route);     // blackhole
  EXPECT_EQ(decide("2001:db8:ab::1").reach, Reach::via_gateway);  // only the default route
  EXPECT_EQ(decide("ff02::1").reach, Reach::other);               // multicast, local table
  // Same /64 twice: via the gateway at metric 100 and on-link at metric 500; the lower wins.
  const auto a = decide("2001:db8:a::1");
  EXPECT_EQ(a.reach, Reach::via_gateway);
  ASSERT_TRUE(a.route);
  EXPECT_EQ(a.route->priority, 100u);
  // Table 100 has an on-link route for it, but no rule looks there: the default route decides.
  const auto b = decide("2001:db8:b::1");
  EXPECT_EQ(b.reach, Reach::via_gateway);
  ASSERT_TRUE(b.route);
  EXPECT_EQ(b.route->dst_len, 0u);
}

TEST_F(CapturedDump, Ipv4) {
  const auto d = decide("198.18.7.21");
  EXPECT_EQ(d.reach, Reach::direct);
  ASSERT_TRUE(d.route);
  EXPECT_EQ(d.route->dst_len, 24u);
  EXPECT_EQ(d.route->scope, RT_SCOPE_LINK);
  EXPECT_EQ(decide("198.18.7.200").reach, Reach::via_gateway);  // 198.18.7.128/25 via .1
  EXPECT_EQ(decide("198.18.7.2").reach, Reach::local);
  EXPECT_EQ(decide("198.18.7.255").reach, Reach::other);  // broadcast, local table
  // Added with scope global and no gateway: packets go straight to the neighbour all the same.
  const auto g = decide("198.18.9.5");
  EXPECT_EQ(g.reach, Reach::direct);
  ASSERT_TRUE(g.route);
  EXPECT_EQ(g.route->scope, RT_SCOPE_UNIVERSE);
  EXPECT_EQ(decide("198.19.1.1").reach, Reach::via_gateway);
  EXPECT_EQ(decide("198.18.66.1").reach, Reach::no_route);    // blackhole
  EXPECT_EQ(decide("198.18.10.1").reach, Reach::via_gateway);  // metric 100 beats 500
  EXPECT_EQ(decide("198.18.11.1").reach, Reach::no_route);     // only in table 100
  EXPECT_EQ(decide("198.18.200.1").reach, Reach::no_route);    // no default route here
}

TEST_F(CapturedDump, AnAddressIsNeverMatchedAgainstTheOtherFamily) {
  EXPECT_EQ(xlb::route::decide(v6_, address("198.18.7.21")).reach, Reach::no_route);
  EXPECT_EQ(xlb::route::decide(v4_, address("2001:db8:7::21")).reach, Reach::no_route);
}

// The kernel's own choice for one address (what NeighbourResolver::egress asks for) gives the
// same answers under classify().
TEST(CapturedGetRoute, ClassifiesTheKernelsAnswer) {
  const struct {
    const char* hex;
    Reach want;
  } cases[] = {
      {captured::kGetV6Connected, Reach::direct}, {captured::kGetV6ViaGateway, Reach::via_gateway},
      {captured::kGetV6Own, Reach::local},        {captured::kGetV4Connected, Reach::direct},
      {captured::kGetV4ViaGateway, Reach::via_gateway}, {captured::kGetV4Own, Reach::local},
  };
  for (const auto& c : cases) {
    auto bytes = unhex(c.hex);
    const auto record = xlb::route::parse_route(reinterpret_cast<nlmsghdr*>(bytes.data()));
    ASSERT_TRUE(record);
    EXPECT_EQ(xlb::route::classify(*record), c.want) << to_string(c.want);
  }
}

TEST(RouteRecord, CoversComparesOnlyThePrefixBits) {
  xlb::route::RouteRecord r;
  r.family = AF_INET6;
  r.dst = address("2001:db8:7::80").bytes;
  r.dst_len = 122;
  EXPECT_TRUE(r.covers(address("2001:db8:7::bf")));
  EXPECT_FALSE(r.covers(address("2001:db8:7::c0")));
  EXPECT_FALSE(r.covers(address("2001:db8:7::7f")));
  r.dst_len = 0;
  EXPECT_TRUE(r.covers(address("2001:db8:ffff::1")));
}

}  // namespace
