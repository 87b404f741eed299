// lb_kind TUN end to end (tools/lab/tun-topology.sh): the reals sit in another subnet behind a
// router and take the tunnel apart with xlb-realserver; the balancer runs through XdpBackend
// in native mode, the next hop from its FIB (the router), replies go straight to the client.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "ctrl/dataplane/demo/lab_client.hpp"
#include "ctrl/dataplane/xdp_backend.hpp"
#include "lab.hpp"

namespace xlb::dataplane {
namespace {

using namespace std::chrono_literals;

class TunLab : public test::ScriptLab {
 public:
  TunLab()
      : ScriptLab("tun-topology.sh", test::binary_dir() + "/bpf/pass.bpf.o " + test::binary_dir() +
                                         "/tools/realserver/xlb-realserver") {}
};

class TunLabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::is_root()) GTEST_SKIP() << "needs root (namespaces, XDP)";
    lab_ = std::make_unique<TunLab>();
    ::setenv("LIBXDP_BPFFS", (*lab_)["LAB_BPFFS"].c_str(), 1);
    in_lb_ = std::make_unique<lab::NetnsScope>((*lab_)["LAB_LB"]);
    XdpBackendOptions o;
    o.program.pin_dir = (*lab_)["LAB_BPFFS"] + "/xlb";
    o.program.sizes.max_vips = 16;
    o.program.sizes.max_reals = 64;
    o.program.sizes.max_flows = 16384;
    o.program.sizes.max_persist = 1024;
    o.interfaces = {"eth0"};
    backend_ = std::make_unique<XdpBackend>(io_, o);
  }
  void TearDown() override {
    backend_.reset();
    in_lb_.reset();
    lab_.reset();
  }
  IpAddress ip(const std::string& key) const { return boost::asio::ip::make_address((*lab_)[key]); }
  ServiceSpec spec(std::uint16_t port, TunnelSpec::Type type, std::uint32_t persistence = 0) const {
    ServiceSpec s;
    s.key = {ip("LAB_VIP"), port, Protocol::tcp};
    s.scheduler = Scheduler::wrr;
    s.persistence_timeout = persistence;
    s.tunnel.type = type;
    s.tunnel.port = type == TunnelSpec::Type::gue ? 6080 : 0;
    s.reals = {{ip("LAB_RS1_IP"), port, 2, Forwarding::tun}, {ip("LAB_RS2_IP"), port, 1, Forwarding::tun}};
    return s;
  }
  std::map<std::string, int> requests(int n) {
    return lab::http_tally((*lab_)["LAB_CLIENT"], (*lab_)["LAB_VIP"], 80, n, 3s);
  }
  std::string client(const std::string& command) {
    return test::read_command("ip netns exec " + (*lab_)["LAB_CLIENT"] + " " + command);
  }

  boost::asio::io_context io_;
  std::unique_ptr<TunLab> lab_;
  std::unique_ptr<lab::NetnsScope> in_lb_;
  std::unique_ptr<XdpBackend> backend_;
};

TEST_F(TunLabTest, IpipSplitsTwoToOneOver300RequestsToRealsBehindARouter) {
  backend_->apply(spec(80, TunnelSpec::Type::ipip));
  const auto tally = requests(300);
  EXPECT_EQ(tally.size(), 2u) << "every request answered by rs1 or rs2 (errors are tallied by their text)";
  EXPECT_EQ(tally.at("rs1"), 200);
  EXPECT_EQ(tally.at("rs2"), 100);
  const auto counters = backend_->counters();
  EXPECT_EQ(counters[XLB_CTR_DROP_TUN_NO_NEIGH], 0u);
  EXPECT_EQ(counters[XLB_CTR_DROP_TUN_NO_ROUTE], 0u);
}

TEST_F(TunLabTest, GueSplitsTwoToOneAndPersistenceHolds) {
  backend_->apply(spec(80, TunnelSpec::Type::gue));
  const auto tally = requests(300);
  EXPECT_EQ(tally.at("rs1"), 200);
  EXPECT_EQ(tally.at("rs2"), 100);
  backend_->apply(spec(80, TunnelSpec::Type::gue, 300));
  const auto sticky = requests(30);
  ASSERT_EQ(sticky.size(), 1u) << "one client, one real";
  EXPECT_EQ(sticky.begin()->first.rfind("rs", 0), 0u) << "answered by a real: " << sticky.begin()->first;
}

// 1 MiB each way from a client whose path MTU is 1500: the upload's full-size segments do not
// fit the tunnel, and only the balancer's "fragmentation needed" lets TCP lower its MSS.
TEST_F(TunLabTest, MegabyteUploadAndDownloadThroughPathMtuDiscovery) {
  auto s = spec(80, TunnelSpec::Type::ipip);
  backend_->apply(s);
  auto up = spec(8080, TunnelSpec::Type::ipip);
  backend_->apply(up);
  const std::string vip = (*lab_)["LAB_VIP"];
  const std::string size = client("curl -s -m 10 -o /dev/null -w '%{size_download}' http://" + vip + "/big");
  EXPECT_EQ(size, "1048576");
  const std::string uploaded = client(
      "timeout 15 python3 -c 'import socket; s = socket.create_connection((\"" + vip +
      "\", 8080), 10); s.sendall(bytes(1048576)); s.shutdown(socket.SHUT_WR); print(s.recv(64).decode(), end=\"\")'");
  EXPECT_EQ(uploaded, "1048576");
  EXPECT_GE(backend_->counters()[XLB_CTR_TUN_TOO_BIG], 1u) << "the client learnt the tunnel's MTU from us";
  const std::string route = client("ip route get " + vip);
  EXPECT_NE(route.find("mtu 1480"), std::string::npos) << route;
}

}  // namespace
}  // namespace xlb::dataplane
