// Two xlb VRRP nodes (vrrp_node) in namespaces: election, preemption, failover, unicast,
// IPv6, validation of malformed adverts, tracking, and split brain across a cut heartbeat.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "lab.hpp"

namespace xlb::vrrp {
namespace {

using namespace lab;
using namespace std::chrono_literals;
using Args = std::vector<std::string>;

const std::string kVip = "198.18.0.100";

class VrrpPair : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "namespace tests need root";
  }
  void two_nodes(bool ipv6 = false) {
    a_ = lab_.add_ns("a", ipv6);
    b_ = lab_.add_ns("b", ipv6);
    lab_.link(a_, "eth0", "198.18.0.1/24", b_, "eth0", "198.18.0.2/24");
    if (ipv6) {
      check("ip -n " + a_ + " addr add 2001:db8::1/64 dev eth0 nodad");
      check("ip -n " + b_ + " addr add 2001:db8::2/64 dev eth0 nodad");
    }
    lab_.wait_links_up();
  }
  std::unique_ptr<Process> node(const std::string& ns, const std::string& name, Args args) {
    Args full = {vrrp_node_path(), "--interface", "eth0", "--log-level", "debug"};
    full.insert(full.end(), args.begin(), args.end());
    auto p = std::make_unique<Process>(ns, full, lab_.file(name + ".log"));
    EXPECT_TRUE(p->wait_log("READY", 5s)) << p->log();
    return p;
  }
  // Exactly one of the two namespaces holds the VIP, for the whole window.
  bool only_holder_for(const std::string& holder, const std::string& other,
                       std::chrono::milliseconds window, const std::string& vip = kVip) {
    auto end = std::chrono::steady_clock::now() + window;
    while (std::chrono::steady_clock::now() < end) {
      if (!has_vip(holder, vip) || has_vip(other, vip)) return false;
      std::this_thread::sleep_for(50ms);
    }
    return true;
  }
  Lab lab_;
  std::string a_, b_;
};

TEST_F(VrrpPair, ElectionAndSigtermFailoverV2Multicast) {
  two_nodes();
  auto a = node(a_, "a", {"--priority", "150", "--vip", kVip});
  auto b = node(b_, "b", {"--priority", "100", "--vip", kVip});
  ASSERT_TRUE(wait_until([&] { return has_vip(a_, kVip); }, 10s)) << a->log();
  EXPECT_TRUE(only_holder_for(a_, b_, 2s)) << b->log();
  a->signal(SIGTERM);
  ASSERT_TRUE(a->wait_exit(5s));
  EXPECT_FALSE(has_vip(a_, kVip)) << "a stopping master removes its VIP";
  ASSERT_TRUE(wait_until([&] { return has_vip(b_, kVip); }, 5s)) << b->log();
  EXPECT_NE(b->log().find("master left (priority 0)"), std::string::npos) << b->log();
}

TEST_F(VrrpPair, SigkillFailoverV3Fast) {
  two_nodes();
  auto a = node(a_, "a", {"--priority", "150", "--version", "3", "--advert-int", "0.1", "--vip", kVip});
  auto b = node(b_, "b", {"--priority", "100", "--version", "3", "--advert-int", "0.1", "--vip", kVip});
  ASSERT_TRUE(wait_until([&] { return has_vip(a_, kVip); }, 5s)) << a->log();
  EXPECT_TRUE(only_holder_for(a_, b_, 1s));
  a->signal(SIGKILL);
  ASSERT_TRUE(wait_until([&] { return has_vip(b_, kVip); }, 5s)) << b->log();
  EXPECT_NE(b->log().find("BACKUP MASTER 100 peer lost"), std::string::npos) << b->log();
}

TEST_F(VrrpPair, PreemptionByHigherPriority) {
  two_nodes();
  auto b = node(b_, "b", {"--priority", "100", "--version", "3", "--advert-int", "0.1", "--vip", kVip});
  ASSERT_TRUE(wait_until([&] { return has_vip(b_, kVip); }, 5s)) << b->log();
  auto a = node(a_, "a", {"--priority", "150", "--version", "3", "--advert-int", "0.1", "--vip", kVip});
  ASSERT_TRUE(wait_until([&] { return has_vip(a_, kVip) && !has_vip(b_, kVip); }, 5s))
      << a->log() << b->log();
  EXPECT_NE(a->log().find("preempted"), std::string::npos) << a->log();
  EXPECT_NE(b->log().find("MASTER BACKUP 100 higher priority seen"), std::string::npos) << b->log();
}

