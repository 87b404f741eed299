// Questions about the machine that validation asks (does this interface exist, is that real
// server on a directly connected network). Injectable so that `xlbd -t` on a laptop can check
// a production file, and so that tests can describe a machine.
#pragma once

#include <string>

#include "ctrl/config/address.hpp"

namespace xlb::config {

class SystemProbe {
 public:
  virtual ~SystemProbe() = default;
  virtual bool interface_exists(const std::string& name) const = 0;
  // True when the route the kernel would take to `addr` is unicast, not local, and leaves on an
  // interface without a gateway (route/adjacency.hpp; scope plays no part: IPv6 routes are
  // all scope global).
  virtual bool directly_connected(const IpAddr& addr) const = 0;
};

// This machine, through if_nametoindex and the kernel's routing tables (libnl-route).
class LinuxSystemProbe final : public SystemProbe {
 public:
  bool interface_exists(const std::string& name) const override;
  bool directly_connected(const IpAddr& addr) const override;
};

}  // namespace xlb::config
