// xlbctl with no xlbd behind the socket once printed only "connect: No such file or directory".
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/shell.hpp"

namespace {

using xlb::test::binary_dir;
using xlb::test::run;

std::string xlbctl() { return binary_dir() + "/tools/xlbctl/xlbctl"; }

std::string missing(const std::string& what) {
  return (std::filesystem::temp_directory_path() / ("xlb-none-" + std::to_string(::getpid()) + "-" + what)).string();
}

TEST(XlbctlWithoutXlbd, NamesTheSocketAndSaysWhatStillWorks) {
  const auto socket = missing("sock");
  const auto r = run(xlbctl() + " -s " + socket + " status");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("cannot connect to xlbd's control socket " + socket), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("xlbd does not seem to be running"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("`xlbctl list`, `list --stats` and `persist` read the pinned maps"), std::string::npos) << r.out;
}

TEST(XlbctlWithoutXlbd, ListWithoutPinsSaysThatNeitherIsThere) {
  const auto r = run(xlbctl() + " -s " + missing("sock") + " --pin-dir " + missing("pins") + " list");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("xlbd is not running"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no pinned maps under " + missing("pins")), std::string::npos) << r.out;
}

}  // namespace
