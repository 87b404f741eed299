// Questions about the machine that validation asks (does this interface exist, is that real
// server on a directly connected network). Injectable so that `xlbd -t` on a laptop can check
// a production file, and so that tests can describe a machine.
#pragma once

#include <string>

#include "ctrl/config/address.hpp"

namespace xlb::config {

// Where the route the kernel would take to an address leads, as direct routing sees it.
enum class Reach {
  direct,        // unicast, on an interface, no gateway (route/adjacency.hpp; scope plays no
                 // part: IPv6 routes are all scope global)
  local,         // an address of this node (loopback included): served by its own stack, as IPVS
                 // serves its "Local" reals
  not_adjacent,  // through a gateway, or no usable route
};

class SystemProbe {
 public:
  virtual ~SystemProbe() = default;
  virtual bool interface_exists(const std::string& name) const = 0;
  // One routing decision answers both "adjacent?" and "local?", as the dataplane's own route
  // lookup does when it places a real.
  virtual Reach reach(const IpAddr& addr) const = 0;
  // True when `path` names a file this process can read (key files).
  virtual bool readable_file(const std::string& path) const = 0;
  // True when the user (or, with `group`, the group) exists: scripts run as script_user.
  virtual bool account_exists(const std::string& user, bool group) const = 0;
  // Why a script's command line would not run (missing, not executable, unsafe under
  // enable_script_security), in words; empty when it would.
  virtual std::string script_problem(const std::string& command, bool script_security) const = 0;
};

// This machine, through if_nametoindex and the kernel's routing tables (libnl-route).
class LinuxSystemProbe final : public SystemProbe {
 public:
  bool interface_exists(const std::string& name) const override;
  Reach reach(const IpAddr& addr) const override;
  bool readable_file(const std::string& path) const override;
  bool account_exists(const std::string& name, bool group) const override;
  std::string script_problem(const std::string& command, bool script_security) const override;
};

}  // namespace xlb::config
