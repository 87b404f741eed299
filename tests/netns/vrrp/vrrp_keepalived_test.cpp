// xlb's VRRP against keepalived 2.2.7 (--vrrp) in namespaces: both roles, v2 and v3,
// multicast and unicast, PASS authentication. The right node holds the VIP, the other takes
// it over when the holder goes, and xlb drops none of keepalived's adverts.
#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "lab.hpp"

namespace xlb::vrrp {
namespace {

using namespace lab;
using namespace std::chrono_literals;

const std::string kVip = "198.18.0.100";

struct Case {
  std::string name;
  int version;
  bool unicast;
  bool pass;
  bool xlb_master;
  bool ipv6 = false;
};

std::string PrintCase(const ::testing::TestParamInfo<Case>& i) { return i.param.name; }

class VrrpKeepalived : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "namespace tests need root";
    if (!have("keepalived")) GTEST_SKIP() << "keepalived is not installed";
  }
};

TEST_P(VrrpKeepalived, HoldsAndFailsOver) {
  const Case& c = GetParam();
  Lab lab;
  std::string x = lab.add_ns("x", c.ipv6), k = lab.add_ns("k", c.ipv6);
  lab.link(x, "eth0", "198.18.0.1/24", k, "eth0", "198.18.0.2/24");
  lab.wait_links_up();
  const std::string kVip = c.ipv6 ? "2001:db8::100" : xlb::vrrp::kVip;
  std::string advert = c.version == 3 ? "0.1" : "1";
  int xprio = c.xlb_master ? 150 : 100, kprio = c.xlb_master ? 100 : 150;

  std::ostringstream body;
  body << "  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  priority " << kprio
       << "\n  advert_int " << advert << "\n  version " << c.version << "\n";
  if (c.pass) body << "  authentication {\n    auth_type PASS\n    auth_pass secret\n  }\n";
  if (c.unicast) body << "  unicast_src_ip 198.18.0.2\n  unicast_peer {\n    198.18.0.1\n  }\n";
  body << "  virtual_ipaddress {\n    " << kVip << (c.ipv6 ? "/128" : "/32") << " dev eth0\n  }\n";
  auto ka = start_keepalived(lab, k, "ka", body.str());

  std::vector<std::string> args = {vrrp_node_path(), "--interface", "eth0", "--priority",
                                   std::to_string(xprio), "--version", std::to_string(c.version),
                                   "--advert-int", advert, "--vip", kVip, "--log-level", "debug"};
  if (c.pass) args.insert(args.end(), {"--auth-pass", "secret"});
  if (c.unicast) args.insert(args.end(), {"--unicast-src", "198.18.0.1", "--peer", "198.18.0.2"});
  Process xlb(x, args, lab.file("xlb.log"));
  ASSERT_TRUE(xlb.wait_log("READY", 5s)) << xlb.log();

  const std::string& holder = c.xlb_master ? x : k;
  const std::string& other = c.xlb_master ? k : x;
  auto logs = [&] { return "xlb:\n" + xlb.log() + "\nkeepalived:\n" + ka->log(); };
  ASSERT_TRUE(wait_until([&] { return has_vip(holder, kVip) && !has_vip(other, kVip); }, 15s))
      << logs();
  // Stable for a while: no flapping between the two implementations.
  auto end = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < end) {
    ASSERT_TRUE(has_vip(holder, kVip) && !has_vip(other, kVip)) << logs();
    std::this_thread::sleep_for(50ms);
  }
  xlb.signal(SIGUSR1);
  ASSERT_TRUE(xlb.wait_log("COUNTERS", 2s));
  std::string counters = xlb.log().substr(xlb.log().find("COUNTERS"));
  for (const char* zero : {"bad_checksum=0", "auth_mismatch=0", "address_mismatch=0",
                           "bad_ttl=0", "bad_length=0", "advert_int_mismatch=0"})
    EXPECT_NE(counters.find(zero), std::string::npos) << zero << "\n" << counters;
  if (!c.xlb_master) {
    EXPECT_EQ(counters.find(" received=0 "), std::string::npos) << counters;
  }

  if (c.xlb_master) {
    xlb.signal(SIGKILL);
    ASSERT_TRUE(xlb.wait_exit(2s));
    ASSERT_TRUE(wait_until([&] { return has_vip(k, kVip); }, 10s)) << logs();
  } else {
    ka->signal(SIGTERM);
    ASSERT_TRUE(wait_until([&] { return has_vip(x, kVip) && !has_vip(k, kVip); }, 10s)) << logs();
    EXPECT_NE(xlb.log().find("master left (priority 0)"), std::string::npos) << logs();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Interop, VrrpKeepalived,
    ::testing::Values(Case{"V2MulticastPassXlbMaster", 2, false, true, true},
                      Case{"V2MulticastPassKeepalivedMaster", 2, false, true, false},
                      Case{"V2UnicastXlbMaster", 2, true, false, true},
                      Case{"V3MulticastXlbMaster", 3, false, false, true},
                      Case{"V3MulticastKeepalivedMaster", 3, false, false, false},
                      Case{"V3UnicastXlbMaster", 3, true, false, true},
                      Case{"V3UnicastKeepalivedMaster", 3, true, false, false},
                      Case{"V3Ipv6MulticastXlbMaster", 3, false, false, true, true},
                      Case{"V3Ipv6MulticastKeepalivedMaster", 3, false, false, false, true}),
    PrintCase);

}  // namespace
}  // namespace xlb::vrrp
