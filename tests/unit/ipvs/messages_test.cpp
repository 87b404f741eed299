#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/ip_vs.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <array>
#include <cstring>
#include <vector>

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

// keepalived's `lvs_method TUN type gue port 6080 csum`: the three tunnel attributes (kernel
// 5.3+) in the kernel's encodings: u8 type, port big-endian, u16 flags.
TEST(IpvsMessages, GueDestinationCarriesTunnelTypePortAndFlags) {
  TunnelSpec tunnel;
  tunnel.type = TunnelSpec::Type::gue;
  tunnel.port = 6080;
  tunnel.checksum = TunnelSpec::Checksum::csum;
  DestSpec d{boost::asio::ip::make_address("198.18.3.11"), 80, IP_VS_CONN_F_TUNNEL, 2};
  set_tunnel(d, tunnel);
  EXPECT_EQ(d.tun_type, IP_VS_CONN_F_TUNNEL_TYPE_GUE);
  EXPECT_EQ(d.tun_port, 6080);
  EXPECT_EQ(d.tun_flags, IP_VS_TUNNEL_ENCAP_FLAG_CSUM);
  auto msg = dest_msg(kFamily, IPVS_CMD_NEW_DEST, seed_spec().key, d);
  auto raw = [&](int attr) { return raw_attr(msg.get(), IPVS_CMD_ATTR_DEST, attr, IPVS_DEST_ATTR_MAX); };
  EXPECT_EQ(raw(IPVS_DEST_ATTR_TUN_TYPE), (std::vector<std::uint8_t>{IP_VS_CONN_F_TUNNEL_TYPE_GUE}));
  EXPECT_EQ(raw(IPVS_DEST_ATTR_TUN_PORT), (std::vector<std::uint8_t>{0x17, 0xc0}));
  std::uint16_t flags = 0;
  ASSERT_EQ(raw(IPVS_DEST_ATTR_TUN_FLAGS).size(), sizeof flags);
  std::memcpy(&flags, raw(IPVS_DEST_ATTR_TUN_FLAGS).data(), sizeof flags);
  EXPECT_EQ(flags, IP_VS_TUNNEL_ENCAP_FLAG_CSUM);
  auto parsed = parse_dest(nlmsg_hdr(msg.get()), seed_spec().key);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->dest, d);

  tunnel.type = TunnelSpec::Type::gre;  // GRE has no port; remcsum is GUE's only
  tunnel.checksum = TunnelSpec::Checksum::none;
  set_tunnel(d, tunnel);
  EXPECT_EQ(d.tun_type, IP_VS_CONN_F_TUNNEL_TYPE_GRE);
  EXPECT_EQ(d.tun_port, 0);
  EXPECT_EQ(d.tun_flags, IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM);
}

TEST(IpvsMessages, IpipDestinationSaysIpipAndOthersSayNothingOfTunnels) {
  TunnelSpec gue;
  gue.type = TunnelSpec::Type::gue;
  gue.port = 6080;
  DestSpec tun{boost::asio::ip::make_address("198.18.3.11"), 80, IP_VS_CONN_F_TUNNEL, 1};
  set_tunnel(tun, TunnelSpec{});
  auto msg = dest_msg(kFamily, IPVS_CMD_NEW_DEST, seed_spec().key, tun);
  EXPECT_EQ(raw_attr(msg.get(), IPVS_CMD_ATTR_DEST, IPVS_DEST_ATTR_TUN_TYPE, IPVS_DEST_ATTR_MAX),
            (std::vector<std::uint8_t>{IP_VS_CONN_F_TUNNEL_TYPE_IPIP}));
  EXPECT_EQ(raw_attr(msg.get(), IPVS_CMD_ATTR_DEST, IPVS_DEST_ATTR_TUN_PORT, IPVS_DEST_ATTR_MAX),
            (std::vector<std::uint8_t>{0, 0}));
  DestSpec dr{boost::asio::ip::make_address("198.18.0.138"), 80, IP_VS_CONN_F_DROUTE, 1};
  set_tunnel(dr, gue);  // a DR real of a service that also has GUE reals
  EXPECT_EQ(dr.tun_type, 0);
  EXPECT_EQ(dr.tun_port, 0);
  msg = dest_msg(kFamily, IPVS_CMD_NEW_DEST, seed_spec().key, dr);
  EXPECT_TRUE(raw_attr(msg.get(), IPVS_CMD_ATTR_DEST, IPVS_DEST_ATTR_TUN_TYPE, IPVS_DEST_ATTR_MAX).empty());
  EXPECT_TRUE(raw_attr(msg.get(), IPVS_CMD_ATTR_DEST, IPVS_DEST_ATTR_TUN_PORT, IPVS_DEST_ATTR_MAX).empty());
  // Removing needs only the identity, tunnel or not.
  set_tunnel(tun, gue);
  msg = dest_msg(kFamily, IPVS_CMD_DEL_DEST, seed_spec().key, tun);
  EXPECT_TRUE(raw_attr(msg.get(), IPVS_CMD_ATTR_DEST, IPVS_DEST_ATTR_TUN_TYPE, IPVS_DEST_ATTR_MAX).empty());
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
