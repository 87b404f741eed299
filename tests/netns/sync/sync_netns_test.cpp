// Flow sync over a real link: two namespaces joined by a veth, each running an XdpBackend
// (the balancer attached in native mode, maps pinned on a private bpffs) and a FlowSync on
// eth0 with UDP 8848, over multicast: 224.0.0.81 for the IPv4 test, ff02::81 (link-local) for
// the IPv6 one. The master's flows are created by its own XDP program: TCP SYNs to the VIPs
// run through it with BPF_PROG_TEST_RUN. The test then reads the backup's flow map.
#include <gtest/gtest.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>

#include "tools/dp-demo/lab_client.hpp"
#include "ctrl/dataplane/xdp_backend.hpp"
#include "ctrl/sync/flow_sync.hpp"
#include "tests/bpf/support/harness.hpp"
#include "tests/bpf/support/packet.hpp"

namespace xlb::sync {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using asio::ip::make_address;
using dataplane::IpAddress;

int sh(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

void must(const std::string& cmd) {
  if (sh(cmd) != 0) throw std::runtime_error("command failed: " + cmd);
}

std::string read_command(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof(buf), p)) out += buf;
    ::pclose(p);
  }
  return out;
}

// Two namespaces, a veth between them (eth0 on both sides), addresses on 198.18.0.0/24 and
// 2001:db8::/64, and permanent neighbour entries for the real servers (which need not exist:
// nothing is forwarded to them, but a real without a MAC is not scheduled). Removed in the
// destructor, also when the constructor fails halfway.
class TwoNodes {
 public:
  TwoNodes() {
    std::random_device rd;
    const std::string suffix = std::to_string(::getpid() % 100000) + "-" + std::to_string(rd() % 100000);
    ns_[0] = "xlb-sync-a-" + suffix;
    ns_[1] = "xlb-sync-b-" + suffix;
    try {
      for (int i = 0; i < 2; ++i) {
        must("ip netns add " + ns_[i]);
        // Without DAD the link-local address (ff02::81's source) is usable at once.
        must("ip netns exec " + ns_[i] + " sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0");
      }
      must("ip link add eth0 netns " + ns_[0] + " type veth peer name eth0 netns " + ns_[1]);
      for (int i = 0; i < 2; ++i) {
        const std::string n = "ip -n " + ns_[i] + " ";
        must(n + "addr add 198.18.0." + std::to_string(i + 1) + "/24 dev eth0");
        must(n + "addr add 2001:db8::" + std::to_string(i + 1) + "/64 dev eth0 nodad");
        must(n + "link set lo up");
        must(n + "link set eth0 up");
        for (const auto& [real, mac] : {std::pair{"198.18.0.21", "02:00:00:00:00:21"}, {"198.18.0.22", "02:00:00:00:00:22"},
                                        {"2001:db8::21", "02:00:00:00:00:21"}, {"2001:db8::22", "02:00:00:00:00:22"},
                                        {"198.18.0.31", "02:00:00:00:00:31"}, {"198.18.0.32", "02:00:00:00:00:32"}}) {
          must(n + "neigh replace " + real + " lladdr " + mac + " dev eth0 nud permanent");
        }
        // The TUN service's next hop comes from the FIB, which answers XDP only where
        // forwarding is on (docs/tunnel.md).
        must("ip netns exec " + ns_[i] + " sysctl -qw net.ipv4.conf.eth0.forwarding=1");
      }
    } catch (...) {
      down();
      throw;
    }
  }
  ~TwoNodes() { down(); }
  TwoNodes(const TwoNodes&) = delete;
  TwoNodes& operator=(const TwoNodes&) = delete;
  const std::string& ns(int i) const { return ns_[i]; }

 private:
  void down() {
    for (const auto& n : ns_)
      if (!n.empty()) sh("ip netns del " + n + " 2>/dev/null");
  }
  std::string ns_[2];
};

// tun: lb_kind TUN (IPIP) reals, whose flows must sync as DR flows do.
dataplane::ServiceSpec service(const std::string& vip, const std::string& real1, const std::string& real2, bool active,
                               bool tun = false) {
  const auto fwd = tun ? dataplane::Forwarding::tun : dataplane::Forwarding::dr;
  dataplane::ServiceSpec s;
  s.key = {make_address(vip), 80, dataplane::Protocol::tcp};
  s.scheduler = dataplane::Scheduler::wrr;
  s.reals = {{make_address(real1), 80, 1, fwd}, {make_address(real2), 80, 1, fwd}};
  s.active = active;
  return s;
}

