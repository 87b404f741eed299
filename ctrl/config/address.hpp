// An IPv4 or IPv6 address as the configuration spells it; small and comparable, so that the
// model does not pull Asio into every user of the configuration.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace xlb::config {

struct IpAddr {
  enum class Family : std::uint8_t { v4 = 4, v6 = 6 };
  Family family = Family::v4;
  std::array<std::uint8_t, 16> bytes{};  // v4 uses the first 4

  static std::optional<IpAddr> parse(std::string_view text);
  bool is_v4() const { return family == Family::v4; }
  unsigned max_prefix() const { return is_v4() ? 32 : 128; }
  // 127.0.0.0/8 or ::1: an address of every node, whatever its interfaces.
  bool is_loopback() const;
  std::string to_string() const;
  // True when `other` lies in this address's network of length `prefix`.
  bool same_network(const IpAddr& other, unsigned prefix) const;
  auto operator<=>(const IpAddr&) const = default;
};

// A netmask written as dotted quad (255.255.255.0) or a prefix length; returns the length.
std::optional<unsigned> parse_netmask(std::string_view text, IpAddr::Family family);

}  // namespace xlb::config
