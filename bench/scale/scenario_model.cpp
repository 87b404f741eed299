#include "bench/scale/scenario_model.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <span>
#include <sstream>
#include <stdexcept>

namespace xlb::bench::scale {

namespace dp = xlb::dataplane;

std::string vip_address(std::uint32_t i) {
  return "198.18." + std::to_string(64 + i / 250) + "." + std::to_string(i % 250 + 1);
}

std::string shared_real_address(std::uint32_t j) { return "198.18.0." + std::to_string(11 + j); }

std::string many_real_address(std::uint32_t j) {
  return "198.18." + std::to_string(8 + j / 250) + "." + std::to_string(j % 250 + 1);
}

std::vector<dp::ServiceSpec> scenario_services(const std::string& scenario, std::uint32_t vips,
                                               std::uint32_t reals_per_vip, std::uint32_t reals) {
  if (vips > 250 * 64 || reals > 250 * 56 || reals_per_vip > 200) throw std::invalid_argument("scenario too large");
  const auto make = [](std::uint32_t i, std::uint16_t port) {
    dp::ServiceSpec s;
    s.key.address = boost::asio::ip::make_address(vip_address(i));
    s.key.port = port;
    s.scheduler = dp::Scheduler::wrr;
    return s;
  };
  std::vector<dp::ServiceSpec> out;
  if (scenario == "flows") {
    auto s = make(0, 80);
    for (std::uint32_t j = 0; j < 16; ++j) s.reals.push_back({boost::asio::ip::make_address(shared_real_address(j)), 80});
    out.push_back(std::move(s));
  } else if (scenario == "vips") {
    for (std::uint32_t i = 0; i < vips; ++i) {
      auto s = make(i, static_cast<std::uint16_t>(10000 + i));
      for (std::uint32_t j = 0; j < reals_per_vip; ++j) {
        s.reals.push_back({boost::asio::ip::make_address(shared_real_address(j)), s.key.port});
      }
      out.push_back(std::move(s));
    }
  } else if (scenario == "reals") {
    auto s = make(0, 80);
    for (std::uint32_t j = 0; j < reals; ++j) s.reals.push_back({boost::asio::ip::make_address(many_real_address(j)), 80});
    out.push_back(std::move(s));
  } else {
    throw std::invalid_argument("unknown scenario " + scenario + " (flows, vips, reals)");
  }
  return out;
}

namespace {

// global_defs with the XDP table sizes the scenario needs, written only where the defaults
// (256 services, 4,096 real ids, 262,144 flows) are too small. Past 1,000 services the ring
// is 1021 slots instead of 4093, as the configuration reference advises for memory.
std::string global_defs(const std::vector<dp::ServiceSpec>& services, std::uint64_t max_flows) {
  std::size_t pairs = 0;
  for (const auto& s : services) pairs += s.reals.size() + (s.sorry_server ? 1 : 0);
  std::ostringstream out;
  out << "# written by xlb-bench-scale\nglobal_defs {\n    router_id bench-scale\n    lb_backend xdp\n";
  if (services.size() > 256) out << "    xdp_max_services " << services.size() << "\n";
  if (pairs + 1 > 4096) out << "    xdp_max_reals " << pairs + 1 << "\n";
  if (services.size() > 1000) out << "    xdp_ring_size 1021\n";
  if (max_flows > 262144) out << "    xdp_max_flows " << max_flows << "\n";
  out << "}\n";
  return out.str();
}

void write_services(std::ostream& out, std::span<const dp::ServiceSpec> services) {
  for (const auto& s : services) {
    out << "virtual_server " << s.key.address.to_string() << " " << s.key.port << " {\n"
        << "    lb_algo wrr\n    lb_kind DR\n    protocol TCP\n";
    for (const auto& r : s.reals) {
      out << "    real_server " << r.address.to_string() << " " << r.port << " {\n        weight " << r.weight
          << "\n    }\n";
    }
    out << "}\n";
  }
}

}  // namespace

std::string keepalived_conf(const std::vector<dp::ServiceSpec>& services, std::uint64_t max_flows) {
  std::ostringstream out;
  out << global_defs(services, max_flows);
  write_services(out, services);
  return out.str();
}

std::filesystem::path write_keepalived_conf(const std::filesystem::path& dir,
                                            const std::vector<dp::ServiceSpec>& services, std::size_t per_file,
                                            std::uint64_t max_flows) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("services-", 0) == 0) std::filesystem::remove(e.path());
  }
  const auto main = dir / "keepalived.conf";
  std::ofstream out(main);
  out << global_defs(services, max_flows);
  if (services.size() <= per_file) {
    write_services(out, services);
  } else {
    out << "include " << (dir / "services-*.conf").string() << "\n";
    for (std::size_t first = 0, n = 0; first < services.size(); first += per_file, ++n) {
      char name[32];
      std::snprintf(name, sizeof(name), "services-%04zu.conf", n);
      std::ofstream part(dir / name);
      write_services(part, std::span(services).subspan(first, std::min(per_file, services.size() - first)));
      if (!part) throw std::runtime_error("cannot write " + (dir / name).string());
    }
  }
  if (!out) throw std::runtime_error("cannot write " + main.string());
  return main;
}

std::vector<std::string> real_addresses(const std::vector<dp::ServiceSpec>& services) {
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (const auto& s : services) {
    for (const auto& r : s.reals) {
      if (seen.insert(r.address.to_string()).second) out.push_back(r.address.to_string());
    }
  }
  return out;
}

}  // namespace xlb::bench::scale