constexpr const char* kTunVip = "198.18.0.101";
constexpr int kTunClients = 300;  // the first 300 clients also open a flow to the TUN VIP

// One LB node: the balancer on eth0 with its maps pinned under its own directory, and a
// FlowSync on eth0; both made inside the node's namespace (their sockets stay there).
struct Node {
  Node(asio::io_context& io, const std::string& netns, const std::string& pin_dir, const IpAddress& group,
       bool master) {
    dataplane::lab::NetnsScope in(netns);
    try {
      make(io, pin_dir, group, master);
    } catch (...) {
      // Still inside the namespace: a half-made node detaches from its own eth0 only.
      sync.reset();
      backend.reset();
      throw;
    }
  }
  void make(asio::io_context& io, const std::string& pin_dir, const IpAddress& group, bool master) {
    dataplane::XdpBackendOptions o;
    o.program.pin_dir = pin_dir;
    o.program.sizes.max_vips = 16;
    o.program.sizes.max_reals = 64;
    o.program.sizes.max_flows = 65536;
    o.program.sizes.max_persist = 1024;
    o.interfaces = {"eth0"};
    backend = std::make_unique<dataplane::XdpBackend>(io, o);
    backend->apply(service("198.18.0.100", "198.18.0.21", "198.18.0.22", master));
    backend->apply(service("2001:db8::100", "2001:db8::21", "2001:db8::22", master));
    backend->apply(service(kTunVip, "198.18.0.31", "198.18.0.32", master, true));
    ifindex = ::if_nametoindex("eth0");

    FlowSyncSettings s;
    s.interface = "eth0";
    s.instance = "VI_1";
    s.sync_id = 9;
    s.key = derive_key("sync netns test");
    s.group = group;  // no peers: multicast
    s.scan_interval = 200ms;
    s.max_datagrams_per_second = 5000;  // 50 datagrams per 10 ms slice: the table takes several
    FlowSyncHooks hooks;
    hooks.collect = [this](std::uint64_t since) { return backend->synced_flows(since); };
    hooks.install = [this](const dataplane::SyncedFlow& f) { return backend->install_synced(f); };
    sync = std::make_unique<FlowSync>(io.get_executor(), s, std::move(hooks));
    sync->set_master(master);
  }
  ~Node() {
    sync.reset();
    backend.reset();
  }
  // (client, client port, VIP) -> real, from this node's flow map.
  std::map<std::tuple<std::string, std::uint16_t, std::string>, std::string> flows() const {
    std::map<std::tuple<std::string, std::uint16_t, std::string>, std::string> out;
    for (const auto& f : backend->flows())
      out[{f.client.to_string(), f.client_port, f.service.address.to_string()}] = f.real.to_string();
    return out;
  }
  std::unique_ptr<dataplane::XdpBackend> backend;
  std::unique_ptr<FlowSync> sync;
  unsigned ifindex = 0;
};

// The MAC of an interface of the calling thread's namespace: the program passes frames sent to
// any other (issue 29's foreign-MAC rule), so a test frame must carry this one.
bpftest::Mac interface_mac(unsigned ifindex) {
  bpftest::Mac mac{};
  ifreq ifr{};
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd >= 0 && ::if_indextoname(ifindex, ifr.ifr_name) != nullptr && ::ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
    std::memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, mac.size());
  if (fd >= 0) ::close(fd);
  return mac;
}

