// Real TCP through the XDP balancer in the namespace lab (tools/lab/dr-topology.sh): a
// client, one LB running the program through XdpBackend in native mode, two real servers
// with the VIP on lo that answer HTTP with their own names.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tools/dp-demo/lab_client.hpp"
#include "ctrl/dataplane/xdp_backend.hpp"
#include "lab.hpp"

namespace xlb::dataplane {
namespace {

using namespace std::chrono_literals;


// The lab's namespaces, processes and bpffs (tools/lab/dr-topology.sh).
class Topology : public test::ScriptLab {
 public:
  Topology() : ScriptLab("dr-topology.sh", test::binary_dir() + "/bpf/pass.bpf.o") {}
};

class DrLabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::is_root()) GTEST_SKIP() << "needs root (namespaces, XDP)";
    lab_ = std::make_unique<Topology>();
    ::setenv("LIBXDP_BPFFS", (*lab_)["LAB_BPFFS"].c_str(), 1);
    in_lb_ = std::make_unique<lab::NetnsScope>((*lab_)["LAB_LB"]);
    backend_ = std::make_unique<XdpBackend>(io_, options());
  }
  XdpBackendOptions options() const {
    XdpBackendOptions o;
    o.program.pin_dir = (*lab_)["LAB_BPFFS"] + "/xlb";
    o.program.sizes.max_vips = 16;
    o.program.sizes.max_reals = 64;
    o.program.sizes.max_flows = 16384;
    o.program.sizes.max_persist = 1024;
    o.interfaces = {"eth0"};
    return o;
  }
  void TearDown() override {
    backend_.reset();  // detaches while still inside the LB's namespace
    in_lb_.reset();
    lab_.reset();
  }

  IpAddress ip(const std::string& key) const { return boost::asio::ip::make_address((*lab_)[key]); }
  // What the per-CPU flow caches follow: it moves whenever they must drop their copies.
  std::uint32_t cache_epoch() const {
    const std::uint32_t zero = 0;
    return backend_->program().vip_filter().lookup<std::uint32_t, xlb_vip_filter>(zero).value_or(xlb_vip_filter{})
        .cache_epoch;
  }
  // Sum of every VIP id's incarnation: it moves when a VIP goes.
  std::uint64_t incarnations() const {
    std::uint64_t sum = 0;
    for (const auto& [id, state] : backend_->program().vip_state().entries<std::uint32_t, xlb_vip_state>()) {
      sum += state.incarnation;
    }
    return sum;
  }
  ServiceSpec spec(std::uint32_t w1, std::uint32_t w2, std::uint32_t persistence = 0) const {
    ServiceSpec s;
    s.key = {ip("LAB_VIP"), 80, Protocol::tcp};
    s.scheduler = Scheduler::wrr;
    s.persistence_timeout = persistence;
    s.reals = {{ip("LAB_RS1_IP"), 80, w1}, {ip("LAB_RS2_IP"), 80, w2}};
    return s;
  }
  std::map<std::string, int> requests(int n, std::chrono::milliseconds timeout = 3s) {
    return lab::http_tally((*lab_)["LAB_CLIENT"], (*lab_)["LAB_VIP"], 80, n, timeout);
  }
  std::uint64_t new_flows(const IpAddress& real) {
    for (const auto& svc : backend_->stats()) {
      for (const auto& r : svc.reals) {
        if (r.real.address == real) return r.counters.new_flows;
      }
    }
    return 0;
  }

  // Lets the backend's watches run for 100 ms.
  void tick() {
    io_.run_for(100ms);
    io_.restart();
  }
  // Sends rs1 through rs2 as a gateway ("add"), or stops doing so ("del").
  void detour_rs1(const std::string& verb) {
    test::must("ip -n " + (*lab_)["LAB_LB"] + " route " + verb + " " + (*lab_)["LAB_RS1_IP"] + "/32 via " +
               (*lab_)["LAB_RS2_IP"]);
  }
  // Gives rs2 another MAC address and has it speak up (as it does on its next ARP for anyone),
  // so that the LB's kernel learns it and the backend follows the neighbour notification.
  void move_rs2_to(const std::string& mac) {
    const std::string rs2 = (*lab_)["LAB_RS2"];
    test::must("ip -n " + rs2 + " link set eth0 address " + mac);
    test::must("ip -n " + rs2 + " neigh flush dev eth0");
    test::must("ip netns exec " + rs2 + " arping -q -c1 -w1 -I eth0 " + (*lab_)["LAB_LB_IP"]);
  }

  boost::asio::io_context io_;
  std::unique_ptr<Topology> lab_;
  std::unique_ptr<lab::NetnsScope> in_lb_;
  std::unique_ptr<XdpBackend> backend_;
};

