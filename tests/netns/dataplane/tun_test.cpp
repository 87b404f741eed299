// lb_kind TUN end to end (tools/lab/tun-topology.sh): the reals sit in another subnet behind a
// router and take the tunnel apart with xlb-realserver; the balancer runs through XdpBackend
// in native mode, the next hop from its FIB (the router), replies go straight to the client.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <map>
#include <memory>
#include <string>

#include "tools/dp-demo/lab_client.hpp"
#include "ctrl/dataplane/map_values.hpp"
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
  // v6: the IPv6 VIP and reals (IPv6 in IPv6 through the router).
  ServiceSpec spec(std::uint16_t port, TunnelSpec::Type type, std::uint32_t persistence = 0, bool v6 = false) const {
    const std::string sfx = v6 ? "6" : "";
    ServiceSpec s;
    s.key = {ip("LAB_VIP" + sfx), port, Protocol::tcp};
    s.scheduler = Scheduler::wrr;
    s.persistence_timeout = persistence;
    s.tunnel.type = type;
    s.tunnel.port = type == TunnelSpec::Type::gue ? 6080 : 0;
    s.reals = {{ip("LAB_RS1_IP" + sfx), port, 2, Forwarding::tun}, {ip("LAB_RS2_IP" + sfx), port, 1, Forwarding::tun}};
    return s;
  }
  std::map<std::string, int> requests(int n, const std::string& vip_key = "LAB_VIP") {
    return lab::http_tally((*lab_)["LAB_CLIENT"], (*lab_)[vip_key], 80, n, 3s);
  }
  // 1 MiB down (curl) and up (to the real's byte counter on 8080) between the client and VIP.
  void megabyte_both_ways(const std::string& vip) {
    const std::string url_host = vip.find(':') != std::string::npos ? "[" + vip + "]" : vip;
    const std::string size = client("curl -g -s -m 10 -o /dev/null -w '%{size_download}' http://" + url_host + "/big");
    EXPECT_EQ(size, "1048576");
    const std::string uploaded = client(
        "timeout 15 python3 -c 'import socket; s = socket.create_connection((\"" + vip +
        "\", 8080), 10); s.sendall(bytes(1048576)); s.shutdown(socket.SHUT_WR); print(s.recv(64).decode(), end=\"\")'");
    EXPECT_EQ(uploaded, "1048576");
  }
  // Ports 80 and 8080 of the VIP at vip_key (LAB_VIP or LAB_VIP6) through `type` tunnels, 1 MiB
  // each way; then `answered` (the balancer's counter of the ICMP that taught the client) has
  // moved, and the client's route to the VIP shows the path MTU `mtu` it learnt.
  void megabyte_through_path_mtu(const std::string& vip_key, TunnelSpec::Type type, xlb_counter answered, int mtu) {
    const bool v6 = vip_key == "LAB_VIP6";
    backend_->apply(spec(80, type, 0, v6));
    backend_->apply(spec(8080, type, 0, v6));
    const std::string vip = (*lab_)[vip_key];
    megabyte_both_ways(vip);
    EXPECT_GE(backend_->counters()[answered], 1u) << "the client learnt the path's MTU from us; counters:" << counters();
    const std::string route = client(std::string(v6 ? "ip -6" : "ip") + " route get " + vip);
    EXPECT_NE(route.find("mtu " + std::to_string(mtu) + " "), std::string::npos) << route;
  }
  // The counters that moved, for failure messages.
  std::string counters() const {
    std::string out;
    const auto all = backend_->counters();
    for (std::uint32_t i = 0; i < all.size(); ++i)
      if (all[i]) out += " " + std::string(counter_name(i)) + "=" + std::to_string(all[i]);
    return out;
  }
  // The link from the router to the reals narrower than the balancer's: the router, not the
  // balancer, finds the tunnel packets too big and tells the tunnel's source (the balancer).
  void narrow_link_to_reals(int mtu) {
    for (const auto& [ns, dev] : {std::pair{"LAB_ROUTER", "1"}, std::pair{"LAB_RS1", "0"}, std::pair{"LAB_RS2", "0"}})
      test::must("ip -n " + (*lab_)[ns] + " link set eth" + dev + " mtu " + std::to_string(mtu));
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
  std::string seen;
  for (const auto& [answer, n] : tally) seen += " [" + answer + "] x" + std::to_string(n);
  EXPECT_EQ(tally.size(), 2u) << "every request answered by rs1 or rs2:" << seen;
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
  megabyte_through_path_mtu("LAB_VIP", TunnelSpec::Type::ipip, XLB_CTR_TUN_TOO_BIG, 1480);
}

