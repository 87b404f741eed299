// The .deb: built with cpack in the build directory, installed on this machine with dpkg,
// checked (xlbd -t on the example configuration, systemd-analyze verify on the unit, man pages),
// then purged so that the machine is left as it was.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/shell.hpp"

namespace {

using xlb::test::run;
using xlb::test::Run;
using xlb::test::binary_dir;

namespace fs = std::filesystem;

// Purges the package when the test ends, also on failure, unless it was there before.
class Installed {
 public:
  Installed() = default;
  ~Installed() {
    if (installed_) run("dpkg --purge xlb");
  }
  Installed(const Installed&) = delete;
  Installed& operator=(const Installed&) = delete;
  void mark() { installed_ = true; }

 private:
  bool installed_ = false;
};

TEST(Package, DebInstallsAndSystemdAcceptsTheUnit) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: dpkg -i";
  if (run("command -v dpkg").status != 0) GTEST_SKIP() << "no dpkg on this machine";
  ASSERT_NE(run("dpkg-query -W -f='${Status}' xlb").out.find("install ok installed"), 0u)
      << "an xlb package is already installed; not touching it";
  const auto packages = fs::path(binary_dir()) / "packages";
  fs::remove_all(packages);
  const auto built = run("cd " + binary_dir() + " && cpack -G DEB");
  ASSERT_EQ(built.status, 0) << built.out;
  fs::path deb;
  for (const auto& e : fs::directory_iterator(packages))
    if (e.path().extension() == ".deb") deb = e.path();
  ASSERT_FALSE(deb.empty()) << built.out;

  const auto contents = run("dpkg-deb -c " + deb.string()).out;
  for (const char* f : {"./usr/sbin/xlbd", "./usr/sbin/xlbctl", "./usr/bin/xlb-pktgen",
                        "systemd/system/xlbd.service", "./etc/xlb/xlb.conf", "./etc/iproute2/rt_protos.d/xlb.conf",
                        "./usr/share/man/man8/xlbd.8.gz", "./usr/share/man/man8/xlbctl.8.gz",
                        "./usr/share/man/man5/xlb.conf.5.gz", "./usr/share/doc/xlb/examples/bird.conf"}) {
    EXPECT_NE(contents.find(f), std::string::npos) << f << " missing from the package:\n" << contents;
  }
  const auto conffiles = run("dpkg-deb --ctrl-tarfile " + deb.string() + " | tar -xO ./conffiles").out;
  // Files under /etc are conffiles: the example configuration and the name of xlb's route
  // protocol for ip(8).
  EXPECT_EQ(conffiles, "/etc/xlb/xlb.conf\n/etc/iproute2/rt_protos.d/xlb.conf\n");

  Installed guard;
  const auto install = run("dpkg -i " + deb.string());
  guard.mark();
  ASSERT_EQ(install.status, 0) << install.out;
  EXPECT_EQ(run("dpkg-query -W -f='${Status}' xlb").out, "install ok installed");

  // The example must be accepted; warnings (interfaces this machine lacks) are allowed.
  const auto check = run("/usr/sbin/xlbd -t -f /etc/xlb/xlb.conf");
  EXPECT_EQ(check.status, 0) << check.out;
  EXPECT_EQ(check.out.find(": error:"), std::string::npos) << check.out;

  const auto verify = run("systemd-analyze verify /lib/systemd/system/xlbd.service");
  EXPECT_EQ(verify.status, 0) << verify.out;
  EXPECT_EQ(verify.out.find("xlbd.service:"), std::string::npos) << "systemd complains:\n" << verify.out;
  const auto security = run("systemd-analyze security --offline=true /lib/systemd/system/xlbd.service | tail -1");
  std::printf("[ figure ] systemd-analyze security: %s", security.out.c_str());

  // The BIRD example as installed must parse (bird -p: configuration check only, no daemon).
  if (run("command -v bird").status == 0) {
    const auto bird = run("bird -p -c /usr/share/doc/xlb/examples/bird.conf");
    EXPECT_EQ(bird.status, 0) << bird.out;
  } else {
    std::printf("[ note ] no bird on this machine: the installed BIRD example was not parsed\n");
  }

  EXPECT_EQ(run("man -w xlbd xlbctl xlb.conf").status, 0);
  EXPECT_EQ(run("/usr/sbin/xlbctl --help").status, 0);

  const auto purge = run("dpkg --purge xlb");
  EXPECT_EQ(purge.status, 0) << purge.out;
  EXPECT_FALSE(fs::exists("/usr/sbin/xlbd"));
  EXPECT_FALSE(fs::exists("/etc/xlb/xlb.conf"));
}

}  // namespace