// A TCP connection to the VIP, opened from the client namespace and held open.
class HeldConnection {
 public:
  HeldConnection(const std::string& netns, const std::string& vip) {
    lab::NetnsScope in(netns);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{3, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(80);
    ::inet_pton(AF_INET, vip.c_str(), &sa.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) throw std::runtime_error("connect");
  }
  ~HeldConnection() { ::close(fd_); }
  std::uint16_t local_port() const {
    sockaddr_in sa{};
    socklen_t len = sizeof(sa);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    return ntohs(sa.sin_port);
  }
  std::string request() {
    const std::string req = "GET / HTTP/1.0\r\n\r\n";
    ::send(fd_, req.data(), req.size(), MSG_NOSIGNAL);
    std::string resp;
    char buf[2048];
    ssize_t n;
    while ((n = ::recv(fd_, buf, sizeof(buf), 0)) > 0) resp.append(buf, static_cast<std::size_t>(n));
    const auto body = resp.find("\r\n\r\n");
    return body == std::string::npos ? "error" : resp.substr(body + 4, resp.find('\n', body + 4) - body - 4);
  }

 private:
  int fd_ = -1;
};

TEST_F(DrLabTest, WrrTwoToOneOver300Requests) {
  backend_->apply(spec(2, 1));
  auto tally = requests(300);
  ASSERT_EQ(tally["rs1"] + tally["rs2"], 300) << "failed requests: " << tally.size();
  const double ratio = static_cast<double>(tally["rs1"]) / tally["rs2"];
  std::printf("wrr 2:1: rs1 %d, rs2 %d (ratio %.3f)\n", tally["rs1"], tally["rs2"], ratio);
  EXPECT_NEAR(ratio, 2.0, 0.2);
  // The program's per-real statistics saw the same connections.
  EXPECT_EQ(new_flows(ip("LAB_RS1_IP")), static_cast<std::uint64_t>(tally["rs1"]));
  EXPECT_EQ(new_flows(ip("LAB_RS2_IP")), static_cast<std::uint64_t>(tally["rs2"]));
  const auto c = backend_->counters();
  EXPECT_EQ(c[XLB_CTR_FLOW_NEW], 300u);
  // One snapshot of both (what /metrics shows) agrees with them and with itself: every packet
  // the VIP forwarded left through XDP_TX or a redirect.
  const auto traffic = backend_->traffic();
  // Except "pass": the lab's kernels send traffic of their own (IPv6 neighbour discovery, MLD)
  // that the program passes between the two snapshots, so that one may only grow.
  auto vip_counters = traffic.counters;
  EXPECT_GE(vip_counters[XLB_CTR_PASS], c[XLB_CTR_PASS]);
  vip_counters[XLB_CTR_PASS] = c[XLB_CTR_PASS];
  EXPECT_EQ(vip_counters, c);
  ASSERT_EQ(traffic.services.size(), 1u);
  EXPECT_EQ(traffic.services[0].counters.packets, backend_->stats().at(0).counters.packets);
  EXPECT_EQ(traffic.services[0].counters.packets, c[XLB_CTR_TX] + c[XLB_CTR_REDIRECT]);
  // The VIP prefilter is on (and evidently did not hide the VIP).
  const std::uint32_t zero = 0;
  auto filter = backend_->program().vip_filter().lookup<std::uint32_t, xlb_vip_filter>(zero);
  ASSERT_TRUE(filter.has_value());
  EXPECT_EQ(filter->enabled, 1u);
  EXPECT_EQ(c[XLB_CTR_DROP_NO_REAL], 0u);
}

TEST_F(DrLabTest, PersistenceSendsEveryRequestToOneReal) {
  backend_->apply(spec(2, 1, 300));
  auto tally = requests(300);
  ASSERT_EQ(tally.size(), 1u) << "spread over " << tally.size() << " answers";
  EXPECT_EQ(tally.begin()->second, 300);
  EXPECT_EQ(tally.begin()->first.rfind("rs", 0), 0u) << tally.begin()->first;
  EXPECT_EQ(backend_->counters()[XLB_CTR_PERSIST_HIT], 299u);
}

TEST_F(DrLabTest, WeightZeroKeepsEstablishedFlowsAndGetsNoNewOnes) {
  backend_->apply(spec(1, 1));
  // Held-open connections until one of them is on rs1 (per-CPU cursors decide which).
  std::vector<std::unique_ptr<HeldConnection>> held;
  std::map<std::uint16_t, IpAddress> real_of_port;
  for (int i = 0; i < 8; ++i) {
    held.push_back(std::make_unique<HeldConnection>((*lab_)["LAB_CLIENT"], (*lab_)["LAB_VIP"]));
    real_of_port.clear();
    for (const auto& f : backend_->flows()) real_of_port[f.client_port] = f.real;
    if (real_of_port[held.back()->local_port()] == ip("LAB_RS1_IP")) break;
  }
  ASSERT_EQ(real_of_port.size(), held.size());
  ASSERT_EQ(real_of_port[held.back()->local_port()], ip("LAB_RS1_IP")) << "no connection reached rs1";

  backend_->apply(spec(0, 1));
  auto tally = requests(30);
  EXPECT_EQ(tally["rs2"], 30) << "rs1 got " << tally["rs1"];
  for (auto& conn : held) {
    const auto expected = real_of_port[conn->local_port()] == ip("LAB_RS1_IP") ? "rs1" : "rs2";
    EXPECT_EQ(conn->request(), expected) << "an established connection moved";
  }
}

TEST_F(DrLabTest, SorryServerWhenNoRealHasWeight) {
  auto s = spec(0, 0);
  s.sorry_server = RealServer{ip("LAB_RS2_IP"), 80, 1};
  backend_->apply(s);
  auto tally = requests(20);
  EXPECT_EQ(tally["rs2"], 20);
  EXPECT_EQ(backend_->counters()[XLB_CTR_SORRY], 20u);
  backend_->apply(spec(0, 0));
  tally = requests(2, 1s);  // SYNs are dropped: each attempt times out
  EXPECT_EQ(tally.count("rs1") + tally.count("rs2"), 0u);
  EXPECT_GE(backend_->counters()[XLB_CTR_DROP_NO_REAL], 2u);
}

TEST_F(DrLabTest, FlowsListedAndFlushedPerReal) {
  backend_->apply(spec(1, 1));
  HeldConnection a((*lab_)["LAB_CLIENT"], (*lab_)["LAB_VIP"]);
  HeldConnection b((*lab_)["LAB_CLIENT"], (*lab_)["LAB_VIP"]);
  auto flows = backend_->flows();
  ASSERT_EQ(flows.size(), 2u);
  for (const auto& f : flows) {
    EXPECT_EQ(f.client, ip("LAB_CLIENT_IP"));
    EXPECT_EQ(f.service.address, ip("LAB_VIP"));
    EXPECT_TRUE(f.real == ip("LAB_RS1_IP") || f.real == ip("LAB_RS2_IP"));
  }
  // The program's per-CPU flow caches must drop what they copied: the cache epoch moves.
  const auto before = incarnations();
  const auto epoch = cache_epoch();
  backend_->apply(spec(2, 1));  // a weight change alone keeps the cached flows
  EXPECT_EQ(cache_epoch(), epoch);
  backend_->apply(spec(1, 1));
  backend_->flush_flows_to(spec(1, 1).key, ip("LAB_RS1_IP"));
  EXPECT_EQ(cache_epoch(), epoch + 1);
  EXPECT_EQ(incarnations(), before) << "only a VIP that goes moves its incarnation";
  flows = backend_->flows();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].real, ip("LAB_RS2_IP"));
  backend_->remove(spec(1, 1).key);
  EXPECT_GT(cache_epoch(), epoch + 1) << "flow caches keep the removed VIP's flows";
  EXPECT_TRUE(backend_->flows().empty());
  EXPECT_TRUE(backend_->stats().empty());
  // The VIP's id, when given to the next VIP, is another incarnation: what the flow caches
  // still count for this one is not the next one's (xlb_flow_cache_pending_counts).
  EXPECT_EQ(incarnations(), before + 1);
}

