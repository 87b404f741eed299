// The status views (ctrl/api/status_api.hpp) over a model shaped as xlbd's: routes, paging,
// rates from counter readings, the bounded rings, bad parameters, the embedded page; and the
// whole over a real MetricsServer socket.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <future>
#include <string>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "ctrl/api/event_log.hpp"
#include "ctrl/api/metrics_server.hpp"
#include "ctrl/api/rate_history.hpp"
#include "ctrl/api/status_api.hpp"
#include "ctrl/api/status_assets.hpp"

namespace xlb::api {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

// `services` services of `reals` reals each, counters growing with `tick`.
std::vector<ServiceRow> model_services(int services, int reals, std::uint64_t tick) {
  std::vector<ServiceRow> out;
  for (int s = 0; s < services; ++s) {
    ServiceRow svc{.protocol = "TCP", .address = "198.18.0." + std::to_string(s + 1), .port = 80,
                   .scheduler = "wrr", .active = true, .backend = "xdp"};
    for (int r = 0; r < reals; ++r) {
      const std::uint64_t n = static_cast<std::uint64_t>(r + 1);
      svc.reals.push_back({.address = "198.18." + std::to_string(1 + s) + "." + std::to_string(1 + r),
                           .port = 80,
                           .forward = "Route",
                           .configured_weight = 1,
                           .weight = 1,
                           .health = r == 0 ? "down" : "up",
                           .stats = {tick, 100 * tick * n, 6400 * tick * n}});
    }
    out.push_back(std::move(svc));
  }
  return out;
}

struct Views {
  boost::asio::io_context io;
  EventLog events{5};
  RateHistory rates{RateHistory::Options{.interval = 2000ms, .points = 4, .max_series = 1000}};
  std::uint64_t tick = 1;
  int services = 3;
  int status_calls = 0;
  int services_calls = 0;
  std::uint64_t generation = 1;
  StatusApi api{io.get_executor(),
                StatusApi::Model{[this] {
                                   ++status_calls;
                                   return Json{{"instances", Json::array()}, {"backend", "xdp"}};
                                 },
                                 [this] {
                                   ++services_calls;
                                   return model_services(services, 2, tick);
                                 },
                                 [this] { return Json{{"services", to_json(model_services(services, 2, tick))}}; },
                                 {},
                                 [this] { return generation; }},
                events,
                rates,
                StatusApi::Options{.page = true, .default_limit = 2, .max_limit = 10}};
  Json get(const std::string& target, unsigned expect = 200) {
    const auto reply = api.get(target);
    EXPECT_EQ(reply.status, expect) << target << ": " << reply.body;
    EXPECT_EQ(reply.content_type, "application/json");
    return Json::parse(reply.body);
  }
};

TEST(StatusApi, StateIsVersionedAndPaged) {
  Views v;
  const auto state = v.get("/api/v1/state");
  EXPECT_EQ(state["api_version"], 1);
  EXPECT_EQ(state["status"]["backend"], "xdp");
  EXPECT_EQ(state["services"]["total"], 3);
  EXPECT_EQ(state["services"]["limit"], 2);
  ASSERT_EQ(state["services"]["items"].size(), 2u);
  const auto second = v.get("/api/v1/state?offset=2&limit=10");
  ASSERT_EQ(second["services"]["items"].size(), 1u);
  EXPECT_EQ(second["services"]["items"][0]["address"], "198.18.0.3");
  EXPECT_EQ(v.get("/api/v1/services?offset=7")["items"].size(), 0u) << "past the end: an empty page";
  EXPECT_EQ(v.get("/api/v1/services?offset=1&limit=1")["items"][0]["address"], "198.18.0.2");
}

TEST(StatusApi, BadParametersAreRefusedWithTheReason) {
  Views v;
  EXPECT_NE(v.get("/api/v1/state?limit=11", 400)["error"].get<std::string>().find("at most 10"), std::string::npos);
  EXPECT_NE(v.get("/api/v1/services?offset=-1", 400)["error"].get<std::string>().find("whole number"), std::string::npos);
  v.get("/api/v1/services?limit=", 400);
  v.get("/api/v1/services?limit=1x", 400);
  v.get("/api/v1/events?after=abc", 400);
  EXPECT_EQ(v.get("/api/v1/nope", 404)["error"], "no such endpoint; see /api/v1");
  EXPECT_EQ(v.get("/api/v1")["api_version"], 1);
}

TEST(StatusApi, RatesComeFromTwoReadingsAndHistoryIsBounded) {
  Views v;
  const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  for (int i = 0; i < 7; ++i) {
    v.tick = 1 + static_cast<std::uint64_t>(i);
    v.rates.sample(readings_of(model_services(1, 2, v.tick)), t0 + std::chrono::seconds(2 * i));
  }
  const auto page = v.get("/api/v1/services?history=1");
  const auto& real2 = page["items"][0]["reals"][1];  // 200 packets and 12800 bytes per tick
  EXPECT_FLOAT_EQ(real2["rate"]["packets_per_second"].get<float>(), 100.0f);
  EXPECT_FLOAT_EQ(real2["rate"]["bytes_per_second"].get<float>(), 6400.0f);
  ASSERT_EQ(real2["history"].size(), 4u) << "points per real are capped";
  EXPECT_EQ(real2["history"][3][0].get<std::int64_t>(), 1'800'000'012'000) << "oldest first, newest last";
  EXPECT_EQ(real2["history"][0][0].get<std::int64_t>(), 1'800'000'006'000);
  EXPECT_FALSE(v.get("/api/v1/services")["items"][0]["reals"][0].contains("history")) << "history on request only";
}

// The page's polls after the first ask for the points of readings after the last reply's
// rates.seq: each poll carries only what is new, and the series it keeps equals the full one.
TEST(StatusApi, SinceSendsOnlyTheNewPoints) {
  Views v;
  const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  auto read = [&](int i) {
    v.tick = 1 + static_cast<std::uint64_t>(i);
    v.rates.sample(readings_of(model_services(3, 2, v.tick)), t0 + std::chrono::seconds(2 * i));
  };
  read(0);
  read(1);
  read(2);
  const auto first = v.get("/api/v1/state?since=0");
  EXPECT_EQ(first["rates"]["seq"], 3);
  Json kept = first["services"]["items"][0]["reals"][1]["history"];
  ASSERT_EQ(kept.size(), 2u) << "two rates from three readings";
  const auto none = v.get("/api/v1/state?since=3");
  EXPECT_EQ(none["services"]["items"][0]["reals"][1]["history"], Json::array()) << "nothing newer yet";
  EXPECT_EQ(none["services"]["items"][0]["reals"][1]["rate"]["packets_per_second"], 100.0f) << "the rate still is";
  for (int i = 3; i < 9; ++i) {
    read(i);
    const auto next = v.get("/api/v1/state?since=" + std::to_string(i));
    EXPECT_EQ(next["rates"]["seq"], i + 1);
    const auto& points = next["services"]["items"][0]["reals"][1]["history"];
    ASSERT_EQ(points.size(), 1u) << "one reading since the last poll: one point";
    for (const auto& p : points) kept.push_back(p);
    while (kept.size() > 4) kept.erase(kept.begin());  // the page keeps the chart's window
  }
  EXPECT_EQ(kept, v.get("/api/v1/state?since=0")["services"]["items"][0]["reals"][1]["history"])
      << "appended points equal the whole series";
  EXPECT_EQ(v.get("/api/v1/state?since=5")["services"]["items"][0]["reals"][1]["history"].size(), 4u)
      << "older than the ring: what the ring has";
  EXPECT_FALSE(v.get("/api/v1/state?since=5&history=0")["services"]["items"][0]["reals"][1].contains("history"));
  // Paging keeps working with since=: the second page's reals carry their own new points.
  const auto page2 = v.get("/api/v1/state?offset=2&limit=2&since=8");
  ASSERT_EQ(page2["services"]["items"].size(), 1u);
  EXPECT_EQ(page2["services"]["items"][0]["address"], "198.18.0.3");
  EXPECT_EQ(page2["services"]["items"][0]["reals"][0]["history"].size(), 1u);
  v.get("/api/v1/state?since=x", 400);
}

// The services are read once per version of the state (the model's generation, the events)
// and their text shared by the requests in between; status, events and each real's rate are
// read per request.
TEST(StatusApi, ServicesAreReadOncePerVersionOfTheState) {
  Views v;
  const auto a = v.get("/api/v1/state");
  const int reads = v.services_calls;
  const int status_reads = v.status_calls;
  v.get("/api/v1/state?since=0");
  v.get("/api/v1/services?limit=10&history=1");
  EXPECT_EQ(v.services_calls, reads) << "nothing changed: the same text";
  EXPECT_EQ(v.status_calls, status_reads + 1) << "status is read per request";
  EXPECT_EQ(a["services"]["items"][0]["reals"][1]["rate"]["packets_per_second"], 0) << "no reading yet";
  const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  v.rates.sample(readings_of(model_services(3, 2, 1)), t0);
  v.tick = 9;
  v.rates.sample(readings_of(model_services(3, 2, v.tick)), t0 + 2s);
  const auto b = v.get("/api/v1/services");
  EXPECT_EQ(b["items"][0]["reals"][1]["rate"]["packets_per_second"], 800) << "a reading: the rate is new";
  EXPECT_EQ(b["items"][0]["reals"][1]["rate"]["bytes_per_second"], 51200);
  EXPECT_EQ(b["items"][0]["reals"][0]["stats"]["packets"], 100) << "the counters wait for the model's next version";
  EXPECT_EQ(v.services_calls, reads);
  ++v.generation;
  v.services = 1;
  const auto c = v.get("/api/v1/state");
  EXPECT_EQ(c["services"]["total"], 1) << "the model moved: read again";
  EXPECT_EQ(c["services"]["items"][0]["reals"][0]["stats"]["packets"], 900);
  v.events.record("health", "r", "down", true);
  v.get("/api/v1/state");
  EXPECT_EQ(v.services_calls, reads + 2) << "an event: read again";
  EXPECT_EQ(a["services"]["items"][0]["reals"][0]["health"], "down") << "the text is the model's";
}

TEST(RateHistory, ForgetsRemovedRealsAndRestartsOnACounterReset) {
  RateHistory h(RateHistory::Options{.interval = 1000ms, .points = 8, .max_series = 2});
  const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1000));
  h.sample({{"a", 100, 1000}, {"b", 0, 0}, {"c", 0, 0}}, t0);
  EXPECT_EQ(h.size(), 2u) << "max_series caps the reals tracked";
  EXPECT_EQ(h.refused_series(), 1u);
  h.sample({{"a", 300, 3000}}, t0 + 1s);
  EXPECT_EQ(h.size(), 1u) << "b left the configuration";
  ASSERT_TRUE(h.latest("a"));
  EXPECT_FLOAT_EQ(h.latest("a")->packets_per_second, 200.0f);
  h.sample({{"a", 10, 100}}, t0 + 2s);  // the dataplane started again
  EXPECT_FALSE(h.latest("a")) << "no spike and no negative rate after a reset";
  h.sample({{"a", 20, 100}}, t0 + 2s);  // the same instant: no rate from a zero interval
  EXPECT_FALSE(h.latest("a"));
}

