// The status views write the services' JSON straight from the model's rows (service_rows.hpp);
// `xlbctl list --json` still dumps a JSON tree of the same rows. Over a synthetic state of many
// reals, IPv6, a firewall-mark service, a sorry server, strings that need escaping and bytes that
// are not UTF-8, the written text must be the tree's text, and a whole page must parse to what
// the tree-based views served.
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "ctrl/api/rate_history.hpp"
#include "ctrl/api/service_rows.hpp"
#include "ctrl/api/services_document.hpp"

namespace xlb::api {
namespace {

using Json = nlohmann::json;

std::vector<ServiceRow> synthetic_state() {
  const std::string odd[] = {"up", "down", "up,drained", "say \"hi\"\\", "line\nbreak\ttab", "caf\xc3\xa9",
                             "bad \xff byte", std::string("nul\0in", 6), "\x01\x1f", "sorry,serving"};
  std::vector<ServiceRow> out;
  for (int s = 0; s < 24; ++s) {
    const bool v6 = s % 3 == 1;
    ServiceRow svc{.protocol = s % 2 ? "UDP" : "TCP",
                   .address = v6 ? "2001:db8::" + std::to_string(s) : "198.18.0." + std::to_string(s + 1),
                   .port = static_cast<std::uint16_t>(s % 4 == 3 ? 0 : 80 + s),
                   .fwmark = s % 4 == 3 ? 7u + static_cast<std::uint32_t>(s) : 0u,
                   .scheduler = s % 2 ? "mh" : "wrr",
                   .persistence = s % 5 == 0 ? 300u : 0u,
                   .persistence_prefix = static_cast<std::uint8_t>(s % 5 == 0 ? 24 : 255),
                   .active = s % 7 != 0,
                   .backend = s == 5 ? "ipvs \"fallback\"" : "xdp",
                   .stats = {std::numeric_limits<std::uint64_t>::max(), 12345678901234ull, 0}};
    if (s % 6 == 2) svc.sorry_server = v6 ? "[2001:db8::ff]:80" : "198.18.9.9:80";
    for (int r = 0; r < 50; ++r) {
      const auto n = static_cast<std::uint64_t>(s * 100 + r);
      svc.reals.push_back({.address = v6 ? "2001:db8:1::" + std::to_string(r + 1)
                                         : "198.18." + std::to_string(8 + s) + "." + std::to_string(r + 1),
                           .port = static_cast<std::uint16_t>(r % 9 == 0 ? 65535 : 8080),
                           .forward = r % 11 == 0 ? "Local" : (r % 5 == 0 ? "Tunnel" : "Route"),
                           .configured_weight = static_cast<std::uint32_t>(r),
                           .weight = r % 4 == 0 ? 0u : 65535u,
                           .health = odd[static_cast<std::size_t>(r) % std::size(odd)],
                           .active_conns = n * 3,
                           .inactive_conns = n,
                           .stats = {n, n * 1000, n * 1'000'000'000ull}});
    }
    out.push_back(std::move(svc));
  }
  return out;
}

// What the views did before: dump each real's tree, and the service's without its reals, and
// leave the object open for the members the page adds.
std::string tree_open(Json object) {
  object.erase("reals");
  return open_object(json_text(object));
}

TEST(ServiceRows, WrittenTextIsTheTreesText) {
  std::size_t reals = 0, escaped = 0;
  for (const auto& svc : synthetic_state()) {
    std::string service;
    write_open(service, svc);
    EXPECT_EQ(service, tree_open(to_json(svc))) << svc.address;
    for (const auto& real : svc.reals) {
      std::string text;
      write_open(text, real);
      const auto tree = json_text(to_json(real));
      EXPECT_EQ(text, open_object(tree)) << real.address << " " << real.health;
      // Closed, it is JSON, and parses to what the tree's text parses to.
      text.back() = '}';
      EXPECT_EQ(Json::parse(text), Json::parse(tree));
      ++reals;
      if (tree.find('\\') != std::string::npos) ++escaped;
    }
  }
  EXPECT_EQ(reals, 24u * 50u);
  EXPECT_GT(escaped, 100u) << "the state exercises escapes";
}

TEST(ServiceRows, StringsAsTheTreeWritesThem) {
  for (const std::string s : {"", "plain", "\"", "\\", "\x7f", "\xc3\xa9", "\xff\xfe", "a\x1b[0m"}) {
    std::string out;
    write_string(out, s);
    EXPECT_EQ(out, json_text(Json(s))) << s;
  }
  std::string n;
  write_number(n, std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(n, "18446744073709551615");
}

// A whole page of /api/v1/services, with rates and chart points, from the rows: valid JSON, and
// each service and real as the tree of the same rows, plus the members the page adds.
TEST(ServiceRows, PageParsesToTheTreeWithRates) {
  const auto rows = synthetic_state();
  RateHistory rates(RateHistory::Options{.interval = std::chrono::milliseconds(2000), .points = 4});
  const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  auto later = rows;
  for (auto& svc : later)
    for (auto& r : svc.reals) {
      r.stats.packets += 200;
      r.stats.bytes += 20000;
    }
  rates.sample(readings_of(rows), t0);
  rates.sample(readings_of(later), t0 + std::chrono::seconds(2));

  ServicesDocument doc;
  ASSERT_TRUE(doc.refresh(std::nullopt, [&] { return rows; }));
  std::string text;
  doc.write_page(text, {.offset = 2, .limit = 20, .history = true, .since = 0}, rates);
  const auto page = Json::parse(text);
  EXPECT_EQ(page["total"], 24);
  ASSERT_EQ(page["items"].size(), 20u);
  for (std::size_t i = 0; i < 20; ++i) {
    Json expected = Json::parse(json_text(to_json(rows[i + 2])));
    for (auto& real : expected["reals"]) {
      real["rate"] = {{"bytes_per_second", 10000.0}, {"packets_per_second", 100.0}};
      real["history"] = Json::array({Json::array({1'800'000'002'000ll, 100, 10000})});
    }
    EXPECT_EQ(page["items"][i], expected) << i;
  }
}

}  // namespace
}  // namespace xlb::api
