// The address plan of the scale scenarios, shared by the in-process benchmark and the
// keepalived.conf written for xlbd. All of it in 198.18.0.0/15.
//   VIP i:        198.18.(64 + i / 250).(i % 250 + 1), port 10000 + i (a port of its own, so
//                 that one real's weight belongs to one service); VIP 0 of "flows": port 80
//   shared real j: 198.18.0.(11 + j), j < 16 (the "vips" scenario: every VIP uses them)
//   real j of "reals": 198.18.(8 + j / 250).(j % 250 + 1)
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ctrl/dataplane/backend.hpp"

namespace xlb::bench::scale {

std::string vip_address(std::uint32_t i);
std::string shared_real_address(std::uint32_t j);
std::string many_real_address(std::uint32_t j);

// The services of a scenario as the dataplane sees them (weight 1 everywhere, wrr).
std::vector<dataplane::ServiceSpec> scenario_services(const std::string& scenario, std::uint32_t vips,
                                                      std::uint32_t reals_per_vip, std::uint32_t reals);
// The same as a keepalived.conf (lb_kind DR, lb_backend xdp, no VRRP, no checkers), with the
// xdp_* table sizes it needs (and room for max_flows connections).
std::string keepalived_conf(const std::vector<dataplane::ServiceSpec>& services, std::uint64_t max_flows = 0);
// The same as files: `dir`/keepalived.conf, its virtual servers in include files of at most
// `per_file` services when there are more (xlbd reads at most 64 MiB per file; an operator
// splits a large configuration the same way). Returns the main file.
std::filesystem::path write_keepalived_conf(const std::filesystem::path& dir,
                                            const std::vector<dataplane::ServiceSpec>& services,
                                            std::size_t per_file = 1000, std::uint64_t max_flows = 0);
// Every real address of a scenario once (what the peer namespace must answer ARP for).
std::vector<std::string> real_addresses(const std::vector<dataplane::ServiceSpec>& services);

}  // namespace xlb::bench::scale
