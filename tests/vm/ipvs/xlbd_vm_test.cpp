// xlbd itself, with `lb_backend ipvs`, on the seed's virtual_server: its health checks
// decide the IPVS table, and ipvsadm shows what a keepalived user expects.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "ctrl/dataplane/ipvs/choose_backend.hpp"
#include "ctrl/dataplane/ipvs/ipvs_backend.hpp"
#include "dr_lab.hpp"

namespace xlb::vmtest {
namespace {

// The seed's keepalived.conf (virtual_server part), on the lab's addresses; delay_loop and
// retries shortened so that a failure is seen in seconds.
constexpr const char* kSeedConfig = R"(! seed: virtual_server with wrr, DR, weights 2 and 1, persistence
global_defs {
   router_id xlb-vm
   lb_backend ipvs
}
virtual_server 198.18.0.100 80 {
    delay_loop 1
    lb_algo wrr
    lb_kind DR
    persistence_timeout 50
    protocol TCP
    sorry_server 127.0.0.1 80
    real_server 198.18.0.138 80 {
        weight 2
        HTTP_GET {
            url {
              path /index.html
              status_code 200
            }
            connect_timeout 1
            nb_get_retry 1
            delay_before_retry 1
        }
    }
    real_server 198.18.0.139 80 {
        weight 1
        HTTP_GET {
            url {
              path /index.html
              status_code 200
            }
            connect_timeout 1
            nb_get_retry 1
            delay_before_retry 1
        }
    }
}
)";

const std::string kHeader =
    "IP Virtual Server version 1.2.1 (size=4096)\n"
    "Prot LocalAddress:Port Scheduler Flags\n"
    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";

// ipvsadm -Ln without the connection counters (they depend on traffic) and trailing blanks.
std::string table() {
  std::istringstream in(run("ipvsadm -Ln").output);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.rfind("  -> ", 0) == 0 && line.find("RemoteAddress") == std::string::npos)
      line = line.substr(0, 46);  // "  -> ADDR:PORT  Forward Weight"
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

// Waits for a state that xlbd reaches on its own (after its checks ran); returns the last
// table seen so that a failure shows it.
std::string wait_for_table(const std::string& want) {
  std::string got;
  for (int i = 0; i < 300; ++i) {
    got = table();
    if (got == want) break;
    usleep(100 * 1000);
  }
  return got;
}

TEST(XlbdVm, SeedConfigurationDrivesIpvsThroughHealthChecks) {
  if (!dataplane::ipvs_available()) GTEST_SKIP() << "no IPVS in this kernel: run through tools/vm/run.sh";
  const char* build = std::getenv("XLB_BINARY_DIR");
  ASSERT_NE(build, nullptr);
  const std::string xlbd = std::string(build) + "/ctrl/xlbd";
  ASSERT_TRUE(std::filesystem::exists(xlbd)) << xlbd << " not built";
  must("ip link set lo up");
  { dataplane::IpvsBackend{}.flush(); }

  DrLab lab;
  const std::string conf = lab.dir() + "/keepalived.conf";
  std::ofstream(conf) << kSeedConfig;
  std::optional<ChildProcess> daemon;
  daemon.emplace(std::vector<std::string>{
      "/bin/sh", "-c",
      "exec " + xlbd + " -f " + conf + " -p " + lab.dir() + "/xlbd.pid --socket " + lab.dir() +
          "/xlbd.sock > " + lab.dir() + "/xlbd.log 2>&1"});
  auto log = [&] { return run("cat " + lab.dir() + "/xlbd.log").output; };

  const std::string both = kHeader +
                           "TCP  198.18.0.100:80 wrr persistent 50\n"
                           "  -> 198.18.0.138:80              Route   2\n"
                           "  -> 198.18.0.139:80              Route   1\n";
  ASSERT_EQ(wait_for_table(both), both) << log();

  std::map<std::string, int> per_real;
  for (int host = 31; host <= 36; ++host) ++per_real[lab.fetch_from(lab.client_address(host))];
  EXPECT_EQ(per_real["rs1"], 4);
  EXPECT_EQ(per_real["rs2"], 2);

  lab.stop_server("rs2");  // its HTTP_GET now fails: xlbd takes it out of IPVS
  const std::string one = kHeader +
                          "TCP  198.18.0.100:80 wrr persistent 50\n"
                          "  -> 198.18.0.138:80              Route   2\n";
  EXPECT_EQ(wait_for_table(one), one) << log();
  for (int host = 41; host <= 43; ++host) EXPECT_EQ(lab.fetch_from(lab.client_address(host)), "rs1");

  lab.stop_server("rs1");  // no real left: the sorry server is the only destination
  const std::string sorry = kHeader +
                            "TCP  198.18.0.100:80 wrr persistent 50\n"
                            "  -> 127.0.0.1:80                 Route   1\n";
  EXPECT_EQ(wait_for_table(sorry), sorry) << log();

  daemon.reset();
  dataplane::IpvsBackend{}.flush();
}

}  // namespace
}  // namespace xlb::vmtest
