#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/ip_vs.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <array>
#include <cstring>

#include "ctrl/dataplane/ipvs/messages.hpp"

namespace xlb::dataplane::ipvs {
namespace {

constexpr int kFamily = 42;  // any id: messages are decoded locally, never sent

ServiceSpec seed_spec() {
  ServiceSpec s;
  s.key.address = boost::asio::ip::make_address("198.18.0.100");
  s.key.port = 80;
  s.scheduler = Scheduler::wrr;
  s.persistence_timeout = 50;
  return s;
}

// Returns the raw payload of one attribute inside the first-level nest `outer`.
std::vector<std::uint8_t> raw_attr(nl_msg* msg, int outer, int inner, int max) {
  std::array<nlattr*, IPVS_CMD_ATTR_MAX + 1> top{};
  EXPECT_EQ(genlmsg_parse(nlmsg_hdr(msg), 0, top.data(), IPVS_CMD_ATTR_MAX, nullptr), 0);
  std::vector<nlattr*> tb(max + 1);
  EXPECT_EQ(nla_parse_nested(tb.data(), max, top[outer], nullptr), 0);
  if (!tb[inner]) return {};
  auto* p = static_cast<std::uint8_t*>(nla_data(tb[inner]));
  return {p, p + nla_len(tb[inner])};
}

TEST(IpvsMessages, HeaderCarriesCommandFamilyAndVersion) {
  const auto attrs = service_attrs(seed_spec());
  auto msg = service_msg(kFamily, IPVS_CMD_NEW_SERVICE, seed_spec().key, &attrs);
  nlmsghdr* h = nlmsg_hdr(msg.get());
  EXPECT_EQ(h->nlmsg_type, kFamily);
  auto* g = static_cast<genlmsghdr*>(nlmsg_data(h));
  EXPECT_EQ(g->cmd, IPVS_CMD_NEW_SERVICE);
  EXPECT_EQ(g->version, IPVS_GENL_VERSION);
}

TEST(IpvsMessages, ServiceRoundTripsWithPersistence) {
  const ServiceSpec spec = seed_spec();
  const auto attrs = service_attrs(spec);
  EXPECT_EQ(attrs.scheduler, "wrr");
  EXPECT_EQ(attrs.flags, std::uint32_t{IP_VS_SVC_F_PERSISTENT});
  EXPECT_EQ(attrs.timeout, 50u);
  EXPECT_EQ(attrs.netmask, 0xffffffffu);
  auto msg = service_msg(kFamily, IPVS_CMD_NEW_SERVICE, spec.key, &attrs);
  auto parsed = parse_service(nlmsg_hdr(msg.get()));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->key, spec.key);
  EXPECT_EQ(parsed->attrs, attrs);
}

TEST(IpvsMessages, PortAndAddressAreInNetworkOrder) {
  const auto attrs = service_attrs(seed_spec());
  auto msg = service_msg(kFamily, IPVS_CMD_NEW_SERVICE, seed_spec().key, &attrs);
  EXPECT_EQ(raw_attr(msg.get(), IPVS_CMD_ATTR_SERVICE, IPVS_SVC_ATTR_PORT, IPVS_SVC_ATTR_MAX),
            (std::vector<std::uint8_t>{0x00, 0x50}));
  EXPECT_EQ(raw_attr(msg.get(), IPVS_CMD_ATTR_SERVICE, IPVS_SVC_ATTR_ADDR, IPVS_SVC_ATTR_MAX),
            (std::vector<std::uint8_t>{198, 18, 0, 100}));
  auto flags = raw_attr(msg.get(), IPVS_CMD_ATTR_SERVICE, IPVS_SVC_ATTR_FLAGS, IPVS_SVC_ATTR_MAX);
  ASSERT_EQ(flags.size(), sizeof(ip_vs_flags));
  ip_vs_flags f;
  std::memcpy(&f, flags.data(), sizeof f);
  EXPECT_EQ(f.flags, std::uint32_t{IP_VS_SVC_F_PERSISTENT});
  EXPECT_EQ(f.mask, ~0u);  // SET replaces every flag
}

TEST(IpvsMessages, IdentityOnlyMessagesLeaveOutStoredAttributes) {
  auto msg = service_msg(kFamily, IPVS_CMD_DEL_SERVICE, seed_spec().key);
  EXPECT_TRUE(raw_attr(msg.get(), IPVS_CMD_ATTR_SERVICE, IPVS_SVC_ATTR_SCHED_NAME,
                       IPVS_SVC_ATTR_MAX).empty());
  EXPECT_FALSE(raw_attr(msg.get(), IPVS_CMD_ATTR_SERVICE, IPVS_SVC_ATTR_PORT,
                        IPVS_SVC_ATTR_MAX).empty());
}

TEST(IpvsMessages, FwmarkServiceHasNoAddressOrPort) {
  ServiceSpec spec;
  spec.key.fwmark = 7;
  spec.scheduler = Scheduler::mh;
  const auto attrs = service_attrs(spec);
  auto msg = service_msg(kFamily, IPVS_CMD_NEW_SERVICE, spec.key, &attrs);
  EXPECT_TRUE(raw_attr(msg.get(), IPVS_CMD_ATTR_SERVICE, IPVS_SVC_ATTR_ADDR,
                       IPVS_SVC_ATTR_MAX).empty());
  auto parsed = parse_service(nlmsg_hdr(msg.get()));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->key.fwmark, 7u);
  EXPECT_EQ(parsed->attrs.scheduler, "mh");
  EXPECT_EQ(parsed->attrs.flags, 0u);
}