TEST_F(VrrpPair, NopreemptKeepsLowerPriorityMaster) {
  two_nodes();
  auto b = node(b_, "b", {"--priority", "100", "--version", "3", "--advert-int", "0.1", "--vip", kVip});
  ASSERT_TRUE(wait_until([&] { return has_vip(b_, kVip); }, 5s)) << b->log();
  auto a = node(a_, "a", {"--priority", "150", "--nopreempt", "--version", "3", "--advert-int",
                          "0.1", "--vip", kVip});
  // Master-down is 0.36 s here; two seconds would see any takeover.
  EXPECT_TRUE(only_holder_for(b_, a_, 2s)) << a->log();
  b->signal(SIGTERM);
  ASSERT_TRUE(wait_until([&] { return has_vip(a_, kVip); }, 5s)) << a->log();
}

TEST_F(VrrpPair, PreemptDelayPostponesTakeover) {
  two_nodes();
  auto b = node(b_, "b", {"--priority", "100", "--version", "3", "--advert-int", "0.1", "--vip", kVip});
  ASSERT_TRUE(wait_until([&] { return has_vip(b_, kVip); }, 5s)) << b->log();
  auto a = node(a_, "a", {"--priority", "150", "--preempt-delay", "3", "--version", "3",
                          "--advert-int", "0.1", "--vip", kVip});
  EXPECT_TRUE(only_holder_for(b_, a_, 1500ms)) << a->log();
  ASSERT_TRUE(wait_until([&] { return has_vip(a_, kVip) && !has_vip(b_, kVip); }, 10s))
      << a->log();
}

TEST_F(VrrpPair, UnicastWithTtlWindowAndSourceCheck) {
  two_nodes();
  auto a = node(a_, "a", {"--priority", "150", "--unicast-src", "198.18.0.1", "--peer",
                          "198.18.0.2:250:255", "--check-unicast-src", "--vip", kVip});
  auto b = node(b_, "b", {"--priority", "100", "--unicast-src", "198.18.0.2", "--peer",
                          "198.18.0.1", "--check-unicast-src", "--vip", kVip});
  ASSERT_TRUE(wait_until([&] { return has_vip(a_, kVip); }, 10s)) << a->log();
  EXPECT_TRUE(only_holder_for(a_, b_, 2s)) << b->log();
  b->signal(SIGUSR1);
  ASSERT_TRUE(b->wait_log("COUNTERS", 2s));
  EXPECT_EQ(b->log().find("COUNTERS VI_1 state=BACKUP prio=100 sent=0 received=0"),
            std::string::npos)
      << "b received the unicast adverts";
  a->signal(SIGKILL);
  ASSERT_TRUE(wait_until([&] { return has_vip(b_, kVip); }, 8s)) << b->log();
}

TEST_F(VrrpPair, Ipv6V3Multicast) {
  two_nodes(true);
  const std::string vip6 = "2001:db8::100";
  // b listens for a's unsolicited neighbour advertisement (Override set, target = VIP).
  std::string py = lab_.file("na.py");
  {
    std::ofstream f(py);
    f << R"PY(
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.settimeout(10)
vip = socket.inet_pton(socket.AF_INET6, sys.argv[1])
print('LISTENING', flush=True)
while True:
    m, src = s.recvfrom(256)
    if m[0] == 136 and m[4] & 0x20 and m[8:24] == vip:
        print('NA', flush=True)
        break
)PY";
  }
  Process listener(b_, {"python3", py, vip6}, lab_.file("na.log"));
  ASSERT_TRUE(listener.wait_log("LISTENING", 5s)) << listener.log();
  auto a = node(a_, "a", {"--priority", "150", "--version", "3", "--advert-int", "0.2", "--vip", vip6});
  auto b = node(b_, "b", {"--priority", "100", "--version", "3", "--advert-int", "0.2", "--vip", vip6});
  ASSERT_TRUE(wait_until([&] { return has_vip(a_, vip6); }, 5s)) << a->log();
  EXPECT_TRUE(listener.wait_log("NA", 5s)) << listener.log();
  EXPECT_TRUE(only_holder_for(a_, b_, 1500ms, vip6)) << b->log();
  a->signal(SIGTERM);
  ASSERT_TRUE(wait_until([&] { return has_vip(b_, vip6); }, 5s)) << b->log();
}

