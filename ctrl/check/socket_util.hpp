// Socket set-up shared by the TCP-based probes: bindto/bind_port, then connect.
#pragma once

#include <chrono>
#include <system_error>

#include "ctrl/check/settings.hpp"
#include "xlb/asio.hpp"

namespace xlb::check {

inline boost::asio::ip::tcp::endpoint target_endpoint(const CheckSettings& check) {
  return {check.connect_ip.value(), check.connect_port.value()};
}

// Opens and (if asked) binds `socket` for `target`; errors are returned, not thrown.
template <typename Socket, typename Endpoint>
boost::system::error_code open_and_bind(Socket& socket, const Endpoint& target,
                                        const CheckSettings& check) {
  boost::system::error_code ec;
  socket.open(target.protocol(), ec);
  if (ec) return ec;
  if (check.bindto || check.bind_port) {
    IpAddress local = check.bindto.value_or(target.address().is_v6()
                                                ? IpAddress(boost::asio::ip::address_v6::any())
                                                : IpAddress(boost::asio::ip::address_v4::any()));
    socket.bind(Endpoint(local, check.bind_port.value_or(0)), ec);
  }
  return ec;
}

inline boost::asio::awaitable<boost::system::error_code> connect_tcp(
    boost::asio::ip::tcp::socket& socket, const CheckSettings& check) {
  auto target = target_endpoint(check);
  boost::system::error_code ec = open_and_bind(socket, target, check);
  if (ec) co_return ec;
  co_await socket.async_connect(target, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  co_return ec;
}

inline Millis elapsed_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start);
}

}  // namespace xlb::check