TEST(IpvsMessages, PersistenceGranularity) {
  ServiceSpec spec = seed_spec();
  spec.persistence_prefix_len = 24;
  EXPECT_EQ(service_attrs(spec).netmask, htonl(0xffffff00u));
  spec.key.address = boost::asio::ip::make_address("2001:db8::100");
  spec.persistence_prefix_len = 64;
  EXPECT_EQ(service_attrs(spec).netmask, 64u);
  spec.persistence_prefix_len = 255;
  EXPECT_EQ(service_attrs(spec).netmask, 128u);
}

TEST(IpvsMessages, SchedulersAndForwardingMethods) {
  EXPECT_EQ(scheduler_name(Scheduler::rr), "rr");
  EXPECT_EQ(scheduler_name(Scheduler::sh), "sh");
  EXPECT_EQ(scheduler_name(Scheduler::lc), "lc");
  EXPECT_EQ(scheduler_name(Scheduler::wlc), "wlc");
  EXPECT_EQ(fwd_method(Forwarding::dr), std::uint32_t{IP_VS_CONN_F_DROUTE});
  EXPECT_EQ(fwd_method(Forwarding::nat), std::uint32_t{IP_VS_CONN_F_MASQ});
  EXPECT_EQ(fwd_method(Forwarding::tun), std::uint32_t{IP_VS_CONN_F_TUNNEL});
}

TEST(IpvsMessages, DestinationRoundTrips) {
  DestSpec d{boost::asio::ip::make_address("198.18.0.138"), 80, IP_VS_CONN_F_DROUTE, 2};
  auto msg = dest_msg(kFamily, IPVS_CMD_NEW_DEST, seed_spec().key, d);
  auto parsed = parse_dest(nlmsg_hdr(msg.get()), seed_spec().key);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->dest, d);
  // The destination command names its service too.
  auto svc = parse_service(nlmsg_hdr(msg.get()));
  ASSERT_TRUE(svc);
  EXPECT_EQ(svc->key, seed_spec().key);
}

TEST(IpvsMessages, DeleteDestinationCarriesOnlyItsIdentity) {
  DestSpec d{boost::asio::ip::make_address("198.18.0.138"), 80, IP_VS_CONN_F_DROUTE, 2};
  auto msg = dest_msg(kFamily, IPVS_CMD_DEL_DEST, seed_spec().key, d);
  EXPECT_TRUE(raw_attr(msg.get(), IPVS_CMD_ATTR_DEST, IPVS_DEST_ATTR_WEIGHT,
                       IPVS_DEST_ATTR_MAX).empty());
  EXPECT_FALSE(raw_attr(msg.get(), IPVS_CMD_ATTR_DEST, IPVS_DEST_ATTR_ADDR,
                        IPVS_DEST_ATTR_MAX).empty());
}

TEST(IpvsMessages, MixedFamilyDestinationNamesItsFamily) {
  DestSpec d{boost::asio::ip::make_address("2001:db8::138"), 80, IP_VS_CONN_F_TUNNEL, 1};
  auto msg = dest_msg(kFamily, IPVS_CMD_NEW_DEST, seed_spec().key, d);
  auto af = raw_attr(msg.get(), IPVS_CMD_ATTR_DEST, IPVS_DEST_ATTR_ADDR_FAMILY, IPVS_DEST_ATTR_MAX);
  ASSERT_EQ(af.size(), 2u);
  auto parsed = parse_dest(nlmsg_hdr(msg.get()), seed_spec().key);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->dest.address, d.address);
}

TEST(IpvsMessages, DumpRequestsAreDumps) {
  auto msg = dump_services_msg(kFamily);
  EXPECT_TRUE(nlmsg_hdr(msg.get())->nlmsg_flags & NLM_F_DUMP);
  auto dests = dump_dests_msg(kFamily, seed_spec().key);
  EXPECT_TRUE(nlmsg_hdr(dests.get())->nlmsg_flags & NLM_F_DUMP);
  EXPECT_TRUE(parse_service(nlmsg_hdr(dests.get())));
}

TEST(IpvsMessages, ParseRejectsMessagesWithoutTheNest) {
  auto msg = flush_msg(kFamily);
  EXPECT_FALSE(parse_service(nlmsg_hdr(msg.get())));
  EXPECT_FALSE(parse_dest(nlmsg_hdr(msg.get()), seed_spec().key));
}

}  // namespace
}  // namespace xlb::dataplane::ipvs
