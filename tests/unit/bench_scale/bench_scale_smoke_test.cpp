// A tiny run of bench/scale/run.sh (SCALE_QUICK=1: 65,536 flows, 300 VIPs, 100 reals): every
// part runs and the result document is complete. Figures are measured, never judged here.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace {

using Json = nlohmann::json;

TEST(BenchScaleSmoke, QuickRunWritesEveryFigure) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (BPF programs, network namespaces, bpffs)";
  const char* src = std::getenv("XLB_SOURCE_DIR");
  const char* bin = std::getenv("XLB_BINARY_DIR");
  ASSERT_TRUE(src && bin);
  const auto out = std::filesystem::temp_directory_path() / ("xlb-scale-smoke-" + std::to_string(getpid()) + ".json");
  const auto log = out.string() + ".log";
  const std::string cmd = "SCALE_QUICK=1 SCALE_JSON=" + out.string() + " " + src + "/bench/scale/run.sh " + bin +
                          " >" + log + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream lin(log);
  const std::string text((std::istreambuf_iterator<char>(lin)), std::istreambuf_iterator<char>());
  std::filesystem::remove(log);
  ASSERT_EQ(rc, 0) << text;
  std::ifstream in(out);
  ASSERT_TRUE(in) << text;
  const Json doc = Json::parse(in);
  std::filesystem::remove(out);

  EXPECT_EQ(doc["benchmark"], "scale");
  EXPECT_FALSE(doc["commit"].get<std::string>().empty());
  const auto& p = doc["packet"];
  EXPECT_EQ(p["one_flow"]["flows_in_table"], 1);
  EXPECT_EQ(p["full"]["flows_in_table"], 65536);
  for (const char* c : {"one_flow", "full"}) {
    for (const char* f : {"established_same_flow_repeat_ns", "established_per_packet_ns", "new_flow_ns"}) {
      EXPECT_GT(p[c][f].get<double>(), 0) << c << " " << f;
    }
  }
  const auto& base = p["table_baseline"];
  EXPECT_EQ(base["flows_in_full_table"], 65536);
  for (const char* f : {"one_flow_per_packet_ns", "distinct_flows_only_per_packet_ns", "full_per_packet_ns"}) {
    EXPECT_GT(base[f].get<double>(), 0) << "table baseline " << f;
  }
  const auto& floor = p["memory_floor"];
  EXPECT_GT(floor["bytes"].get<std::uint64_t>(), 0u);
  EXPECT_GT(floor["ns_per_access_small_pages"].get<double>(), 0);
  EXPECT_GT(floor["ns_per_access_huge_pages"].get<double>(), 0);
  for (const char* sc : {"flows", "vips", "reals"}) {
    const auto& t = doc["tables"][sc];
    EXPECT_GT(t["memory"]["total_memlock_bytes"].get<std::uint64_t>(), 0u) << sc;
    for (const char* m : {"flows", "vips", "ring", "reals"}) EXPECT_TRUE(t["memory"]["maps"].contains(m)) << sc << m;
    EXPECT_EQ(t["weight_change_ms"].size(), 5u) << sc;
  }
  EXPECT_EQ(doc["tables"]["flows"]["flows"]["in_table"], 65536);
  EXPECT_EQ(doc["tables"]["vips"]["services"], 300);
  EXPECT_EQ(doc["tables"]["reals"]["reals_total"], 100);
  for (const char* name : {"reals", "vips-fit", "flows"}) {
    const auto& x = doc["xlbd"][name];
    ASSERT_FALSE(x.contains("error")) << name << ": " << x["error"];
    EXPECT_GT(x["start_ms_best"].get<double>(), 0) << name;
    EXPECT_GT(x["weight_command"]["maps_ms_best"].get<double>(), 0) << name;
    EXPECT_GT(x["xlbctl_weight"]["maps_ms_best"].get<double>(), 0) << name;
  }
  EXPECT_EQ(doc["xlbd"]["flows"]["full_table"]["flows_after_restart"], 65536) << "flows lost over an xlbd restart";
  // 300 VIPs x 16 reals is beyond xlbd's fixed table sizes today: either it says so, or it fits.
  const auto& full = doc["xlbd"]["vips-full"];
  EXPECT_TRUE(full.contains("error") || full.contains("memory"));
}

}  // namespace