TEST(EventLog, NewestFirstAndBounded) {
  Views v;
  for (int i = 1; i <= 7; ++i) v.events.record("health", "r" + std::to_string(i), "event " + std::to_string(i), i % 2 == 0);
  const auto all = v.get("/api/v1/events");
  EXPECT_EQ(all["capacity"], 5);
  ASSERT_EQ(all["events"].size(), 5u) << "the ring keeps its capacity";
  EXPECT_EQ(all["events"][0]["text"], "event 7");
  EXPECT_EQ(all["events"][0]["severity"], "info");
  EXPECT_EQ(all["events"][1]["severity"], "warning");
  EXPECT_EQ(all["events"][4]["text"], "event 3");
  const auto after = v.get("/api/v1/events?after=5");
  ASSERT_EQ(after["events"].size(), 2u);
  EXPECT_EQ(after["events"][1]["seq"], 6);
  EXPECT_EQ(v.get("/api/v1/state?events=2")["events"].size(), 2u);
  EXPECT_TRUE(all["events"][0]["at"].get<std::string>().ends_with("Z"));
}

TEST(StatusApi, DumpAndStatusAreTheModelUnchanged) {
  Views v;
  EXPECT_EQ(v.get("/api/v1/dump"), Json({{"services", to_json(model_services(3, 2, 1))}}));
  const int before = v.status_calls;
  EXPECT_EQ(v.get("/api/v1/status")["backend"], "xdp");
  EXPECT_EQ(v.status_calls, before + 1) << "read at each request, not cached";
}

