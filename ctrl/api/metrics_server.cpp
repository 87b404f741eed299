#include "ctrl/api/metrics_server.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "ctrl/api/accept_loop.hpp"
#include "ctrl/api/stop_logger.hpp"
#include "ctrl/api/served_connection.hpp"

namespace xlb::api {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

MetricsServer::MetricsServer(asio::io_context& io, const std::string& host, unsigned short port,
                             Render render, ListenerLimits limits, DescriptorBudget budget)
    : io_(io), acceptor_(io), accept_pause_(io), connections_("metrics endpoint", limits, budget), render_(std::move(render)) {
  const tcp::endpoint endpoint(asio::ip::make_address(host), port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
}

unsigned short MetricsServer::port() const { return acceptor_.local_endpoint().port(); }

void MetricsServer::start() {
  asio::co_spawn(io_, accept_loop(), log_unexpected_stop("metrics endpoint"));
}

asio::awaitable<void> MetricsServer::accept_loop() {
  return accept_connections(
      acceptor_, accept_pause_, connections_,
      [this](tcp::socket socket, ConnectionTable::Slot slot) { return serve(std::move(socket), std::move(slot)); },
      [](ConnectionTable::Refusal) {
        return std::string("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      });
}

// Nothing below touches `this` after a failed wait: the server may be gone.
asio::awaitable<void> MetricsServer::serve(tcp::socket socket, ConnectionTable::Slot slot) {
  ServedConnection<tcp::socket> connection(socket, std::move(slot));
  boost::beast::flat_buffer buffer(8192);
  for (;;) {
    if (!co_await connection.wait_for_request(buffer.size() != 0)) co_return;
    boost::system::error_code ec;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8192);
    {
      const auto reading = connection.deadline();
      co_await http::async_read(socket, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || reading.expired()) co_return;
    }
    connection.busy();
    const auto& request = parser.get();
    http::response<http::string_body> response;
    response.version(request.version());
    response.keep_alive(request.keep_alive());
    const auto target = std::string(request.target());
    if (request.method() != http::verb::get) {
      response.result(http::status::method_not_allowed);
      response.body() = "GET only\n";
    } else if (target != "/metrics" && target.rfind("/metrics?", 0) != 0) {
      HttpReply reply = pages_ ? pages_(target) : HttpReply{404, "text/plain; charset=utf-8", "see /metrics\n"};
      response.result(static_cast<http::status>(reply.status));
      response.set(http::field::content_type, reply.content_type);
      // Live state: never from a cache. The page loads its script and style from here only.
      response.set(http::field::cache_control, "no-store");
      response.set("X-Content-Type-Options", "nosniff");
      response.set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:");
      response.body() = std::move(reply.body);
    } else {
      response.result(http::status::ok);
      response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response.body() = render_();
    }
    response.prepare_payload();
    const auto writing = connection.deadline();
    co_await http::async_write(socket, response, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || writing.expired() || !response.keep_alive()) co_return;
  }
}

}  // namespace xlb::api
