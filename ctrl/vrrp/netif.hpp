// Facts about a local network interface that VRRP needs at (re)start.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "ctrl/vrrp/settings.hpp"

namespace xlb::vrrp {

using Mac = std::array<std::uint8_t, 6>;

struct InterfaceInfo {
  std::string name;
  int index = 0;
  Mac mac{};
  std::optional<Address> ipv4;        // first IPv4 address: the v2/v3 source
  std::optional<Address> ipv6_local;  // link-local: the v3 IPv6 source
};

// Throws std::system_error when the interface does not exist.
InterfaceInfo query_interface(const std::string& name);

// Administratively up and carrier present (IFF_UP and IFF_RUNNING).
bool interface_up(const std::string& name);

std::string format_mac(const Mac& m);

}  // namespace xlb::vrrp