// The router's link to the reals has MTU 1400: past the balancer's own answer (1480), the
// upload's 1480-byte packets leave it as 1500-byte IPIP packets, which the router refuses with
// "fragmentation needed" (1400) to the balancer. Only the balancer's relay of that error to the
// client (1400 - 20, then 1400 - 32 for GUE) lets the upload through; without it, it stalls.
TEST_F(TunLabTest, UploadCrossesANarrowerLinkBehindTheRouterThroughTheRelayedError) {
  narrow_link_to_reals(1400);
  megabyte_through_path_mtu("LAB_VIP", TunnelSpec::Type::ipip, XLB_CTR_TUN_ICMP_RELAYED, 1380);
  const auto after_ipip = backend_->counters()[XLB_CTR_TUN_ICMP_RELAYED];
  megabyte_through_path_mtu("LAB_VIP", TunnelSpec::Type::gue, XLB_CTR_TUN_ICMP_RELAYED, 1368);
  EXPECT_GT(backend_->counters()[XLB_CTR_TUN_ICMP_RELAYED], after_ipip) << "GUE's 12 bytes more needed another";
}

// Likewise over IPv6: the router's "packet too big" (1400) reaches the client as 1400 - 40.
TEST_F(TunLabTest, Ip6ip6UploadCrossesANarrowerLinkThroughTheRelayedPacketTooBig) {
  narrow_link_to_reals(1400);
  megabyte_through_path_mtu("LAB_VIP6", TunnelSpec::Type::ipip, XLB_CTR_TUN_ICMP_RELAYED, 1360);
}

// IPv6 in IPv6 to reals in another /64 behind the router: the wrr split, then 1 MiB each way,
// where only the balancer's ICMPv6 "packet too big" (MTU 1500 - 40) lets the upload through.
TEST_F(TunLabTest, Ip6ip6SplitsTwoToOneAndAMegabyteCrossesThroughPacketTooBig) {
  backend_->apply(spec(80, TunnelSpec::Type::ipip, 0, true));
  const auto tally = requests(300, "LAB_VIP6");
  EXPECT_EQ(tally.size(), 2u) << "every request answered by rs1 or rs2 (errors are tallied by their text)";
  EXPECT_EQ(tally.at("rs1"), 200);
  EXPECT_EQ(tally.at("rs2"), 100);
  megabyte_through_path_mtu("LAB_VIP6", TunnelSpec::Type::ipip, XLB_CTR_TUN_TOO_BIG, 1460);
}