// Malformed adverts (written by an independent Python encoder) with a winning priority must be
// dropped and counted, never move the master; a well-formed one then does.
TEST_F(VrrpPair, MalformedAdvertsNeverChangeState) {
  if (!have("python3")) GTEST_SKIP() << "python3 is needed to forge adverts";
  two_nodes();
  auto a = node(a_, "a", {"--priority", "100", "--state", "MASTER", "--auth-pass", "secret",
                          "--vip", kVip});
  ASSERT_TRUE(wait_until([&] { return has_vip(a_, kVip); }, 5s)) << a->log();
  std::string py = lab_.file("forge.py");
  {
    std::ofstream f(py);
    f << R"PY(
import socket, struct, sys
def ck(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
def adv(ver=2, vrid=51, prio=254, count=1, auth_type=1, interval=1, addrs=(b'\xc6\x12\x00\x64',),
        pw=b'secret\0\0', bad_ck=False, extra=b''):
    body = bytes([(ver << 4) | 1, vrid, prio, count, auth_type, interval, 0, 0]) + b''.join(addrs) + pw + extra
    c = ck(body) ^ (0xffff if bad_ck else 0)
    return body[:6] + struct.pack('!H', c) + body[8:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'eth0')
def send(pkt, ttl=255):
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
    s.sendto(pkt, ('224.0.0.18', 0))
mode = sys.argv[1]
if mode == 'bad':
    for _ in range(3):
        send(adv(bad_ck=True))
        send(adv(), ttl=64)
        send(adv(ver=4))
        send(adv(pw=b'wrong\0\0\0'))
        send(adv(auth_type=0, pw=b'\0' * 8))
        send(adv(interval=2))
        send(adv(addrs=(b'\xc6\x12\x00\x65',)))
        send(adv(count=2))
        send(adv()[:7])
else:
    send(adv())
)PY";
  }
  check("ip netns exec " + b_ + " python3 " + py + " bad");
  std::this_thread::sleep_for(500ms);
  a->signal(SIGUSR1);
  ASSERT_TRUE(a->wait_log("COUNTERS", 2s));
  std::string log = a->log();
  EXPECT_EQ(log.find("MASTER BACKUP"), std::string::npos) << log;
  for (const char* c : {"bad_checksum=3", "bad_ttl=3", "bad_version=3", "auth_mismatch=6",
                        "advert_int_mismatch=3", "address_mismatch=3", "bad_length=3",
                        "too_short=3"})
    EXPECT_NE(log.find(c), std::string::npos) << c << "\n" << log;
  EXPECT_TRUE(has_vip(a_, kVip));
  // The same forger's valid advert does move it: the drops above were not an artefact.
  check("ip netns exec " + b_ + " python3 " + py + " good");
  EXPECT_TRUE(a->wait_log("MASTER BACKUP 100 higher priority seen", 3s)) << a->log();
}

TEST_F(VrrpPair, GratuitousArpWhenBecomingMaster) {
  if (!have("python3")) GTEST_SKIP() << "python3 is needed to listen for ARP";
  two_nodes();
  std::string mac = capture("ip netns exec " + a_ + " cat /sys/class/net/eth0/address");
  mac.erase(mac.find_last_not_of("\n") + 1);
  std::string py = lab_.file("garp.py");
  {
    std::ofstream f(py);
    f << R"PY(
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind(('eth0', 0))
s.settimeout(10)
want = bytes.fromhex(sys.argv[1].replace(':', ''))
vip = socket.inet_aton(sys.argv[2])
print('LISTENING', flush=True)
while True:
    f = s.recv(128)
    # gratuitous: sender and target protocol address are both the VIP
    if f[22:28] == want and f[28:32] == vip and f[38:42] == vip:
        print('GARP', flush=True)
        break
)PY";
  }
  Process listener(b_, {"python3", py, mac, kVip}, lab_.file("garp.log"));
  ASSERT_TRUE(listener.wait_log("LISTENING", 5s)) << listener.log();
  auto a = node(a_, "a", {"--priority", "150", "--state", "MASTER", "--vip", kVip});
  EXPECT_TRUE(listener.wait_log("GARP", 5s)) << listener.log() << a->log();
}

