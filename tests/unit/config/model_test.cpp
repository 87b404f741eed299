// The typed model: values, keepalived's defaults, source locations and value equality.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ctrl/config/config.hpp"
#include "ctrl/config/writer.hpp"

namespace fs = std::filesystem;
using namespace xlb::config;

namespace {

fs::path corpus(const std::string& name) {
  const char* src = std::getenv("XLB_SOURCE_DIR");
  return fs::path(src ? src : XLB_DEFAULT_SOURCE_DIR) / "tests/unit/config/corpus" / name / "keepalived.conf";
}

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

LoadResult load_ok(std::string_view text) {
  LoadResult r = load_string(text, "t.conf");
  std::ostringstream d;
  print_diagnostics(d, r.diagnostics);
  EXPECT_TRUE(r.diagnostics.empty()) << d.str();
  return r;
}

TEST(Model, SeedLoadBalancerConfigIsFullyTyped) {
  const LoadResult r = load_file(corpus("seed-ka01").string());
  ASSERT_TRUE(r.ok());
  const Config& c = r.config;
  EXPECT_EQ(c.global_defs.router_id.value, "192.168.126.136");
  EXPECT_EQ(c.global_defs.vrrp_mcast_group4.value, ip("230.0.0.0"));
  ASSERT_EQ(c.vrrp_instances.size(), 1u);
  const VrrpInstance& in = c.vrrp_instances[0];
  EXPECT_EQ(in.name.value, "VI_1");
  EXPECT_EQ(in.state.value, VrrpState::backup);
  EXPECT_EQ(in.interface.value, "eth1");
  EXPECT_EQ(in.virtual_router_id.value, 51);
  EXPECT_EQ(in.priority.value, 100);
  EXPECT_EQ(in.advert_int_cs.value, 300u);
  EXPECT_FALSE(in.nopreempt.value);
  EXPECT_EQ(in.preempt_delay.value, 10u);
  EXPECT_EQ(in.auth_type.value, AuthType::pass);
  EXPECT_EQ(in.auth_pass.value, "cisco");
  ASSERT_EQ(in.virtual_ipaddress.size(), 1u);
  EXPECT_EQ(in.virtual_ipaddress[0].address, ip("192.168.126.100"));
  EXPECT_EQ(in.virtual_ipaddress[0].prefix, 24);
  EXPECT_EQ(in.virtual_ipaddress[0].dev, "eth0");
  EXPECT_EQ(in.virtual_ipaddress[0].label, "eth0:1");
  EXPECT_EQ(in.unicast_src_ip.value, ip("10.1.1.1"));
  ASSERT_EQ(in.unicast_peer.size(), 1u);
  EXPECT_EQ(in.unicast_peer[0].address, ip("10.1.1.2"));
  EXPECT_EQ(in.notify.notify_master.value, "/apps/keepalived/bin/notify.sh master");
  EXPECT_TRUE(in.accept.value);
  EXPECT_EQ(in.version.value, 2);
  EXPECT_EQ(in.garp_master_delay.value, 5u);

  ASSERT_EQ(c.virtual_servers.size(), 1u);
  const VirtualServer& vs = c.virtual_servers[0];
  EXPECT_EQ(vs.address, ip("192.168.126.100"));
  EXPECT_EQ(vs.port, 80);
  EXPECT_EQ(vs.delay_loop.value, 6u);
  EXPECT_EQ(vs.lb_algo.value, "wrr");
  EXPECT_EQ(vs.lb_kind.value, LbKind::dr);
  EXPECT_EQ(vs.persistence_timeout.value, 50u);
  EXPECT_EQ(vs.protocol.value, Protocol::tcp);
  ASSERT_TRUE(vs.sorry_server.value.has_value());
  EXPECT_EQ(vs.sorry_server.value->address, ip("127.0.0.1"));
  EXPECT_EQ(effective_backend(vs, c.global_defs), LbBackend::xdp);
  ASSERT_EQ(vs.real_servers.size(), 2u);
  EXPECT_EQ(vs.real_servers[0].weight.value, 2u);
  EXPECT_EQ(vs.real_servers[1].weight.value, 1u);
  const Checker& ch = vs.real_servers[0].checkers.at(0);
  EXPECT_EQ(ch.type, CheckerType::http_get);
  ASSERT_EQ(ch.url.size(), 1u);
  EXPECT_EQ(ch.url[0].path.value, "/index.html");
  EXPECT_EQ(ch.url[0].status_code, (std::vector<StatusRange>{{200, 200}}));
  EXPECT_EQ(ch.connect_timeout.value, 1u);
  EXPECT_EQ(ch.retry.value, 3u);  // nb_get_retry
  EXPECT_EQ(ch.delay_before_retry.value, 1u);
  EXPECT_EQ(ch.delay_loop.value, 6u);  // inherited from the virtual server
}

TEST(Model, ValuesRememberFileLineAndColumn) {
  const LoadResult r = load_file(corpus("seed-ka01").string());
  ASSERT_TRUE(r.ok());
  const auto& in = r.config.vrrp_instances.at(0);
  EXPECT_EQ(fs::path(in.priority.loc.file.str()).filename(), "www.ming.org.conf");
  EXPECT_EQ(in.priority.loc.line, 5u);
  EXPECT_EQ(in.priority.loc.col, 5u);
  EXPECT_EQ(in.unicast_peer.at(0).loc.line, 18u);
  EXPECT_EQ(in.unicast_peer.at(0).loc.col, 9u);
  EXPECT_EQ(r.config.global_defs.router_id.loc.line, 4u);
  EXPECT_EQ(fs::path(r.config.global_defs.router_id.loc.file.str()).filename(), "keepalived.conf");
}

TEST(Model, KeepalivedDefaultsApplyWhenNotWritten) {
  const LoadResult r = load_ok(R"(
vrrp_instance V {
  interface eth0
  virtual_router_id 9
}
virtual_server 198.18.0.1 80 {
  persistence_timeout
  real_server 198.18.1.1 80 {
    TCP_CHECK {
    }
    MISC_CHECK {
      misc_path /bin/true
    }
  }
}
)");
  const auto& in = r.config.vrrp_instances.at(0);
  EXPECT_EQ(in.state.value, VrrpState::backup);
  EXPECT_EQ(in.priority.value, 100);
  EXPECT_EQ(in.advert_int_cs.value, 100u);
  EXPECT_EQ(in.version.value, 2);
  EXPECT_FALSE(in.priority.set);
  EXPECT_EQ(in.garp_master_repeat.value, 5u);
  const auto& vs = r.config.virtual_servers.at(0);
  EXPECT_EQ(vs.delay_loop.value, 60u);
  EXPECT_EQ(vs.lb_algo.value, "wlc");
  EXPECT_EQ(vs.lb_kind.value, LbKind::nat);
  EXPECT_EQ(vs.persistence_timeout.value, 360u);  // keyword without a value
  EXPECT_EQ(vs.persistence_granularity.value, 255);
  EXPECT_EQ(vs.quorum.value, 1u);
  EXPECT_EQ(effective_backend(vs, r.config.global_defs), LbBackend::ipvs);
  const auto& rs = vs.real_servers.at(0);
  EXPECT_EQ(rs.weight.value, 1u);
  const auto& tcp = rs.checkers.at(0);
  EXPECT_EQ(tcp.connect_timeout.value, 5u);
  EXPECT_EQ(tcp.retry.value, 1u);
  EXPECT_EQ(tcp.delay_before_retry.value, 1u);
  EXPECT_EQ(tcp.delay_loop.value, 60u);
  EXPECT_EQ(rs.checkers.at(1).misc_timeout.value, 60u);
  const auto& g = r.config.global_defs;
  EXPECT_EQ(g.vrrp_mcast_group4.value, ip("224.0.0.18"));
  EXPECT_EQ(g.vrrp_mcast_group6.value, ip("ff02::12"));
  EXPECT_EQ(g.smtp_connect_timeout.value, 30u);
  EXPECT_EQ(g.lb_backend.value, LbBackend::auto_select);
  EXPECT_EQ(g.vrrp_v3_checksum.value, V3Checksum::keepalived);
}

TEST(Model, EverythingCorpusParsesXlbAdditions) {
  const LoadResult r = load_file(corpus("ok-everything").string());
  ASSERT_TRUE(r.ok());
  const auto& g = r.config.global_defs;
  EXPECT_EQ(g.metrics_listen.value, (MetricsListen{true, "127.0.0.1", 9180}));
  EXPECT_EQ(g.smtp_quiet_hours.value, (QuietHours{true, 22 * 60, 7 * 60 + 30}));
  EXPECT_EQ(g.smtp_tls.value, SmtpTls::starttls);
  EXPECT_EQ(g.smtp_server.value, (SmtpServer{"198.18.0.25", 2525}));
  EXPECT_EQ(g.lvs_sync_daemon.value, (LvsSyncDaemon{true, "eth0", "VI_1", 7}));
  EXPECT_EQ(g.vrrp_v3_checksum.value, V3Checksum::rfc9568);
  EXPECT_EQ(g.xdp_max_flows.value, 1048576u);
  EXPECT_EQ(g.xdp_flow_lru.value, FlowLru::per_cpu);
  EXPECT_EQ(g.xdp_max_services.value, 10000u);
  EXPECT_EQ(g.xdp_max_reals.value, 163840u);
  EXPECT_EQ(g.xdp_max_persist.value, 131072u);
  EXPECT_EQ(g.xdp_ring_size.value, 1021u);
  ASSERT_EQ(r.config.vrrp_scripts.size(), 1u);  // from extra/{scripts,groups}.conf
  EXPECT_EQ(r.config.vrrp_sync_groups.size(), 1u);
  const auto& in = r.config.vrrp_instances.at(0);
  EXPECT_EQ(in.auth_pass.value, "s3cr#t!");  // quoted: comment characters are text
  EXPECT_EQ(in.virtual_ipaddress.size(), 2u);  // brace on the next line
  EXPECT_EQ(in.virtual_ipaddress[0].broadcast, ip("198.18.0.255"));
  EXPECT_EQ(in.unicast_peer.at(0).max_ttl, 64);
  EXPECT_EQ(in.track_interface.at(0).weight, -20);
  EXPECT_EQ(in.track_script.at(0).weight, 10);
  EXPECT_FALSE(in.track_script.at(1).weight.has_value());
  EXPECT_FALSE(in.accept.value);
  ASSERT_EQ(in.heartbeat_extra.size(), 2u);
  EXPECT_EQ(in.heartbeat_extra[1].peer, ip("198.18.1.2"));
  EXPECT_TRUE(in.split_brain_check.value);
  const auto& v6 = r.config.vrrp_instances.at(1);
  EXPECT_EQ(v6.version.value, 3);
  EXPECT_EQ(v6.advert_int_cs.value, 10u);
  EXPECT_EQ(v6.virtual_ipaddress.at(0).address, ip("2001:db8::100"));  // block on one line
  const auto& vs = r.config.virtual_servers.at(0);
  EXPECT_EQ(vs.persistence_granularity.value, 24);
  const auto& http = vs.real_servers.at(0).checkers.at(0);
  EXPECT_EQ(http.url.at(0).status_code, (std::vector<StatusRange>{{200, 299}, {301, 301}}));
  EXPECT_EQ(http.url.size(), 2u);
  const auto& grp = r.config.virtual_server_groups.at(0);
  ASSERT_EQ(grp.entries.size(), 3u);
  EXPECT_EQ(grp.entries[0].last, ip("198.18.0.102"));
  EXPECT_EQ(grp.entries[1].last, ip("2001:db8::1ff"));
  EXPECT_EQ(grp.entries[2].fwmark, 9u);
  EXPECT_EQ(effective_backend(r.config.virtual_servers.at(3), g), LbBackend::ipvs);  // fwmark
}

TEST(Model, TableSizesAreCheckedWhereTheyAreWritten) {
  const LoadResult r = load_string(
      "global_defs {\n  xdp_ring_size 4096\n  xdp_max_flows 10\n  xdp_flow_lru percpu\n}\n", "t.conf");
  std::ostringstream d;
  print_diagnostics(d, r.diagnostics);
  EXPECT_NE(d.str().find("t.conf:2:17: error: 'xdp_ring_size' must be a prime"), std::string::npos) << d.str();
  EXPECT_NE(d.str().find("t.conf:3:17: error:"), std::string::npos) << d.str();
  EXPECT_NE(d.str().find("t.conf:4:16: error:"), std::string::npos) << d.str();
  const auto defaults = load_ok("global_defs {\n}\n").config.global_defs;
  EXPECT_EQ(defaults.xdp_max_flows.value, 262144u);
  EXPECT_EQ(defaults.xdp_flow_lru.value, FlowLru::shared);
  EXPECT_EQ(defaults.xdp_ring_size.value, 4093u);
}

// Issue 29: the table of the VIP routes; the node's own tables are refused.
TEST(Model, VipRouteTableIsOffByDefaultAndNeverAMainTable) {
  const auto defaults = load_ok("global_defs {\n}\n").config.global_defs;
  EXPECT_EQ(defaults.vip_route_table.value, 0u);
  EXPECT_EQ(defaults.vip_route_grace.value, 2u);
  const auto set = load_ok("global_defs {\n  vip_route_table 4242\n  vip_route_grace 0\n}\n").config;
  EXPECT_EQ(set.global_defs.vip_route_table.value, 4242u);
  EXPECT_EQ(set.global_defs.vip_route_grace.value, 0u);
  std::ostringstream written;
  write_config(written, set);
  EXPECT_EQ(load_ok(written.str()).config, set) << written.str();
  for (const char* table : {"253", "254", "255", "0"}) {
    const LoadResult r = load_string(std::string("global_defs {\n  vip_route_table ") + table + "\n}\n", "t.conf");
    EXPECT_FALSE(r.ok()) << table;
  }
}

// Issue 29: active-active flow sync among N peers; one family, an optional id, a round trip.
TEST(Model, FlowSyncPeersListsEveryNode) {
  EXPECT_FALSE(load_ok("global_defs {\n}\n").config.global_defs.flow_sync_peers.value.enabled);
  const auto set =
      load_ok("global_defs {\n  flow_sync_peers eth0 198.18.1.11 198.18.1.12 198.18.1.13 id 9\n}\n").config;
  const auto& p = set.global_defs.flow_sync_peers.value;
  EXPECT_TRUE(p.enabled);
  EXPECT_EQ(p.interface, "eth0");
  ASSERT_EQ(p.peers.size(), 3u);
  EXPECT_EQ(p.peers[2].to_string(), "198.18.1.13");
  EXPECT_EQ(p.sync_id, 9u);
  EXPECT_EQ(set.global_defs.flow_sync_join_wait.value, 5u);
  EXPECT_EQ(load_ok("global_defs {\n  flow_sync_join_wait 12\n}\n").config.global_defs.flow_sync_join_wait.value, 12u);
  std::ostringstream written;
  write_config(written, set);
  EXPECT_EQ(load_ok(written.str()).config, set) << written.str();
  for (const char* bad : {"flow_sync_peers eth0", "flow_sync_peers eth0 198.18.1.11 2001:db8::1",
                          "flow_sync_peers eth0 not-an-address", "flow_sync_peers eth0 198.18.1.11 id 300",
                          "flow_sync_join_wait 0", "flow_sync_join_wait 301"}) {
    const LoadResult r = load_string(std::string("global_defs {\n  ") + bad + "\n}\n", "t.conf");
    EXPECT_FALSE(r.ok()) << bad;
  }
}

// Reload diffs models: the same meaning written differently must compare equal, and a change
// must show up in exactly the section that changed.
TEST(Model, EqualityComparesValuesNotLayout) {
  const auto a = load_ok(R"(
vrrp_instance V { interface eth0
  virtual_router_id 9
  virtual_ipaddress { 198.18.0.1/32 }
}
virtual_server 198.18.0.1 80 { lb_algo rr
  lb_kind DR
  real_server 198.18.1.1 80 { weight 2 }
  real_server 198.18.1.2 80 { weight 1 }
})");
  const auto b = load_ok(R"(
# moved around, comments added, defaults written out
vrrp_instance V {
    interface eth0
    virtual_router_id 9
    priority 100
    virtual_ipaddress {
        198.18.0.1
    }
}

virtual_server 198.18.0.1 80 {
    lb_kind DR
    lb_algo rr
    real_server 198.18.1.1 80 {
        weight 2
    }
    real_server 198.18.1.2 80 {
        weight 1
    }
})");
  EXPECT_EQ(a.config, b.config);
  const auto c = load_ok(R"(
vrrp_instance V { interface eth0
  virtual_router_id 9
  virtual_ipaddress { 198.18.0.1/32 }
}
virtual_server 198.18.0.1 80 { lb_algo rr
  lb_kind DR
  real_server 198.18.1.1 80 { weight 3 }
  real_server 198.18.1.2 80 { weight 1 }
})");
  EXPECT_NE(a.config, c.config);
  EXPECT_EQ(a.config.vrrp_instances, c.config.vrrp_instances);
  EXPECT_EQ(a.config.global_defs, c.config.global_defs);
  EXPECT_NE(a.config.virtual_servers[0].real_servers[0], c.config.virtual_servers[0].real_servers[0]);
  EXPECT_EQ(a.config.virtual_servers[0].real_servers[1], c.config.virtual_servers[0].real_servers[1]);
}

}  // namespace

