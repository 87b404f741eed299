// How many descriptors the listeners may take from xlbd's table, so that a flood of clients
// on the control socket or the metrics port never leaves VRRP, the health checks, flow sync
// and netlink without descriptors (issue 27).
//
// Two rules, both cheap enough for every accept():
//  - each listener holds at most its max_connections (connection_table.hpp), so the listeners
//    together never hold more than the sum of their caps;
//  - a listener refuses a new connection whose descriptor number is at or past
//    limit - reserve. accept() returns the lowest free number, so such a number proves that
//    every lower one is in use: the table is within `reserve` of full, whoever filled it
//    (thousands of checks in flight, scripts' pipes, a leak), and what is left belongs to the
//    subsystems that keep the node in service.
// The limit is the soft RLIMIT_NOFILE, raised to the hard one at start (systemd gives 1,024
// soft whatever the hard limit is; the unit sets LimitNOFILE); the reserve is a quarter of it.
#pragma once

#include <cstddef>

namespace xlb::api {

class DescriptorBudget {
 public:
  DescriptorBudget(std::size_t limit, std::size_t reserve) : limit_(limit), reserve_(reserve) {}
  // The process's soft limit as it is now, with the default reserve.
  static DescriptorBudget current();
  // Raises the soft limit to the hard one (once, at start) and returns current().
  static DescriptorBudget raise_to_hard_limit();
  static std::size_t default_reserve(std::size_t limit);
  // Descriptors open now (a walk of /proc/self/fd: for status and metrics, not per accept).
  static std::size_t open_descriptors();

  // True when a connection that got descriptor `fd` must be refused.
  bool short_of(int fd) const { return static_cast<std::size_t>(fd) + reserve_ >= limit_; }
  std::size_t limit() const { return limit_; }
  std::size_t reserve() const { return reserve_; }

 private:
  std::size_t limit_;
  std::size_t reserve_;
};

}  // namespace xlb::api