TEST(StatusPage, ServedFromTheBinaryWithNothingFromElsewhere) {
  Views v;
  const auto page = v.api.get("/");
  EXPECT_EQ(page.status, 200u);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("/status.js"), std::string::npos);
  EXPECT_EQ(v.api.get("/index.html").body, page.body);
  EXPECT_EQ(v.api.get("/status.js").content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(v.api.get("/status.css").content_type, "text/css; charset=utf-8");
  EXPECT_EQ(v.api.get("/nothing.js").status, 404u);
  for (const auto& asset : status_page_assets()) {
    // No CDN, no font service: the only absolute URL allowed is SVG's XML namespace.
    std::string body(asset.body);
    const std::string ns = "http://www.w3.org/2000/svg";
    for (auto at = body.find(ns); at != std::string::npos; at = body.find(ns)) body.erase(at, ns.size());
    EXPECT_EQ(body.find("http://"), std::string::npos) << asset.path;
    EXPECT_EQ(body.find("https://"), std::string::npos) << asset.path;
    EXPECT_EQ(body.find("//cdn"), std::string::npos) << asset.path;
    EXPECT_EQ(body.find("innerHTML"), std::string::npos) << asset.path << ": labels are text, never markup";
  }
}

// The dashboard view renders the Grafana dashboard that packaging installs: the same bytes,
// embedded from packaging/grafana at build time, not a copy that could drift from it.
TEST(StatusPage, DashboardViewServesThePackagedDashboard) {
  Views v;
  const auto page = v.api.get("/dashboard");
  EXPECT_EQ(page.status, 200u);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  for (const auto* script : {"/chart.js", "/promql.js", "/dashboard.js"}) {
    EXPECT_NE(page.body.find(script), std::string::npos) << script;
    EXPECT_EQ(v.api.get(script).content_type, "text/javascript; charset=utf-8") << script;
  }
  EXPECT_EQ(v.api.get("/dashboard.css").content_type, "text/css; charset=utf-8");
  const auto served = v.api.get("/xlb-dashboard.json");
  EXPECT_EQ(served.status, 200u);
  EXPECT_EQ(served.content_type, "application/json");
  const char* source_dir = std::getenv("XLB_SOURCE_DIR");
  ASSERT_NE(source_dir, nullptr) << "ctest sets XLB_SOURCE_DIR";
  std::ifstream packaged(std::string(source_dir) + "/packaging/grafana/xlb-dashboard.json", std::ios::binary);
  ASSERT_TRUE(packaged) << "packaging/grafana/xlb-dashboard.json";
  const std::string file((std::istreambuf_iterator<char>(packaged)), std::istreambuf_iterator<char>());
  EXPECT_EQ(served.body, file);
  EXPECT_EQ(Json::parse(served.body)["uid"], "xlb-overview");
}