class SyncOverMulticast : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (namespaces, XDP, bpffs)";
    lab_ = std::make_unique<TwoNodes>();
    bpffs_ = std::make_unique<bpftest::BpfFsMount>("sync-test");
    ::setenv("LIBXDP_BPFFS", bpffs_->path().c_str(), 1);
    const IpAddress group = make_address(GetParam());
    master_ = std::make_unique<Node>(io_, lab_->ns(0), bpffs_->path() + "/a", group, true);
    backup_ = std::make_unique<Node>(io_, lab_->ns(1), bpffs_->path() + "/b", group, false);
  }
  void TearDown() override {
    // A node detaches by ifindex in the calling thread's namespace: each goes from inside
    // its own, and before the namespaces do.
    if (master_) {
      dataplane::lab::NetnsScope in(lab_->ns(0));
      master_.reset();
    }
    if (backup_) {
      dataplane::lab::NetnsScope in(lab_->ns(1));
      backup_.reset();
    }
    bpffs_.reset();
    lab_.reset();
  }
  // SYNs from `count` clients of each family to the VIPs, and from the first kTunClients to
  // the TUN VIP, through the master's program.
  void open_flows(int count) {
    dataplane::lab::NetnsScope in(lab_->ns(0));
    const auto own_mac = interface_mac(master_->ifindex);
    for (int i = 0; i < count; ++i) {
      for (const char* vip : {"198.18.0.100", "2001:db8::100", kTunVip}) {
        const bool v6 = vip[0] == '2' && vip[1] == '0';
        if (vip == kTunVip && i >= kTunClients) continue;
        bpftest::PacketSpec p;
        p.dst_mac = own_mac;
        p.src = v6 ? bpftest::client_v6(static_cast<std::uint32_t>(i)) : bpftest::client_v4(static_cast<std::uint32_t>(i));
        p.dst = bpftest::Address::parse(vip);
        p.sport = static_cast<std::uint16_t>(20000 + i % 40000);
        p.dport = 80;
        const auto r = bpftest::test_run(master_->backend->program().program_fd(), bpftest::build_packet(p),
                                         master_->ifindex);
        ASSERT_TRUE(r.action == 3 /* XDP_TX */ || r.action == 4 /* XDP_REDIRECT */)
            << "flow " << i << " to " << vip << ": action " << r.action;
      }
    }
  }

  asio::io_context io_;
  std::unique_ptr<TwoNodes> lab_;
  std::unique_ptr<bpftest::BpfFsMount> bpffs_;
  std::unique_ptr<Node> master_;
  std::unique_ptr<Node> backup_;
};

TEST_P(SyncOverMulticast, TheBackupsFlowMapGetsTheMastersFlows) {
  constexpr int clients = 1500;  // per family, + 300 TUN: 3,300 entries, 165 datagrams, 3 slices at 5,000/s
  open_flows(clients);
  if (HasFatalFailure()) return;
  const auto want = master_->flows();
  ASSERT_EQ(want.size(), 2u * clients + kTunClients);
  int tun_flows = 0;
  for (const auto& [flow, real] : want) tun_flows += std::get<2>(flow) == kTunVip && real.rfind("198.18.0.3", 0) == 0;
  EXPECT_EQ(tun_flows, kTunClients) << "the TUN VIP's flows went to its tunnelled reals";
  ASSERT_TRUE(backup_->flows().empty());

  master_->sync->start();
  backup_->sync->start();
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (backup_->flows().size() < want.size() && std::chrono::steady_clock::now() < deadline) io_.run_for(50ms);

  const auto got = backup_->flows();
  const auto& m = master_->sync->counters();
  const auto& b = backup_->sync->counters();
  std::printf("master: %llu datagrams in %llu slices, %llu entries; backup: %llu datagrams, %llu installed\n",
              static_cast<unsigned long long>(m.packets_sent), static_cast<unsigned long long>(m.slices),
              static_cast<unsigned long long>(m.entries_sent), static_cast<unsigned long long>(b.packets_received),
              static_cast<unsigned long long>(b.entries_installed));
  ASSERT_EQ(got.size(), want.size()) << "backup has " << got.size() << " of " << want.size() << " flows";
  int moved = 0;
  for (const auto& [client, real] : want) {
    const auto it = got.find(client);
    if (it == got.end() || it->second != real) ++moved;
  }
  EXPECT_EQ(moved, 0) << "flows missing on the backup or on another real";
  EXPECT_GE(m.slices, 3u) << "the takeover table left in paced slices";
  EXPECT_EQ(b.rejected_auth, 0u);
  EXPECT_EQ(b.entries_unknown, 0u);
  EXPECT_EQ(m.send_errors, 0u);
  // The datagrams went to the group: the backup's eth0 is a member of it.
  const auto groups = read_command("ip -n " + lab_->ns(1) + " maddr show dev eth0");
  EXPECT_NE(groups.find(GetParam()), std::string::npos) << groups;
}

INSTANTIATE_TEST_SUITE_P(Groups, SyncOverMulticast, ::testing::Values("224.0.0.81", "ff02::81"),
                         [](const auto& info) { return std::string(info.param[0] == 'f' ? "ipv6" : "ipv4"); });

}  // namespace
}  // namespace xlb::sync
