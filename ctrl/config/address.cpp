#include "ctrl/config/address.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace xlb::config {

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  const std::string s(text);
  IpAddr a;
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    a.family = Family::v4;
  } else {
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    a.family = Family::v6;
  }
  return a;
}

std::string IpAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

bool IpAddr::is_loopback() const {
  if (is_v4()) return bytes[0] == 127;
  static constexpr std::array<std::uint8_t, 16> kV6Loopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return bytes == kV6Loopback;
}

bool IpAddr::same_network(const IpAddr& other, unsigned prefix) const {
  if (family != other.family) return false;
  for (unsigned bit = 0; bit < prefix && bit < max_prefix(); ++bit) {
    const std::uint8_t mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
    if ((bytes[bit / 8] & mask) != (other.bytes[bit / 8] & mask)) return false;
  }
  return true;
}

std::optional<unsigned> parse_netmask(std::string_view text, IpAddr::Family family) {
  const unsigned max = family == IpAddr::Family::v4 ? 32 : 128;
  unsigned len = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), len);
  if (ec == std::errc{} && p == text.data() + text.size()) {
    if (len > max) return std::nullopt;
    return len;
  }
  const auto mask = IpAddr::parse(text);
  if (!mask || mask->family != family) return std::nullopt;
  // A netmask is ones then zeros; anything else is a typo.
  unsigned ones = 0;
  bool seen_zero = false;
  for (unsigned bit = 0; bit < max; ++bit) {
    const bool set = mask->bytes[bit / 8] & (0x80u >> (bit % 8));
    if (set && seen_zero) return std::nullopt;
    if (set) ++ones; else seen_zero = true;
  }
  return ones;
}

}  // namespace xlb::config
