// DNS_CHECK, UDP_CHECK and PING_CHECK: one datagram out, judged by what comes back (or does
// not) before connect_timeout.
#include <array>
#include <cstring>
#include <random>

#include "ctrl/check/deadline.hpp"
#include "ctrl/check/dns_codec.hpp"
#include "ctrl/check/probes.hpp"
#include "ctrl/check/socket_util.hpp"

namespace xlb::check {

namespace asio = boost::asio;
using asio::ip::udp;

namespace {

std::uint16_t random_u16() {
  std::random_device rd;
  return static_cast<std::uint16_t>(rd());
}

// A UDP socket bound as the check says (bindto) and connected to the target, so that ICMP
// errors about it come back as receive errors.
boost::system::error_code connect_udp(udp::socket& socket, const CheckSettings& check) {
  const udp::endpoint target{check.connect_ip.value(), check.connect_port.value()};
  boost::system::error_code ec = open_and_bind(socket, target, check);
  if (!ec) socket.connect(target, ec);
  return ec;
}

// Closing the socket at connect_timeout ends whatever wait is pending on it.
Deadline close_at_timeout(udp::socket& socket, const CheckSettings& check) {
  return Deadline(socket.get_executor(), check.connect_timeout, [&socket] {
    boost::system::error_code ignored;
    socket.close(ignored);
  });
}

}  // namespace

asio::awaitable<ProbeResult> probe_dns(const CheckSettings& check) {
  auto ex = co_await asio::this_coro::executor;
  auto start = std::chrono::steady_clock::now();
  ProbeResult result;
  auto type = dns::type_from_name(check.dns_type);
  if (!type) {
    result.error = "unknown DNS type " + check.dns_type;
    co_return result;
  }
  std::uint16_t id = random_u16();
  auto query = dns::encode_query(id, check.dns_name, *type);
  udp::socket socket(ex);
  boost::system::error_code ec = connect_udp(socket, check);
  if (ec) {
    result.error = "socket: " + ec.message();
    co_return result;
  }
  Deadline deadline = close_at_timeout(socket, check);
  co_await socket.async_send(asio::buffer(query), asio::redirect_error(asio::use_awaitable, ec));
  std::array<std::uint8_t, 4096> buffer;
  while (!ec) {
    std::size_t n = co_await socket.async_receive(asio::buffer(buffer),
                                                  asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    auto response = dns::decode_response(std::span(buffer.data(), n));
    // Anything that is not the answer to this query (late answers to an earlier one,
    // garbage) is ignored; the deadline bounds the wait.
    if (!response || response->id != id || !response->is_response) continue;
    result.latency = elapsed_since(start);
    if (response->rcode != 0) {
      result.error = "rcode " + std::to_string(response->rcode);
    } else if (response->question_type != *type) {
      result.error = "answer for another question";
    } else {
      result.up = true;
    }
    co_return result;
  }
  result.latency = elapsed_since(start);
  result.error = deadline.expired() ? "no answer before timeout" : "dns: " + ec.message();
  co_return result;
}

asio::awaitable<ProbeResult> probe_udp(const CheckSettings& check) {
  auto ex = co_await asio::this_coro::executor;
  auto start = std::chrono::steady_clock::now();
  ProbeResult result;
  udp::socket socket(ex);
  boost::system::error_code ec = connect_udp(socket, check);
  if (ec) {
    result.error = "socket: " + ec.message();
    co_return result;
  }
  Deadline deadline = close_at_timeout(socket, check);
  // One zero byte when none is configured. Built whole: GCC 12 sees a push_back onto the empty
  // vector inside this coroutine as a free of a non-heap pointer (-Wfree-nonheap-object).
  const std::vector<std::uint8_t> payload = check.payload.empty() ? std::vector<std::uint8_t>(1, 0) : check.payload;
  co_await socket.async_send(asio::buffer(payload), asio::redirect_error(asio::use_awaitable, ec));
  std::array<std::uint8_t, 2048> buffer;
  if (!ec) {
    // A connected UDP socket reports an ICMP port/host unreachable as an error on receive.
    co_await socket.async_receive(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
  }
  result.latency = elapsed_since(start);
  if (deadline.expired()) {
    result.up = !check.require_reply;
    if (!result.up) result.error = "no reply before timeout";
  } else if (ec) {
    result.error = "udp: " + ec.message();
  } else {
    result.up = true;
  }
  co_return result;
}

namespace {

std::uint16_t inet_checksum(const std::uint8_t* data, std::size_t n) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
  if (n & 1) sum += static_cast<std::uint32_t>(data[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

using IcmpSocket = asio::basic_raw_socket<asio::generic::raw_protocol>;

// An unprivileged ICMP datagram socket when ping_group_range allows it, otherwise raw.
boost::system::error_code open_icmp(IcmpSocket& socket, bool v6, bool& is_datagram) {
  int family = v6 ? AF_INET6 : AF_INET;
  int proto = v6 ? static_cast<int>(IPPROTO_ICMPV6) : static_cast<int>(IPPROTO_ICMP);
  boost::system::error_code ec;
  int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  is_datagram = fd >= 0;
  if (fd < 0) fd = ::socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd < 0) return {errno, boost::system::system_category()};
  socket.assign(asio::generic::raw_protocol(family, proto), fd, ec);
  if (ec) ::close(fd);
  return ec;
}

}  // namespace

asio::awaitable<ProbeResult> probe_ping(const CheckSettings& check) {
  auto ex = co_await asio::this_coro::executor;
  auto start = std::chrono::steady_clock::now();
  ProbeResult result;
  const IpAddress& ip = check.connect_ip.value();
  bool v6 = ip.is_v6();
  IcmpSocket socket(ex);
  bool is_datagram = false;
  auto ec = open_icmp(socket, v6, is_datagram);
  asio::ip::icmp::endpoint target(ip, 0);
  if (!ec && check.bindto) socket.bind(asio::ip::icmp::endpoint(*check.bindto, 0), ec);
  if (!ec) socket.connect(target, ec);
  if (ec) {
    result.error = "icmp socket: " + ec.message();
    co_return result;
  }
  Deadline deadline(ex, check.connect_timeout, [&socket] {
    boost::system::error_code ignored;
    socket.close(ignored);
  });
  std::uint16_t ident = random_u16();
  std::uint16_t seq = random_u16();
  std::array<std::uint8_t, 24> request{};
  request[0] = v6 ? 128 : 8;  // echo request
  request[4] = static_cast<std::uint8_t>(ident >> 8);
  request[5] = static_cast<std::uint8_t>(ident);
  request[6] = static_cast<std::uint8_t>(seq >> 8);
  request[7] = static_cast<std::uint8_t>(seq);
  std::memcpy(&request[8], "xlb-health-check", 16);
  if (!v6) {  // the kernel fills the ICMPv6 checksum (it needs the pseudo-header)
    std::uint16_t sum = inet_checksum(request.data(), request.size());
    request[2] = static_cast<std::uint8_t>(sum >> 8);
    request[3] = static_cast<std::uint8_t>(sum);
  }
  co_await socket.async_send(asio::buffer(request), asio::redirect_error(asio::use_awaitable, ec));
  std::array<std::uint8_t, 1500> buffer;
  while (!ec) {
    std::size_t n = co_await socket.async_receive(asio::buffer(buffer),
                                                  asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    const std::uint8_t* icmp = buffer.data();
    if (!v6 && !is_datagram) {  // raw IPv4 sockets deliver the IP header too
      std::size_t ihl = static_cast<std::size_t>(buffer[0] & 0x0f) * 4;
      if (n < ihl) continue;
      icmp += ihl;
      n -= ihl;
    }
    if (n < request.size() || icmp[0] != (v6 ? 129 : 0)) continue;
    // Datagram ICMP sockets rewrite the identifier, so match sequence and payload instead.
    bool same_seq = icmp[6] == request[6] && icmp[7] == request[7];
    bool same_id = is_datagram || (icmp[4] == request[4] && icmp[5] == request[5]);
    if (!same_seq || !same_id || std::memcmp(icmp + 8, &request[8], 16) != 0) continue;
    result.up = true;
    result.latency = elapsed_since(start);
    co_return result;
  }
  result.latency = elapsed_since(start);
  result.error = deadline.expired() ? "no echo reply before timeout" : "icmp: " + ec.message();
  co_return result;
}

}  // namespace xlb::check
