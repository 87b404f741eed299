// Every configuration under corpus/ (the seed notes' configs among them) is loaded, and its
// diagnostics must equal corpus/<case>/expected line for line (empty file: accepted cleanly).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ctrl/config/config.hpp"

namespace fs = std::filesystem;
using namespace xlb::config;

namespace {

fs::path test_dir() {
  const char* src = std::getenv("XLB_SOURCE_DIR");
  return fs::path(src ? src : XLB_DEFAULT_SOURCE_DIR) / "tests/unit/config";
}

std::vector<std::string> corpus_cases() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(test_dir() / "corpus"))
    if (e.is_directory()) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Diagnostics name files relative to tests/unit/config, so the expectations do not depend on
// where the repository is checked out.
class CorpusTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    old_ = fs::current_path();
    fs::current_path(test_dir());
  }
  void TearDown() override { fs::current_path(old_); }
  fs::path old_;
};

TEST_P(CorpusTest, DiagnosticsMatchExpected) {
  const std::string dir = "corpus/" + GetParam();
  ASSERT_TRUE(fs::exists(dir + "/expected")) << dir << "/expected is missing";
  const LoadResult r = load_file(dir + "/keepalived.conf");
  std::ostringstream got;
  print_diagnostics(got, r.diagnostics);
  EXPECT_EQ(got.str(), read(dir + "/expected")) << "while loading " << dir;
  // The expectation's error lines decide acceptance: a case with no "error:" must load.
  const bool expect_errors = read(dir + "/expected").find(": error: ") != std::string::npos;
  EXPECT_EQ(r.ok(), !expect_errors);
}

INSTANTIATE_TEST_SUITE_P(Corpus, CorpusTest, ::testing::ValuesIn(corpus_cases()),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
