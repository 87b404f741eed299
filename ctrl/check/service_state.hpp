// What the dataplane should do for one virtual server given the verdicts of its reals:
// keepalived's rules for removal vs inhibit_on_failure, misc_dynamic weights, quorum with
// hysteresis, the sorry server, and which notify/quorum scripts to run. Pure logic, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ctrl/check/settings.hpp"

namespace xlb::check {

struct RealVerdict {
  bool up = true;
  std::optional<std::uint32_t> weight;  // misc_dynamic weight; nullopt = configured weight
  bool operator==(const RealVerdict&) const = default;
};

// A real whose verdict changed, or the quorum, for alerts (mail) and logs.
struct HealthEvent {
  enum class Kind { real, quorum };
  Kind kind = Kind::real;
  std::size_t real_index = 0;  // Kind::real: index into settings.reals
  bool up = false;             // the real (or the quorum) is up now
  std::uint64_t alive_weight = 0;
  bool operator==(const HealthEvent&) const = default;
};

struct Actions {
  std::optional<dataplane::ServiceSpec> apply;  // set when the effective spec changed
  std::vector<IpAddress> flush;                 // reals removed: end their flows (after apply)
  std::vector<std::string> scripts;             // command lines, in order
  std::vector<HealthEvent> events;              // what changed, in order
  bool empty() const { return !apply && flush.empty() && scripts.empty(); }
};

class ServiceState {
 public:
  // `verdicts` has one entry per settings.reals. The initial state runs no scripts.
  // `quorum_up` carries the quorum state over a reload; nullopt computes it from the verdicts.
  ServiceState(VirtualServerSettings settings, std::vector<RealVerdict> verdicts,
               std::optional<bool> quorum_up = std::nullopt);

  Actions update(const std::vector<RealVerdict>& verdicts);
  // omega: what keepalived runs on shutdown (notify_down for reals still up, quorum_down).
  Actions shutdown() const;

  const VirtualServerSettings& settings() const { return settings_; }
  const dataplane::ServiceSpec& spec() const { return spec_; }
  const std::vector<RealVerdict>& verdicts() const { return verdicts_; }
  bool quorum_up() const { return quorum_up_; }
  bool sorry_in_use() const { return spec_.sorry_server.has_value(); }
  std::uint64_t alive_weight() const;
  std::uint32_t effective_weight(std::size_t real) const;

 private:
  bool next_quorum_state(std::uint64_t alive) const;
  dataplane::ServiceSpec build_spec() const;
  bool inhibit(std::size_t real) const;

  VirtualServerSettings settings_;
  std::vector<RealVerdict> verdicts_;
  bool quorum_up_ = true;
  dataplane::ServiceSpec spec_;
};

}  // namespace xlb::check
