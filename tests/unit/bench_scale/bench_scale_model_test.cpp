#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "bench/scale/scenario_model.hpp"
#include "ctrl/config/config.hpp"

namespace {

using namespace xlb::bench::scale;

TEST(BenchScaleModel, VipsScenarioIsAValidConfigurationWithOneServicePerVip) {
  const auto services = scenario_services("vips", 300, 16, 0);
  ASSERT_EQ(services.size(), 300u);
  std::set<std::pair<std::string, int>> keys;
  for (const auto& s : services) {
    EXPECT_EQ(s.reals.size(), 16u);
    keys.insert({s.key.address.to_string(), s.key.port});
  }
  EXPECT_EQ(keys.size(), 300u) << "two services share a key";
  EXPECT_EQ(real_addresses(services).size(), 16u);

  const auto r = xlb::config::load_string(keepalived_conf(services), "scale.conf");
  for (const auto& d : r.diagnostics) {
    if (d.severity == xlb::config::Severity::error) ADD_FAILURE() << d.message;
  }
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config.virtual_servers.size(), 300u);
}

TEST(BenchScaleModel, RealsScenarioHasDistinctRealsOnOneVip) {
  const auto services = scenario_services("reals", 0, 0, 1000);
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(services.front().reals.size(), 1000u);
  EXPECT_EQ(real_addresses(services).size(), 1000u);
  const auto r = xlb::config::load_string(keepalived_conf(services), "scale.conf");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.config.virtual_servers.size(), 1u);
  EXPECT_EQ(r.config.virtual_servers.front().real_servers.size(), 1000u);
}

TEST(BenchScaleModel, UnknownScenarioAndOversizeAreRefused) {
  EXPECT_THROW(scenario_services("bogus", 1, 1, 1), std::invalid_argument);
  EXPECT_THROW(scenario_services("vips", 20000, 16, 0), std::invalid_argument);
}

// bench/history.py: append two runs of a benchmark, then show prints both and the change.
TEST(BenchHistory, AppendThenShowPrintsTheChange) {
  const char* src = std::getenv("XLB_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  const auto dir = std::filesystem::temp_directory_path() / ("xlb-history-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto history = dir / "history.jsonl";
  const auto result = dir / "insns.json";
  const std::string tool = std::string(src) + "/bench/history.py";
  for (int ir : {1000, 1500}) {
    std::ofstream(result) << R"({"commit": "c)" << ir << R"(", "user": {"ring-wrr": {"ir_per_op": )" << ir
                          << R"(}}, "bpf": {"programs": {"xlb_balancer": {"verified_insns": 42}}}})";
    const std::string cmd = "python3 " + tool + " append insns " + result.string() + " --commit c" +
                            std::to_string(ir) + " --history " + history.string() + " >/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  const std::string show = "python3 " + tool + " show --history " + history.string() + " > " + (dir / "out").string();
  ASSERT_EQ(std::system(show.c_str()), 0);
  std::ifstream in(dir / "out");
  const std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove_all(dir);
  EXPECT_NE(out.find("== insns (2 runs shown)"), std::string::npos) << out;
  EXPECT_NE(out.find("ring-wrr Ir/op"), std::string::npos) << out;
  EXPECT_NE(out.find("1000 -> 1500  (+50.0%)"), std::string::npos) << out;
  EXPECT_EQ(out.find("xlb_balancer verified_insns  42 -> 42"), std::string::npos) << "unchanged figures are not diffs";
}

// bench/tunnel_rate's results: each row's TUN/DR ratio is a headline figure of its own.
TEST(BenchHistory, TunnelRateRatiosAreHeadlineFigures) {
  const char* src = std::getenv("XLB_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  const auto dir = std::filesystem::temp_directory_path() / ("xlb-history-tun-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto history = dir / "history.jsonl", result = dir / "tunnel_rate.json";
  std::ofstream(result) << R"({"table": [{"frame_size": 64, "flows": 1000, "dr_mpps": 2.9, "ipip_ratio": 0.9,)"
                        << R"( "gue_ratio": 0.94}]})";
  const std::string tool = std::string(src) + "/bench/history.py";
  ASSERT_EQ(std::system(("python3 " + tool + " append tunnel_rate " + result.string() + " --commit c1 --history " +
                         history.string() + " >/dev/null")
                            .c_str()),
            0);
  std::ifstream in(history);
  const std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove_all(dir);
  EXPECT_NE(line.find(R"("64B 1000flow ipip x DR": 0.9)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("64B 1000flow gue x DR": 0.94)"), std::string::npos) << line;
}

}  // namespace

namespace {

// Large scenarios are written as a main file plus include files (xlbd reads at most 64 MiB per
// file); xlbd's loader must see every service through the include glob.
TEST(BenchScaleModel, SplitConfigurationLoadsThroughIncludes) {
  const auto dir = std::filesystem::temp_directory_path() / ("xlb-scale-conf-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto services = xlb::bench::scale::scenario_services("vips", 250, 4, 0);
  const auto main = xlb::bench::scale::write_keepalived_conf(dir, services, 100);
  std::size_t parts = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) parts += e.path().filename().string().rfind("services-", 0) == 0;
  const auto r = xlb::config::load_file(main.string());
  std::filesystem::remove_all(dir);
  EXPECT_EQ(parts, 3u);
  for (const auto& d : r.diagnostics) {
    if (d.severity == xlb::config::Severity::error) ADD_FAILURE() << d.message;
  }
  EXPECT_EQ(r.config.virtual_servers.size(), 250u);
}

}  // namespace