namespace {

// What the writer prints must read back, without a single diagnostic, into an equal model:
// the writer is how an operator sees the effective configuration, so it must be complete.
TEST(Writer, EveryAcceptedCorpusConfigRoundTrips) {
  int checked = 0;
  for (const auto& e : fs::directory_iterator(corpus("x").parent_path().parent_path())) {
    const auto conf = e.path() / "keepalived.conf";
    const LoadResult first = load_file(conf.string());
    if (!first.ok()) continue;
    std::ostringstream written;
    write_config(written, first.config);
    const LoadResult second = load_string(written.str(), "written.conf");
    std::ostringstream d;
    print_diagnostics(d, second.diagnostics);
    EXPECT_TRUE(second.diagnostics.empty()) << e.path() << "\n" << d.str() << written.str();
    EXPECT_EQ(first.config, second.config) << e.path() << "\n" << written.str();
    ++checked;
  }
  EXPECT_GE(checked, 7);
}

}  // namespace

namespace {

TEST(Model, XdpInterfacesFollowVipDevThenInstanceInterface) {
  const auto r = load_ok(R"(
vrrp_instance A {
  interface eth1
  virtual_router_id 1
  virtual_ipaddress {
    198.18.0.1 dev eth0
    198.18.0.2
  }
}
virtual_server 198.18.0.1 80 { lb_algo wrr
  lb_kind DR }
virtual_server 198.18.0.2 80 { lb_algo rr
  lb_kind DR }
virtual_server 198.18.0.3 80 { lb_algo rr
  lb_kind DR }
virtual_server 198.18.0.2 81 { lb_algo wlc
  lb_kind NAT }
virtual_server 198.18.0.2 82 { lb_algo rr
  lb_kind TUN type gre
  lb_backend ipvs }
)");
  const auto x = xdp_interfaces(r.config);
  EXPECT_EQ(x.names, (std::vector<std::string>{"eth0", "eth1"}));
  ASSERT_EQ(x.unresolved.size(), 1u);  // 198.18.0.3 is no VIP; the NAT service runs on IPVS
  EXPECT_EQ(x.unresolved[0]->address, ip("198.18.0.3"));
}

TEST(Model, TunnelKindsAndTheBackendTheyRunOn) {
  const auto r = load_string(R"(
virtual_server 198.18.0.1 80 { lb_algo wrr
  lb_kind TUN }
virtual_server 198.18.0.1 81 { lb_algo wrr
  lvs_method TUN type gue port 6080 csum
  tunnel_source 198.18.2.0/24 }
virtual_server 198.18.0.1 82 { lb_algo wrr
  lb_kind TUN type gre }
virtual_server 198.18.0.1 83 { lb_algo wrr
  lb_kind TUN type gue port 6080 remcsum }
)", "t.conf");
  ASSERT_EQ(r.config.virtual_servers.size(), 4u);
  EXPECT_EQ(r.diagnostics.size(), 2u) << "xlbd -t says which two run on IPVS";
  const auto& v = r.config.virtual_servers;
  const GlobalDefs g;
  EXPECT_EQ(v[0].tunnel.value, Tunnel{});
  EXPECT_EQ(effective_backend(v[0], g), LbBackend::xdp);
  EXPECT_EQ(v[1].tunnel.value, (Tunnel{TunnelType::gue, 6080, TunnelChecksum::csum}));
  ASSERT_EQ(v[1].tunnel_source.size(), 1u);
  EXPECT_EQ(v[1].tunnel_source[0].value.prefix, 24);
  EXPECT_EQ(effective_backend(v[1], g), LbBackend::xdp);
  EXPECT_EQ(to_string(v[1].tunnel.value), "gue port 6080 csum");
  EXPECT_EQ(effective_backend(v[2], g), LbBackend::ipvs) << "GRE stays on IPVS";
  EXPECT_EQ(effective_backend(v[3], g), LbBackend::ipvs) << "remote checksum offload stays on IPVS";
  // The writer keeps what the parser read.
  std::ostringstream written;
  write_config(written, r.config);
  const auto again = load_string(written.str(), "written.conf");
  EXPECT_EQ(again.diagnostics.size(), 2u);
  EXPECT_EQ(again.config, r.config) << written.str();
}

}  // namespace
