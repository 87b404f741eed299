#include <gtest/gtest.h>
#include <linux/ip_vs.h>

#include <system_error>

#include "ctrl/dataplane/ipvs/choose_backend.hpp"
#include "ctrl/dataplane/ipvs/genl_socket.hpp"
#include "ctrl/dataplane/ipvs/ipvs_backend.hpp"

namespace xlb::dataplane {
namespace {

TEST(ChooseBackend, AutoPrefersXdp) {
  auto c = choose_backend(BackendRequest::automatic, false, true, true);
  EXPECT_EQ(c.backend, BackendKind::xdp);
}

TEST(ChooseBackend, AutoFallsBackToIpvsWhenXdpCannotAttach) {
  auto c = choose_backend(BackendRequest::automatic, false, false, true);
  EXPECT_EQ(c.backend, BackendKind::ipvs);
  EXPECT_NE(c.reason.find("cannot attach"), std::string::npos) << c.reason;
}

TEST(ChooseBackend, AutoUsesIpvsForNatOrTunEvenWhenXdpAttaches) {
  auto c = choose_backend(BackendRequest::automatic, true, true, true);
  EXPECT_EQ(c.backend, BackendKind::ipvs);
  EXPECT_NE(c.reason.find("NAT or TUN type gre"), std::string::npos) << c.reason;
}

TEST(ChooseBackend, AutoWithNeitherIsAnError) {
  auto c = choose_backend(BackendRequest::automatic, false, false, false);
  EXPECT_FALSE(c.backend);
  EXPECT_NE(c.reason.find("IPVS"), std::string::npos) << c.reason;
  c = choose_backend(BackendRequest::automatic, true, true, false);
  EXPECT_FALSE(c.backend);
}

TEST(ChooseBackend, ExplicitRequestsAreNotSecondGuessed) {
  EXPECT_EQ(choose_backend(BackendRequest::xdp, false, true, true).backend, BackendKind::xdp);
  EXPECT_FALSE(choose_backend(BackendRequest::xdp, false, false, true).backend);
  EXPECT_FALSE(choose_backend(BackendRequest::xdp, true, true, true).backend);
  EXPECT_EQ(choose_backend(BackendRequest::ipvs, false, true, true).backend, BackendKind::ipvs);
  EXPECT_FALSE(choose_backend(BackendRequest::ipvs, false, true, false).backend);
}

TEST(ChooseBackend, ParsesKeywordValues) {
  EXPECT_EQ(parse_backend_request("xdp"), BackendRequest::xdp);
  EXPECT_EQ(parse_backend_request("ipvs"), BackendRequest::ipvs);
  EXPECT_EQ(parse_backend_request("auto"), BackendRequest::automatic);
  EXPECT_FALSE(parse_backend_request("lvs"));
  EXPECT_EQ(to_string(BackendKind::ipvs), "ipvs");
}

TEST(GenlProbe, ResolvesRealFamiliesOnly) {
  EXPECT_TRUE(ipvs::genl_family_exists("nlctrl"));  // the controller itself always exists
  EXPECT_FALSE(ipvs::genl_family_exists("XLB_NO_SUCH_FAMILY"));
}

TEST(ChooseBackend, AutoWithTheRealProbeOnAKernelWithoutIpvs) {
  if (ipvs_available()) GTEST_SKIP() << "this kernel has IPVS; the VM suite covers that direction";
  // NAT/TUN cannot be served here at all; DR stays on XDP.
  auto c = choose_backend(BackendRequest::automatic, true, true, ipvs_available());
  EXPECT_FALSE(c.backend);
  EXPECT_NE(c.reason.find("load ip_vs"), std::string::npos) << c.reason;
  EXPECT_EQ(choose_backend(BackendRequest::automatic, false, true, ipvs_available()).backend,
            BackendKind::xdp);
}

TEST(GenlProbe, IpvsBackendRefusesToStartWithoutIpvs) {
  if (ipvs_available()) GTEST_SKIP() << "this kernel has IPVS; the VM suite covers it";
  EXPECT_THROW(IpvsBackend{}, std::system_error);
}

}  // namespace
}  // namespace xlb::dataplane