TEST(StatusPage, OffLeavesTheApi) {
  boost::asio::io_context io;
  EventLog events;
  RateHistory rates;
  StatusApi api(io.get_executor(),
                {[] { return Json::object(); }, [] { return std::vector<ServiceRow>(); }, [] { return Json::object(); }, {}, {}},
                events, rates, StatusApi::Options{.page = false});
  EXPECT_EQ(api.get("/").status, 404u);
  EXPECT_EQ(api.get("/status.js").status, 404u);
  EXPECT_EQ(api.get("/dashboard").status, 404u);
  EXPECT_EQ(api.get("/xlb-dashboard.json").status, 404u);
  EXPECT_EQ(api.get("/api/v1/state").status, 200u);
}

TEST(StatusApi, AModelThatThrowsAnswers500) {
  boost::asio::io_context io;
  EventLog events;
  RateHistory rates;
  StatusApi api(io.get_executor(),
                {[]() -> Json { throw std::runtime_error("dataplane gone"); }, [] { return std::vector<ServiceRow>(); },
                 [] { return Json::object(); }, {}, {}},
                events, rates, {});
  const auto reply = api.get("/api/v1/status");
  EXPECT_EQ(reply.status, 500u);
  EXPECT_NE(reply.body.find("dataplane gone"), std::string::npos);
}