TEST_F(DrLabTest, RestartOverPinsKeepsEstablishedFlows) {
  backend_->apply(spec(1, 1));
  std::vector<std::unique_ptr<HeldConnection>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<HeldConnection>((*lab_)["LAB_CLIENT"], (*lab_)["LAB_VIP"]));
  }
  std::map<std::uint16_t, IpAddress> real_of_port;
  for (const auto& f : backend_->flows()) real_of_port[f.client_port] = f.real;
  ASSERT_EQ(real_of_port.size(), held.size());

  // A restart: the old process leaves the program attached, the new one takes over the
  // pinned maps and the interface, then applies the same configuration.
  auto o = options();
  o.attach.detach_on_destroy = false;
  backend_.reset();
  backend_ = std::make_unique<XdpBackend>(io_, o);
  EXPECT_TRUE(backend_->program().reused_pins());
  // Another service first, reals in the other order: ids handed out afresh would now point
  // the old flows' real ids at the wrong servers.
  auto other = spec(1, 1);
  other.key.port = 8080;
  std::swap(other.reals[0], other.reals[1]);
  backend_->apply(other);
  backend_->apply(spec(1, 1));
  backend_->retire_orphans();
  EXPECT_EQ(backend_->flows().size(), held.size());
  for (auto& conn : held) {
    const auto expected = real_of_port[conn->local_port()] == ip("LAB_RS1_IP") ? "rs1" : "rs2";
    EXPECT_EQ(conn->request(), expected) << "an established connection moved over the restart";
  }
  auto tally = requests(30);
  EXPECT_EQ(tally["rs1"] + tally["rs2"], 30);
  // Pins and attachment of this run are cleaned up by the next backend's destructor.
  backend_.reset();
  backend_ = std::make_unique<XdpBackend>(io_, options());
}

