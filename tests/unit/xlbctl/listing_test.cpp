#include <gtest/gtest.h>

#include "tools/xlbctl/listing.hpp"

namespace xlb::ctl {
namespace {

Json sample_services(unsigned packets) {
  return Json::parse(R"([{"protocol":"TCP","address":"198.18.0.100","port":80,"scheduler":"wrr",
    "persistence":50,"active":true,"stats":{"conns":3,"packets":)" + std::to_string(packets) + R"(,"bytes":6000},
    "reals":[{"address":"198.18.1.11","port":80,"forward":"Route","weight":2,"active_conns":2,
              "inactive_conns":0,"health":"up","stats":{"conns":2,"packets":20,"bytes":4000}},
             {"address":"198.18.1.12","port":80,"forward":"Route","weight":1,"active_conns":1,
              "inactive_conns":0,"health":"down","stats":{"conns":1,"packets":10,"bytes":2000}}]}])");
}

TEST(Listing, PlainMatchesIpvsadmLayout) {
  const std::string expected =
      "IP Virtual Server version 1.2.1 (xlb)\n"
      "Prot LocalAddress:Port Scheduler Flags\n"
      "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn Health\n"
      "TCP  198.18.0.100:80 wrr persistent 50\n"
      "  -> 198.18.1.11:80               Route   2      2          0         up\n"
      "  -> 198.18.1.12:80               Route   1      1          0         down\n";
  EXPECT_EQ(format_listing(sample_services(30), ListMode::plain), expected);
}

TEST(Listing, StatsColumns) {
  const std::string out = format_listing(sample_services(30), ListMode::stats);
  EXPECT_NE(out.find("Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n"), std::string::npos);
  EXPECT_NE(out.find("TCP  198.18.0.100:80                     3       30        0     6000        0\n"), std::string::npos) << out;
}

TEST(Listing, RateIsTheDifferencePerSecond) {
  const std::string out = format_listing(sample_services(130), ListMode::rate, sample_services(30), 2.0);
  EXPECT_NE(out.find("TCP  198.18.0.100:80                     0       50        0        0        0\n"), std::string::npos) << out;
}

TEST(Listing, Ipv6AndFwmark) {
  Json services = Json::parse(R"([{"protocol":"TCP","address":"2001:db8::10","port":443,"scheduler":"mh","reals":[]},
                                  {"fwmark":7,"scheduler":"wrr","reals":[]}])");
  const std::string out = format_listing(services, ListMode::plain);
  EXPECT_NE(out.find("TCP  [2001:db8::10]:443 mh\n"), std::string::npos) << out;
  EXPECT_NE(out.find("FWM  7 wrr\n"), std::string::npos) << out;
}

TEST(Status, ShowsFlowSyncWhenConfigured) {
  const auto status = Json::parse(R"json({"instances":[],"backend":"xdp","flow_sync":{"interface":"eth1",
    "instance":"VI_1","role":"master","key":"auth_pass of vrrp_instance VI_1 (readable in every advert: use a key file)","entries_sent":400,"packets_sent":20,"max_datagrams_per_second":20000,
    "backlog":0,"entries_deferred":0,"entries_dropped":0,"entries_installed":0,"packets_received":0,
    "rejected_auth":1,"rejected_replay":0,"rejected_sync_id":0,"entries_unknown":0}})json");
  const auto out = format_status(status);
  EXPECT_NE(out.find("flow sync (lvs_sync_daemon eth1 VI_1): master\n"), std::string::npos) << out;
  EXPECT_NE(out.find("400 entries in 20 datagrams (at most 20000/s)"), std::string::npos) << out;
  EXPECT_NE(out.find("  key:       auth_pass of vrrp_instance VI_1 (readable in every advert: use a key file)\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("refused: 1 auth"), std::string::npos) << out;
  EXPECT_EQ(format_status(Json::parse(R"({"instances":[]})")).find("flow sync"), std::string::npos);
}

// The README promised that `xlbctl status` shows a refused reload's errors; only --json did.
TEST(Status, ShowsReloadsAndTheLastRefusedReloadsErrors) {
  const auto status = Json::parse(R"json({"instances":[],"backend":"xdp","reloads":3,"reloads_refused":1,
    "last_reload_errors":["conf.d/web.conf:39:9: error: unknown keyword 'weigth'; did you mean 'weight'?"]})json");
  const auto out = format_status(status);
  EXPECT_NE(out.find("reloads: 3 applied, 1 refused\n"), std::string::npos) << out;
  EXPECT_NE(out.find("last reload refused; the running configuration stays:\n"
                     "  conf.d/web.conf:39:9: error: unknown keyword 'weigth'"),
            std::string::npos)
      << out;
  const auto clean = format_status(Json::parse(R"({"instances":[],"reloads":1,"reloads_refused":0,"last_reload_errors":[]})"));
  EXPECT_EQ(clean.find("last reload refused"), std::string::npos) << clean;
}

}  // namespace
TEST(Status, ShowsWhatTheListenersRefusedAndClosed) {
  const auto status = Json::parse(R"json({"instances":[],"listeners":{
    "descriptors":{"limit":65536,"reserve":16384,"open":97},
    "control":{"connections":1,"max_connections":32,"rejected":{"cap":0,"descriptors":2,"accept_error":3},
               "closed":{"evicted":569,"idle_timeout":15,"request_timeout":16}}}})json");
  const auto out = format_status(status);
  EXPECT_NE(out.find("file descriptors: 97 open of 65536 (listeners leave the last 16384)\n"), std::string::npos) << out;
  EXPECT_NE(out.find("control socket: 1 of 32 connections; refused 0 at the cap, 2 short of descriptors, 3 accept "
                     "errors; closed 569 evicted, 15 idle, 16 slow\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("metrics endpoint"), std::string::npos) << "metrics_listen off: no line";
}

}  // namespace xlb::ctl

// Issue 29: what `xlbctl status`, `withdraw` and `announce` print about vip_route_table.
TEST(Listing, AnnounceLinesSayWhyAndSince) {
  const xlb::ctl::Json a = xlb::ctl::Json::parse(R"({"table": 4242, "device": "xlb-vip0", "protocol": 252, "operator_withdrawn": true,
    "vips": [{"vip": "198.18.0.10", "announced": false, "reason": "operator_withdrawn",
              "since": "2026-12-07T19:00:00+0000"}]})");
  EXPECT_EQ(xlb::ctl::format_announce(a),
            "announce (table 4242, dev xlb-vip0, proto 252): WITHDRAWN by the operator\n"
            "  198.18.0.10  withdrawn  operator_withdrawn  since 2026-12-07T19:00:00+0000\n");
  EXPECT_NE(xlb::ctl::format_status(xlb::ctl::Json{{"announce", a}}).find("198.18.0.10  withdrawn"), std::string::npos);
}
