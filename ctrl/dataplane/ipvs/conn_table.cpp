#include "ctrl/dataplane/ipvs/conn_table.hpp"

#include <charconv>
#include <optional>
#include <sstream>
#include <string>

namespace xlb::dataplane::ipvs {

namespace {

std::optional<std::uint32_t> hex(const std::string& s) {
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// IPv4 is printed as 8 hex digits in host order of the number (%08X of ntohl), IPv6 in
// the full colon form.
std::optional<IpAddress> address(const std::string& s) {
  if (s.find(':') != std::string::npos) {
    boost::system::error_code ec;
    auto a = boost::asio::ip::make_address_v6(s, ec);
    if (ec) return std::nullopt;
    return IpAddress(a);
  }
  auto v = hex(s);
  if (!v) return std::nullopt;
  return IpAddress(boost::asio::ip::address_v4(*v));
}

}  // namespace

std::vector<ConnEntry> parse_ip_vs_conn(std::istream& in) {
  std::vector<ConnEntry> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string pro, from, fport, to, tport, dest, dport, state, expires;
    if (!(ls >> pro >> from >> fport >> to >> tport >> dest >> dport >> state >> expires)) continue;
    Protocol protocol;
    if (pro == "TCP")
      protocol = Protocol::tcp;
    else if (pro == "UDP")
      protocol = Protocol::udp;
    else
      continue;  // header line, templates ("IP"), SCTP
    auto c = address(from), v = address(to), r = address(dest);
    auto cp = hex(fport), vp = hex(tport);
    std::uint32_t exp = 0;
    auto [p, ec] = std::from_chars(expires.data(), expires.data() + expires.size(), exp);
    if (!c || !v || !r || !cp || !vp || ec != std::errc{}) continue;
    if (*cp == 0) continue;  // a persistence template (client port 0), not a connection
    ConnEntry e;
    e.flow.client = *c;
    e.flow.client_port = static_cast<std::uint16_t>(*cp);
    e.flow.service.address = *v;
    e.flow.service.port = static_cast<std::uint16_t>(*vp);
    e.flow.service.protocol = protocol;
    e.flow.real = *r;
    e.expires_s = exp;
    e.state = state;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace xlb::dataplane::ipvs
