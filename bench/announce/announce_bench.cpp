// 10,000 VIPs announced, then withdrawn, through xlbd's own VipAnnouncer (decision, one netlink
// route per VIP on the TUN device, a log line per change), in the network namespace it is run
// in (run.sh makes one). Baseline in the same run: iproute2's `ip -batch` adding and deleting
// the same 10,000 routes on the same device in another table. Target (issue 29): at most 1 s
// of xlbd time each way.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "ctrl/daemon/announce_plan.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

std::string vip_text(int i) { return "198.18." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1); }

// Runs `ip -batch` over the lines; returns the seconds it took.
double ip_batch(const std::string& path, const std::string& lines) {
  std::ofstream(path) << lines;
  const auto t0 = clock_type::now();
  const int rc = std::system(("ip -batch " + path).c_str());
  const double s = seconds_since(t0);
  if (rc != 0) throw std::runtime_error("ip -batch " + path + " failed");
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = 10'000;
  const std::string json_path = argc > 1 ? argv[1] : "";
  const std::string work = argc > 2 ? argv[2] : "/tmp";
  // xlbd logs every change at info: keep that cost, but in a file nobody reads.
  spdlog::set_default_logger(spdlog::basic_logger_mt("bench", work + "/announce-bench.log", true));

  xlb::daemon::VipAnnouncer announcer(4242);
  std::map<xlb::dataplane::IpAddress, xlb::announce::VipInputs> vips;
  for (int i = 0; i < n; ++i) {
    xlb::announce::VipInputs in;
    in.dataplane_ready = true;
    in.services.push_back({.usable_real = true});
    vips.emplace(boost::asio::ip::make_address(vip_text(i)), in);
  }
  auto t0 = clock_type::now();
  announcer.update(vips);
  const double announce_s = seconds_since(t0);
  announcer.set_operator_withdrawn(true);
  for (auto& [vip, in] : vips) in.operator_withdrawn = true;
  t0 = clock_type::now();
  announcer.update(vips);
  const double withdraw_s = seconds_since(t0);

  std::string add, del;
  for (int i = 0; i < n; ++i) {
    add += "route add " + vip_text(i) + "/32 dev " + announcer.device() + " table 4243 proto 252 scope link\n";
    del += "route del " + vip_text(i) + "/32 dev " + announcer.device() + " table 4243 proto 252 scope link\n";
  }
  const double ip_add_s = ip_batch(work + "/add.batch", add);
  const double ip_del_s = ip_batch(work + "/del.batch", del);

  std::printf("%d VIPs  announce %.3f s  withdraw %.3f s   (ip -batch: add %.3f s, del %.3f s; ratio %.2f / %.2f)\n", n,
              announce_s, withdraw_s, ip_add_s, ip_del_s, announce_s / ip_add_s, withdraw_s / ip_del_s);
  if (!json_path.empty()) {
    nlohmann::json j = {{"vips", n},
                        {"announce_seconds", announce_s},
                        {"withdraw_seconds", withdraw_s},
                        {"ip_batch_add_seconds", ip_add_s},
                        {"ip_batch_del_seconds", ip_del_s},
                        {"announce_ratio_to_ip_batch", announce_s / ip_add_s},
                        {"withdraw_ratio_to_ip_batch", withdraw_s / ip_del_s}};
    std::ofstream(json_path) << j.dump(2) << "\n";
  }
  return 0;
}