TEST_F(VrrpPair, TrackScriptFaultMovesTheVip) {
  two_nodes();
  std::string flag = lab_.file("fail");
  auto a = node(a_, "a", {"--priority", "150", "--version", "3", "--advert-int", "0.1",
                          "--track-script", "0:1:1:100:test ! -e " + flag, "--vip", kVip});
  auto b = node(b_, "b", {"--priority", "100", "--version", "3", "--advert-int", "0.1", "--vip", kVip});
  ASSERT_TRUE(wait_until([&] { return has_vip(a_, kVip); }, 5s)) << a->log();
  check("touch " + flag);
  ASSERT_TRUE(wait_until([&] { return has_vip(b_, kVip) && !has_vip(a_, kVip); }, 5s)) << a->log();
  EXPECT_NE(a->log().find("MASTER FAULT 150 script failed"), std::string::npos) << a->log();
  check("rm " + flag);
  ASSERT_TRUE(wait_until([&] { return has_vip(a_, kVip) && !has_vip(b_, kVip); }, 5s)) << a->log();
}

TEST_F(VrrpPair, TrackScriptWeightLowersPriority) {
  two_nodes();
  std::string flag = lab_.file("fail");
  auto a = node(a_, "a", {"--priority", "150", "--version", "3", "--advert-int", "0.1",
                          "--track-script", "-60:1:2:100:test ! -e " + flag, "--vip", kVip});
  auto b = node(b_, "b", {"--priority", "100", "--version", "3", "--advert-int", "0.1", "--vip", kVip});
  ASSERT_TRUE(wait_until([&] { return has_vip(a_, kVip); }, 5s)) << a->log();
  check("touch " + flag);
  ASSERT_TRUE(wait_until([&] { return has_vip(b_, kVip) && !has_vip(a_, kVip); }, 5s)) << a->log();
  EXPECT_NE(a->log().find("MASTER BACKUP 90 higher priority seen"), std::string::npos) << a->log();
}

// Two links: eth0 (service, holds the VIP) and hb0 (heartbeat, carries adverts) through a
// bridge in a switch namespace, so that the heartbeat can be cut with both links staying up.
class VrrpHeartbeat : public VrrpPair {
 protected:
  void topology() {
    a_ = lab_.add_ns("a");
    b_ = lab_.add_ns("b");
    sw_ = lab_.add_ns("s");
    lab_.link(a_, "eth0", "198.18.0.1/24", b_, "eth0", "198.18.0.2/24");
    lab_.link(a_, "hb0", "198.18.1.1/24", sw_, "pa", "");
    lab_.link(b_, "hb0", "198.18.1.2/24", sw_, "pb", "");
    check("ip -n " + sw_ + " link add br0 type bridge mcast_snooping 0");
    check("ip -n " + sw_ + " link set pa master br0");
    check("ip -n " + sw_ + " link set pb master br0");
    check("ip -n " + sw_ + " link set br0 up");
    lab_.wait_links_up();
  }
  // The switch stops forwarding between the heartbeat ports; no carrier changes, no FAULT.
  void cut_heartbeat() { check("ip -n " + sw_ + " link set pb nomaster"); }
  void mend_heartbeat() { check("ip -n " + sw_ + " link set pb master br0"); }
  std::string sw_;
  Args common(const std::string& prio, bool extra, bool sb) {
    Args a = {"--priority", prio, "--version", "3", "--advert-int", "0.1", "--vip",
              kVip + "/32@eth0", "--split-brain-interval", "0.3"};
    if (extra) a.insert(a.end(), {"--extra-interface", "eth0"});
    if (sb) a.push_back("--split-brain-check");
    return a;
  }
  std::unique_ptr<Process> hb_node(const std::string& ns, const std::string& name, Args args) {
    Args full = {vrrp_node_path(), "--interface", "hb0", "--log-level", "debug"};
    full.insert(full.end(), args.begin(), args.end());
    auto p = std::make_unique<Process>(ns, full, lab_.file(name + ".log"));
    EXPECT_TRUE(p->wait_log("READY", 5s)) << p->log();
    return p;
  }
};