// xlbd itself on the TUN lab (tun-topology.sh xlbd): a tunnelled TCP stream lives through a
// SIGHUP that changes the weights and through a SIGTERM + restart (the program and its maps
// stay; the new xlbd takes them over), new requests follow the new weights, and xlbctl list
// names the reals' method as ipvsadm -Ln would (Tunnel).
TEST(TunLabXlbd, ReloadAndRestartKeepATunnelledStreamAndFollowTheNewWeights) {
  if (!test::is_root()) GTEST_SKIP() << "needs root (namespaces, XDP)";
  TunLab lab;
  const std::string state = lab["LAB_STATE"], vip = lab["LAB_VIP"], build = test::binary_dir();
  const std::string conf = state + "/xlbd.conf";
  auto write_conf = [&](int w1, int w2) {
    std::ofstream f(conf);
    f << "global_defs {\n  router_id tun-lab\n  lb_backend xdp\n}\n";
    for (const auto& [addr, sfx] : {std::pair{vip, std::string()}, std::pair{lab["LAB_VIP6"], std::string("6")}})
      for (int port : {80, 8080})
        f << "virtual_server " << addr << " " << port << " {\n  lb_algo wrr\n  lb_kind TUN\n  protocol TCP\n"
          << "  real_server " << lab["LAB_RS1_IP" + sfx] << " " << port << " { weight " << w1 << " }\n"
          << "  real_server " << lab["LAB_RS2_IP" + sfx] << " " << port << " { weight " << w2 << " }\n}\n";
  };
  const std::string pidfile = state + "/run-xlbd-tun.pid";
  auto xlbd_log = [&] { return test::read_command("tail -n 20 " + state + "/xlbd-tun.log"); };
  auto tally = [&](int n) { return lab::http_tally(lab["LAB_CLIENT"], vip, 80, n, 3s); };
  write_conf(2, 1);
  ASSERT_EQ(lab.call("xlbd", build + " " + conf + " tun"), 0) << xlbd_log();
  std::map<std::string, int> first;
  for (int i = 0; i < 50 && first.size() != 2; ++i) first = tally(3);
  ASSERT_EQ(first.size(), 2u) << "no answers through xlbd's tunnel: " << xlbd_log();

  // The stream: 1000 bytes every 20 ms to rs1/rs2's byte counter until the stop file appears;
  // a flow moved to the other real would be reset and the script would fail.
  const std::string stop = state + "/stream.stop", result = state + "/stream.out";
  test::must("ip netns exec " + lab["LAB_CLIENT"] + " python3 -c 'import os, socket, time\n"
             "t0 = time.time(); s = socket.create_connection((\"" + vip + "\", 8080), 5); n = 0\n"
             "print(\"connected after\", round(time.time() - t0, 2), os.path.exists(\"" + stop + "\"), flush=True)\n"
             "while not os.path.exists(\"" + stop + "\"):\n"
             "    s.sendall(bytes(1000)); n += 1000; time.sleep(0.02)\n"
             "s.shutdown(socket.SHUT_WR); s.settimeout(10); print(n, s.recv(64).decode())' > " + result + " 2>&1 &");
  const std::string ctl = build + "/tools/xlbctl/xlbctl -s " + state + "/tun.sock ";
  for (int i = 0; i < 100 && test::read_command("cat " + result).find("connected") == std::string::npos; ++i)
    std::this_thread::sleep_for(100ms);
  ASSERT_NE(test::read_command("cat " + result).find("connected after"), std::string::npos)
      << "the stream did not connect: " << test::read_command("cat " + result);

  write_conf(1, 1);
  ASSERT_EQ(::kill(std::stoi(test::read_command("cat " + pidfile)), SIGHUP), 0);
  std::map<std::string, int> after_hup;
  for (int i = 0; i < 100; ++i) {
    if (test::read_command(ctl + "list").find("Tunnel  1 ") != std::string::npos &&
        test::read_command(ctl + "list").find("Tunnel  2 ") == std::string::npos)
      break;
    std::this_thread::sleep_for(100ms);
  }
  const std::string listing = test::read_command(ctl + "list");
  after_hup = tally(30);
  // 1:1 now (2:1 would give 20/10); the ring's interleaving may put one extra on either side.
  EXPECT_NEAR(after_hup["rs1"], 15, 2) << "weights 1:1 after SIGHUP";
  EXPECT_NEAR(after_hup["rs2"], 15, 2);
  EXPECT_EQ(after_hup["rs1"] + after_hup["rs2"], 30);

  ASSERT_EQ(lab.call("xlbd-kill", "tun TERM"), 0);
  ASSERT_EQ(lab.call("xlbd", build + " " + conf + " tun"), 0) << xlbd_log();
  const auto after_restart = tally(30);
  EXPECT_EQ(after_restart.size(), 2u) << "answers after the restart";
  test::must("touch " + stop);
  std::string out;
  for (int i = 0; i < 150 && std::count(out.begin(), out.end(), '\n') < 2; ++i) {
    std::this_thread::sleep_for(100ms);
    out = test::read_command("cat " + result);
  }
  std::istringstream words(out.substr(out.find('\n') + 1));
  long sent = -1, counted = -2;
  words >> sent >> counted;
  EXPECT_GT(sent, 0) << out;
  EXPECT_EQ(sent, counted) << "the stream broke or lost bytes: " << out;

  // ipvsadm -Ln's columns: method Tunnel for every real, the 1:1 weights of the reload.
  int tunnel_rows = 0;
  std::istringstream rows(listing);
  for (std::string line; std::getline(rows, line);)
    if (line.rfind("  -> ", 0) == 0 && line.find("RemoteAddress") == std::string::npos) {
      EXPECT_NE(line.find(" Tunnel  1 "), std::string::npos) << line;
      ++tunnel_rows;
    }
  EXPECT_EQ(tunnel_rows, 8) << listing;
}

}  // namespace
}  // namespace xlb::dataplane