namespace http = boost::beast::http;

// A free function, not a capturing lambda: GCC 12 mishandles spawned lambda coroutines' captures.
boost::asio::awaitable<http::response<http::string_body>> fetch_once(unsigned short port, std::string target) {
  boost::asio::ip::tcp::socket socket(co_await boost::asio::this_coro::executor);
  co_await socket.async_connect({boost::asio::ip::make_address("127.0.0.1"), port}, boost::asio::use_awaitable);
  http::request<http::empty_body> request(http::verb::get, target, 11);
  request.set(http::field::host, "localhost");
  request.keep_alive(false);
  co_await http::async_write(socket, request, boost::asio::use_awaitable);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  co_await http::async_read(socket, buffer, response, boost::asio::use_awaitable);
  co_return response;
}

// The views behind a real MetricsServer socket: /metrics unchanged, pages and API beside it,
// the security headers on every page reply, and the sampler filling the rings on its timer.
TEST(StatusApi, ServedOnTheMetricsListener) {
  Views v;
  MetricsServer server(v.io, "127.0.0.1", 0, [] { return std::string("xlb_up 1\n"); });
  server.serve_pages([&](std::string_view target) { return v.api.get(target); });
  server.start();
  v.api.start();
  auto fetch = [&](const std::string& target) {
    auto reply = boost::asio::co_spawn(v.io, fetch_once(server.port(), target), boost::asio::use_future);
    v.io.restart();
    while (reply.wait_for(0s) != std::future_status::ready) v.io.run_one();
    return reply.get();
  };
  EXPECT_EQ(fetch("/metrics").body(), "xlb_up 1\n");
  const auto state = fetch("/api/v1/state");
  EXPECT_EQ(state.result_int(), 200);
  EXPECT_EQ(state[http::field::cache_control], "no-store");
  EXPECT_NE(state["Content-Security-Policy"].find("default-src 'self'"), boost::string_view::npos);
  EXPECT_EQ(Json::parse(state.body())["api_version"], 1);
  EXPECT_EQ(fetch("/").result_int(), 200);
  EXPECT_EQ(fetch("/api/v1/x").result_int(), 404);
  v.api.stop();
  EXPECT_EQ(v.rates.size(), 6u) << "the sampler read the model once at start";
}

}  // namespace
}  // namespace xlb::api