TEST_F(VrrpHeartbeat, CutWithExtraPathLeavesOneMaster) {
  topology();
  auto a = hb_node(a_, "a", common("150", true, false));
  auto b = hb_node(b_, "b", common("100", true, false));
  ASSERT_TRUE(wait_until([&] { return has_vip(a_, kVip); }, 5s)) << a->log();
  cut_heartbeat();
  EXPECT_TRUE(only_holder_for(a_, b_, 3s)) << b->log();
  EXPECT_EQ(b->log().find("BACKUP MASTER"), std::string::npos) << b->log();
}

TEST_F(VrrpHeartbeat, CutWithExtraUnicastPeerLeavesOneMaster) {
  topology();
  Args a_args = common("150", false, false), b_args = common("100", false, false);
  a_args.insert(a_args.end(), {"--extra-peer", "198.18.0.2"});
  b_args.insert(b_args.end(), {"--extra-peer", "198.18.0.1"});
  auto a = hb_node(a_, "a", a_args);
  auto b = hb_node(b_, "b", b_args);
  ASSERT_TRUE(wait_until([&] { return has_vip(a_, kVip); }, 5s)) << a->log();
  cut_heartbeat();
  EXPECT_TRUE(only_holder_for(a_, b_, 3s)) << b->log();
  EXPECT_EQ(b->log().find("BACKUP MASTER"), std::string::npos) << b->log();
  // The extra path is a path, not a spare: a master that dies is still replaced.
  a->signal(SIGKILL);
  check("ip -n " + a_ + " addr del " + kVip + "/32 dev eth0");
  ASSERT_TRUE(wait_until([&] { return has_vip(b_, kVip); }, 5s)) << b->log();
}

TEST_F(VrrpHeartbeat, CutWithoutExtraPathSplitBrainIsDetectedAndResolved) {
  topology();
  auto a = hb_node(a_, "a", common("150", false, true));
  auto b = hb_node(b_, "b", common("100", false, true));
  ASSERT_TRUE(wait_until([&] { return has_vip(a_, kVip); }, 5s)) << a->log();
  cut_heartbeat();
  // b stops hearing a and takes the VIP: two masters, until the probes on eth0 find it.
  ASSERT_TRUE(b->wait_log("BACKUP MASTER 100 peer lost", 5s)) << b->log();
  ASSERT_TRUE(b->wait_log("SPLIT_BRAIN", 5s)) << b->log();
  ASSERT_TRUE(b->wait_log("MASTER BACKUP 100 split brain", 5s)) << b->log();
  // Resolved by the rule: the lower priority yields and stays backup while a holds the VIP.
  EXPECT_TRUE(only_holder_for(a_, b_, 3s)) << b->log();
  // Once the heartbeat works again, plain VRRP keeps it that way.
  mend_heartbeat();
  EXPECT_TRUE(only_holder_for(a_, b_, 1s)) << b->log();
  // And if a really dies, b takes over: split-brain mode does not block failover.
  a->signal(SIGKILL);
  check("ip -n " + a_ + " addr del " + kVip + "/32 dev eth0");
  ASSERT_TRUE(wait_until([&] { return has_vip(b_, kVip); }, 5s)) << b->log();
}

// Against keepalived, which never yields: xlb detects the second holder, sees no xlb tag from
// it, and gives the VIP up (the documented rule for a foreign holder).
TEST_F(VrrpHeartbeat, SplitBrainAgainstKeepalivedXlbYields) {
  if (!have("keepalived")) GTEST_SKIP() << "keepalived is not installed";
  topology();
  auto ka = start_keepalived(lab_, a_, "ka",
                             "  state BACKUP\n  interface hb0\n  virtual_router_id 51\n"
                             "  priority 100\n  advert_int 0.1\n  version 3\n"
                             "  virtual_ipaddress {\n    " + kVip + "/32 dev eth0\n  }\n");
  auto b = hb_node(b_, "b", common("150", false, true));
  ASSERT_TRUE(wait_until([&] { return has_vip(b_, kVip) && !has_vip(a_, kVip); }, 5s))
      << b->log() << ka->log();
  cut_heartbeat();
  ASSERT_TRUE(b->wait_log("SPLIT_BRAIN", 5s)) << b->log();
  ASSERT_TRUE(b->wait_log("MASTER BACKUP 150 split brain", 5s)) << b->log();
  EXPECT_TRUE(only_holder_for(a_, b_, 2s)) << b->log();
}

}  // namespace
}  // namespace xlb::vrrp
