#include "ctrl/dataplane/map_codec.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <stdexcept>

namespace xlb::dataplane {
namespace {

IpAddress ip(const char* s) { return boost::asio::ip::make_address(s); }

TEST(MapCodec, VipKeyV4IsZeroPaddedNetworkOrder) {
  auto k = to_vip_key({ip("198.18.0.100"), 80, Protocol::tcp});
  EXPECT_EQ(k.family, XLB_FAMILY_V4);
  EXPECT_EQ(k.proto, 6);
  EXPECT_EQ(k.port, htons(80));
  in_addr a{};
  inet_pton(AF_INET, "198.18.0.100", &a);
  EXPECT_EQ(k.addr[0], a.s_addr);
  EXPECT_EQ(k.addr[1] | k.addr[2] | k.addr[3], 0u);
  auto back = from_vip_key(k);
  EXPECT_EQ(back.address, ip("198.18.0.100"));
  EXPECT_EQ(back.port, 80);
  EXPECT_EQ(back.protocol, Protocol::tcp);
}

TEST(MapCodec, VipKeyV6AndAllPorts) {
  auto k = to_vip_key({ip("2001:db8::1"), 0, Protocol::udp});
  EXPECT_EQ(k.family, XLB_FAMILY_V6);
  EXPECT_EQ(k.port, 0);
  EXPECT_EQ(k.proto, 17);
  EXPECT_EQ(from_vip_key(k).address, ip("2001:db8::1"));
}

TEST(MapCodec, FwmarkServicesRefused) {
  ServiceKey key{ip("198.18.0.1"), 80, Protocol::tcp, 7};
  EXPECT_THROW(to_vip_key(key), std::invalid_argument);
}

TEST(MapCodec, Schedulers) {
  EXPECT_EQ(to_sched(Scheduler::rr), XLB_SCHED_RR);
  EXPECT_EQ(to_sched(Scheduler::wrr), XLB_SCHED_WRR);
  EXPECT_EQ(to_sched(Scheduler::sh), XLB_SCHED_SH);
  EXPECT_EQ(to_sched(Scheduler::mh), XLB_SCHED_MH);
  EXPECT_THROW(to_sched(Scheduler::wlc), std::invalid_argument);
}

TEST(MapCodec, PersistenceMask) {
  auto host = persistence_mask(true, 255);
  EXPECT_EQ(host[0], 0xffffffffu);
  EXPECT_EQ(host[1], 0u);
  auto p24 = persistence_mask(true, 24);
  EXPECT_EQ(p24[0], htonl(0xffffff00u));
  auto p0 = persistence_mask(true, 0);
  EXPECT_EQ(p0[0], 0u);
  auto v6 = persistence_mask(false, 64);
  EXPECT_EQ(v6[0], 0xffffffffu);
  EXPECT_EQ(v6[1], 0xffffffffu);
  EXPECT_EQ(v6[2], 0u);
  auto v6_host = persistence_mask(false, 255);
  EXPECT_EQ(v6_host[3], 0xffffffffu);
  auto v6_52 = persistence_mask(false, 52);
  EXPECT_EQ(v6_52[1], htonl(0xfffff000u));
}

TEST(MapCodec, Identity) {
  EXPECT_EQ(real_identity({ip("198.18.1.1"), 80}), "198.18.1.1:80");
  EXPECT_EQ(real_identity({ip("2001:db8::5"), 443}), "[2001:db8::5]:443");
}

TEST(MapCodec, CounterNames) {
  EXPECT_STREQ(counter_name(XLB_CTR_PASS), "pass");
  EXPECT_STREQ(counter_name(XLB_CTR_DROP_NO_REAL), "drop_no_real");
  EXPECT_STREQ(counter_name(XLB_CTR_SORRY), "sorry");
  EXPECT_STREQ(counter_name(XLB_CTR_MAX), "unknown");
}

TEST(IdPool, LowestFreeFirstAndExhaustion) {
  IdPool pool(1, 4);
  EXPECT_EQ(pool.allocate("real"), 1u);
  EXPECT_EQ(pool.allocate("real"), 2u);
  EXPECT_EQ(pool.allocate("real"), 3u);
  EXPECT_THROW(pool.allocate("real"), std::runtime_error);
  pool.release(2);
  EXPECT_EQ(pool.allocate("real"), 2u);
  IdPool reserved(0, 8);
  reserved.reserve(0);
  reserved.reserve(2);
  EXPECT_EQ(reserved.allocate("vip"), 1u);
  EXPECT_EQ(reserved.allocate("vip"), 3u);
  reserved.release(1);
  reserved.reserve(1);  // taken back from the pins after a release
  EXPECT_EQ(reserved.allocate("vip"), 4u);
  reserved.reserve(6);
  reserved.release(6);  // reserved above the high-water mark, then freed
  EXPECT_EQ(reserved.allocate("vip"), 5u);
  EXPECT_EQ(reserved.allocate("vip"), 6u);
  EXPECT_EQ(reserved.in_use(), 7u);
}

// 160,000 ids (10,000 VIPs x 16 reals): allocation must not scan every used id, which made
// this take minutes (342 s for that configuration in bench/scale) and the test time out.
TEST(IdPool, ManyIdsStayCheap) {
  IdPool pool(1, 200'001);
  for (std::uint32_t i = 1; i <= 160'000; ++i) ASSERT_EQ(pool.allocate("real"), i);
  for (std::uint32_t i = 1; i <= 160'000; i += 2) pool.release(i);
  for (std::uint32_t i = 1; i <= 160'000; i += 2) ASSERT_EQ(pool.allocate("real"), i);
  EXPECT_EQ(pool.allocate("real"), 160'001u);
}

}  // namespace
}  // namespace xlb::dataplane