TEST_F(DrLabTest, SilentRealStaysOutOfTheRingUntilItAnswers) {
  const std::string rs2 = (*lab_)["LAB_RS2"];
  test::must("ip -n " + rs2 + " link set eth0 down");
  auto o = options();
  o.resolve_timeout = 300ms;
  o.program.pin_dir = (*lab_)["LAB_BPFFS"] + "/xlb2";
  backend_.reset();
  backend_ = std::make_unique<XdpBackend>(io_, o);
  backend_->apply(spec(1, 1));
  auto tally = requests(10);
  EXPECT_EQ(tally["rs1"], 10) << "a real without a MAC got flows";

  test::must("ip -n " + rs2 + " link set eth0 up");
  bool joined = false;
  for (int i = 0; i < 60 && !joined; ++i) {
    backend_->refresh_neighbours();
    tick();
    joined = requests(4)["rs2"] > 0;
  }
  EXPECT_TRUE(joined) << "rs2 never joined the ring after it came up";
}

TEST_F(DrLabTest, RealBehindAGatewayIsRefused) {
  test::must("ip -n " + (*lab_)["LAB_LB"] + " route add 198.19.0.0/16 via " + (*lab_)["LAB_RS1_IP"]);
  auto s = spec(1, 1);
  s.reals.push_back({boost::asio::ip::make_address("198.19.7.7"), 80, 1});
  try {
    backend_->apply(s);
    FAIL() << "accepted a real server behind a router";
  } catch (const NotAdjacentError& e) {
    EXPECT_NE(std::string(e.what()).find("layer-2 adjacency"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(backend_->stats().empty());
}

// A route change that puts a real behind a gateway takes it out of the ring (DR cannot reach
// it); when the route goes, it comes back, without a reload.
TEST_F(DrLabTest, RouteChangesAreFollowed) {
  backend_->apply(spec(1, 1));
  const auto epoch = cache_epoch();
  detour_rs1("add");
  for (int i = 0; i < 5; ++i) tick();  // the route watch settles for 100 ms
  auto tally = requests(20);
  EXPECT_EQ(tally["rs2"], 20) << "rs1 behind a gateway still got " << tally["rs1"] << " connections";
  EXPECT_GT(cache_epoch(), epoch) << "flow caches keep forwarding to rs1";
  detour_rs1("del");
  bool back = false;
  for (int i = 0; i < 30 && !back; ++i) {
    tick();
    back = requests(8)["rs1"] > 0;
  }
  EXPECT_TRUE(back) << "rs1 did not come back after its route did";
}

TEST_F(DrLabTest, ChangedMacIsFollowed) {
  backend_->apply(spec(1, 1));
  const auto epoch = cache_epoch();
  move_rs2_to("02:00:5e:10:00:02");
  bool followed = false;
  for (int i = 0; i < 50 && !followed; ++i) {
    tick();
    auto tally = requests(4);
    followed = tally["rs2"] == 2;
  }
  EXPECT_TRUE(followed) << "rs2 unreachable through the LB after its MAC changed";
  EXPECT_GT(cache_epoch(), epoch) << "flow caches keep forwarding to the old MAC";
}

// The MACs every reals entry of `real` forwards with (one entry per service that lists it).
std::vector<std::string> macs_of(XdpBackend& backend, const IpAddress& real) {
  std::vector<std::string> out;
  const auto bytes = real.to_v4().to_bytes();
  for (const auto& [id, entry] : backend.program().reals().entries<std::uint32_t, xlb_real>()) {
    if (entry.family == 0 || std::memcmp(entry.addr, bytes.data(), 4) != 0) continue;
    MacAddress mac;
    std::copy(std::begin(entry.dst_mac), std::end(entry.dst_mac), mac.bytes.begin());
    out.push_back(mac.str());
  }
  return out;
}

// A second service that lists a real the first one resolved copies its egress and MAC instead
// of asking the kernel: it must get the MAC the neighbour watch followed since, not the first.
TEST_F(DrLabTest, AnotherServiceOfAKnownRealGetsItsCurrentMac) {
  backend_->apply(spec(1, 1));
  const std::string moved = "02:00:5e:10:00:22";
  move_rs2_to(moved);
  for (int i = 0; i < 50 && macs_of(*backend_, ip("LAB_RS2_IP")) != std::vector<std::string>{moved}; ++i) tick();
  ASSERT_EQ(macs_of(*backend_, ip("LAB_RS2_IP")), std::vector<std::string>{moved});
  auto other = spec(1, 1);
  other.key.port = 8080;
  backend_->apply(other);
  EXPECT_EQ(macs_of(*backend_, ip("LAB_RS2_IP")), (std::vector<std::string>{moved, moved}));
}

// Once a route puts a real behind a gateway, a service that lists it next is refused, as it
// would be on a fresh start: what was known of the real before the change is not reused.
TEST_F(DrLabTest, AnotherServiceOfARealNowBehindAGatewayIsRefused) {
  backend_->apply(spec(1, 1));
  detour_rs1("add");
  for (int i = 0; i < 5; ++i) tick();  // the route watch settles for 100 ms
  auto other = spec(1, 1);
  other.key.port = 8080;
  EXPECT_THROW(backend_->apply(other), NotAdjacentError);
}

}  // namespace
}  // namespace xlb::dataplane
