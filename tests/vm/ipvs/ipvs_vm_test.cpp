// Runs inside the VM lab (tools/vm/run.sh), on a kernel with IPVS: programs the seed's
// virtual_server through IpvsBackend and checks the kernel's table, ipvsadm's view of it,
// and DR traffic through namespaces.
#include <gtest/gtest.h>
#include <linux/ip_vs.h>

#include <algorithm>
#include <map>
#include <regex>
#include <sstream>

#include <unistd.h>

#include "ctrl/dataplane/ipvs/choose_backend.hpp"
#include "ctrl/dataplane/ipvs/ipvs_backend.hpp"
#include "dr_lab.hpp"

namespace xlb::dataplane {
namespace {

using vmtest::DrLab;

IpAddress ip(const char* s) { return boost::asio::ip::make_address(s); }

// The seed's keepalived.conf, on the lab's addresses:
//   virtual_server VIP 80 { lb_algo wrr; lb_kind DR; persistence_timeout 50; protocol TCP;
//     sorry_server 127.0.0.1 80; real_server RS1 80 { weight 2 } real_server RS2 80 { weight 1 } }
ServiceSpec seed_spec() {
  ServiceSpec s;
  s.key.address = ip(DrLab::kVip);
  s.key.port = 80;
  s.key.protocol = Protocol::tcp;
  s.scheduler = Scheduler::wrr;
  s.persistence_timeout = 50;
  s.sorry_server = RealServer{ip("127.0.0.1"), 80, 1, Forwarding::dr};
  s.reals = {RealServer{ip(DrLab::kReal1), 80, 2, Forwarding::dr},
             RealServer{ip(DrLab::kReal2), 80, 1, Forwarding::dr}};
  return s;
}

// ipvsadm pads its columns with trailing blanks; everything else must match.
std::string ipvsadm_listing() {
  std::istringstream in(vmtest::must("ipvsadm -Ln"));
  std::string line, out;
  while (std::getline(in, line)) {
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

const std::string kHeader =
    "IP Virtual Server version 1.2.1 (size=4096)\n"
    "Prot LocalAddress:Port Scheduler Flags\n"
    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";

std::map<std::string, std::uint32_t> weights(IpvsBackend& b, const ServiceKey& key) {
  std::map<std::string, std::uint32_t> m;
  for (const auto& d : b.dests(key)) m[d.dest.address.to_string()] = d.dest.weight;
  return m;
}

class IpvsVm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ipvs_available()) GTEST_SKIP() << "no IPVS in this kernel: run through tools/vm/run.sh";
    // A director always has its loopback up; without any address the kernel has no local
    // routing table yet, and IPVS refuses every IPv4 destination (EINVAL).
    vmtest::must("ip link set lo up");
    backend_.emplace();
    backend_->flush();
  }
  void TearDown() override {
    if (backend_) backend_->flush();
  }
  std::optional<IpvsBackend> backend_;
};

TEST_F(IpvsVm, SeedServiceIsProgrammedAndReadBack) {
  IpvsBackend& b = *backend_;
  const ServiceSpec spec = seed_spec();
  b.apply(spec);
  EXPECT_EQ(b.last_apply().services_added, 1u);
  EXPECT_EQ(b.last_apply().dests_added, 2u);

  auto svc = b.service(spec.key);
  ASSERT_TRUE(svc);
  EXPECT_EQ(svc->attrs.scheduler, "wrr");
  EXPECT_EQ(svc->attrs.flags, std::uint32_t{IP_VS_SVC_F_PERSISTENT});
  EXPECT_EQ(svc->attrs.timeout, 50u);
  EXPECT_EQ(svc->attrs.netmask, 0xffffffffu);
  auto dests = b.dests(spec.key);
  ASSERT_EQ(dests.size(), 2u);
  for (const auto& d : dests) {
    EXPECT_EQ(d.dest.fwd, std::uint32_t{IP_VS_CONN_F_DROUTE});
    EXPECT_EQ(d.dest.port, 80);
  }
  EXPECT_EQ(weights(b, spec.key),
            (std::map<std::string, std::uint32_t>{{DrLab::kReal1, 2}, {DrLab::kReal2, 1}}));

  EXPECT_EQ(ipvsadm_listing(), kHeader +
                                   "TCP  198.18.0.100:80 wrr persistent 50\n"
                                   "  -> 198.18.0.138:80              Route   2      0          0\n"
                                   "  -> 198.18.0.139:80              Route   1      0          0\n");

  // The same spec again changes nothing in the kernel.
  b.apply(spec);
  EXPECT_EQ(b.last_apply().total(), 0u);
}

TEST_F(IpvsVm, FailedRealLeavesAndSorryServerStandsInWhenNoneIsLeft) {
  IpvsBackend& b = *backend_;
  ServiceSpec spec = seed_spec();
  b.apply(spec);

  spec.reals.pop_back();  // RS2 fails its check
  b.apply(spec);
  EXPECT_EQ(b.last_apply().dests_removed, 1u);
  EXPECT_EQ(b.last_apply().total(), 1u);
  EXPECT_EQ(ipvsadm_listing(), kHeader +
                                   "TCP  198.18.0.100:80 wrr persistent 50\n"
                                   "  -> 198.18.0.138:80              Route   2      0          0\n");

  spec.reals.clear();  // RS1 fails too: the sorry server is the only destination
  b.apply(spec);
  EXPECT_EQ(ipvsadm_listing(), kHeader +
                                   "TCP  198.18.0.100:80 wrr persistent 50\n"
                                   "  -> 127.0.0.1:80                 Route   1      0          0\n");

  spec = seed_spec();  // both are back: the sorry server leaves
  b.apply(spec);
  EXPECT_EQ(b.last_apply().dests_added, 2u);
  EXPECT_EQ(b.last_apply().dests_removed, 1u);
  EXPECT_EQ(weights(b, spec.key),
            (std::map<std::string, std::uint32_t>{{DrLab::kReal1, 2}, {DrLab::kReal2, 1}}));

  b.remove(spec.key);
  EXPECT_FALSE(b.service(spec.key));
  EXPECT_EQ(ipvsadm_listing(), kHeader);
}

TEST_F(IpvsVm, SchedulersForwardingMethodsFwmarkAndIpv6) {
  IpvsBackend& b = *backend_;
  ServiceSpec nat;
  nat.key.address = ip("198.18.0.101");
  nat.key.port = 8080;
  nat.key.protocol = Protocol::udp;
  nat.scheduler = Scheduler::sh;
  nat.reals = {RealServer{ip(DrLab::kReal1), 9090, 1, Forwarding::nat},
               RealServer{ip(DrLab::kReal2), 9090, 3, Forwarding::tun}};
  b.apply(nat);
  ServiceSpec mark;
  mark.key.fwmark = 7;
  mark.scheduler = Scheduler::mh;
  mark.persistence_timeout = 300;
  mark.persistence_prefix_len = 24;
  mark.reals = {RealServer{ip(DrLab::kReal1), 0, 1, Forwarding::dr}};
  b.apply(mark);
  ServiceSpec v6;
  v6.key.address = ip("2001:db8::100");
  v6.key.port = 443;
  v6.scheduler = Scheduler::wlc;
  v6.reals = {RealServer{ip("2001:db8::138"), 8443, 1, Forwarding::nat}};
  b.apply(v6);

  EXPECT_EQ(ipvsadm_listing(),
            kHeader +
                "UDP  198.18.0.101:8080 sh\n"
                "  -> 198.18.0.138:9090            Masq    1      0          0\n"
                "  -> 198.18.0.139:8080            Tunnel  3      0          0\n"
                "TCP  [2001:db8::100]:443 wlc\n"
                "  -> [2001:db8::138]:8443         Masq    1      0          0\n"
                "FWM  7 mh persistent 300 mask 255.255.255.0\n"
                "  -> 198.18.0.138:0               Route   1      0          0\n");

  nat.scheduler = Scheduler::lc;
  b.apply(nat);
  EXPECT_EQ(b.last_apply().services_updated, 1u);
  EXPECT_EQ(b.last_apply().total(), 1u);
  EXPECT_EQ(b.service(nat.key)->attrs.scheduler, "lc");
  nat.scheduler = Scheduler::rr;
  nat.reals[1].weight = 1;
  b.apply(nat);
  EXPECT_EQ(b.last_apply().dests_updated, 1u);
  EXPECT_EQ(b.services().size(), 3u);
}

TEST_F(IpvsVm, DrTrafficReachesBothRealsTwoToOneAndAFailedRealStopsGettingIt) {
  DrLab lab;
  IpvsBackend& b = *backend_;
  ServiceSpec spec = seed_spec();
  b.apply(spec);

  // Persistence sends a returning client to the same real, so the 2:1 split shows across
  // clients (six new clients = two full wrr rounds), not across one client's requests.
  std::map<std::string, int> per_real;
  std::map<std::string, std::string> chosen;
  for (int host = 11; host <= 16; ++host) {
    const std::string src = lab.client_address(host);
    const std::string first = lab.fetch_from(src);
    const std::string second = lab.fetch_from(src);
    ASSERT_FALSE(first.empty()) << "no answer for client " << src;
    EXPECT_EQ(first, second) << "persistence: client " << src << " moved";
    chosen[src] = first;
    ++per_real[first];
  }
  EXPECT_EQ(per_real["rs1"], 4);
  EXPECT_EQ(per_real["rs2"], 2);

  // IPVS folds its per-CPU counters into what it reports from its estimator timer (every
  // 2 s), so the read-back may trail the traffic: wait until it has caught up.
  std::uint64_t rs1_flows = 0, rs2_flows = 0, svc_flows = 0, svc_packets = 0;
  for (int i = 0; i < 100 && svc_flows < 12; ++i) {
    if (i) usleep(100 * 1000);
    for (const auto& st : b.stats()) {
      if (st.key != spec.key) continue;
      svc_flows = st.counters.new_flows;
      svc_packets = st.counters.packets;
      for (const auto& r : st.reals) {
        if (r.real.address == ip(DrLab::kReal1)) rs1_flows = r.counters.new_flows;
        if (r.real.address == ip(DrLab::kReal2)) rs2_flows = r.counters.new_flows;
      }
    }
  }
  EXPECT_GT(svc_packets, 0u);
  EXPECT_EQ(svc_flows, 12u);
  EXPECT_EQ(rs1_flows, 8u);
  EXPECT_EQ(rs2_flows, 4u);

  auto flows = b.flows();
  int seen = 0;
  for (const auto& f : flows)
    if (f.service.address == ip(DrLab::kVip) && chosen.count(f.client.to_string())) {
      EXPECT_EQ(f.real, ip(chosen[f.client.to_string()] == "rs1" ? DrLab::kReal1 : DrLab::kReal2));
      ++seen;
    }
  EXPECT_EQ(seen, 12) << "flows listed from /proc/net/ip_vs_conn";

  // RS2 fails its check: it leaves the table, and its clients move to RS1.
  spec.reals.pop_back();
  b.apply(spec);
  b.flush_flows_to(spec.key, ip(DrLab::kReal2));
  EXPECT_EQ(weights(b, spec.key), (std::map<std::string, std::uint32_t>{{DrLab::kReal1, 2}}));
  const std::string after = std::regex_replace(ipvsadm_listing(), std::regex(" +[0-9]+ +[0-9]+\n"), "\n");
  EXPECT_EQ(after, kHeader +
                       "TCP  198.18.0.100:80 wrr persistent 50\n"
                       "  -> 198.18.0.138:80              Route   2\n");
  for (const auto& [src, real] : chosen) EXPECT_EQ(lab.fetch_from(src), "rs1") << src;
  for (int host = 21; host <= 23; ++host)
    EXPECT_EQ(lab.fetch_from(lab.client_address(host)), "rs1");
}

TEST(BackendChoiceVm, AutoPicksIpvsWhereXdpCannotServe) {
  if (!ipvs_available()) GTEST_SKIP() << "no IPVS in this kernel: run through tools/vm/run.sh";
  // The probe is real here: IPVS resolves, so auto falls back to it for NAT/TUN or when
  // XDP cannot attach, and stays with XDP otherwise.
  EXPECT_EQ(choose_backend(BackendRequest::automatic, true, true, ipvs_available()).backend,
            BackendKind::ipvs);
  EXPECT_EQ(choose_backend(BackendRequest::automatic, false, false, ipvs_available()).backend,
            BackendKind::ipvs);
  EXPECT_EQ(choose_backend(BackendRequest::automatic, false, true, ipvs_available()).backend,
            BackendKind::xdp);
}

}  // namespace
}  // namespace xlb::dataplane
