#include <gtest/gtest.h>

#include <sstream>

#include "ctrl/dataplane/ipvs/conn_table.hpp"

namespace xlb::dataplane::ipvs {
namespace {

TEST(IpvsConnTable, ParsesConnectionsAndSkipsTemplates) {
  std::istringstream in(
      "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n"
      "IP  C612000B 0000 C6120064 0050 C612008A 0050 NONE             49\n"
      "TCP C612000C 0000 C6120064 0050 C612008A 0050 NONE             49\n"
      "TCP C612000B 9C40 C6120064 0050 C612008A 0050 FIN_WAIT        119\n"
      "UDP 2001:0db8:0000:0000:0000:0000:0000:000b 1F90 2001:0db8:0000:0000:0000:0000:0000:0064 "
      "0035 2001:0db8:0000:0000:0000:0000:0000:008a 0035 UDP             299\n"
      "TCP garbage\n");
  auto v = parse_ip_vs_conn(in);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].flow.client.to_string(), "198.18.0.11");
  EXPECT_EQ(v[0].flow.client_port, 40000);
  EXPECT_EQ(v[0].flow.service.address.to_string(), "198.18.0.100");
  EXPECT_EQ(v[0].flow.service.port, 80);
  EXPECT_EQ(v[0].flow.service.protocol, Protocol::tcp);
  EXPECT_EQ(v[0].flow.real.to_string(), "198.18.0.138");
  EXPECT_EQ(v[0].state, "FIN_WAIT");
  EXPECT_EQ(v[0].expires_s, 119u);
  EXPECT_EQ(v[1].flow.client.to_string(), "2001:db8::b");
  EXPECT_EQ(v[1].flow.service.protocol, Protocol::udp);
  EXPECT_EQ(v[1].flow.service.port, 53);
}

}  // namespace
}  // namespace xlb::dataplane::ipvs
