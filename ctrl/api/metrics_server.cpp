#include "ctrl/api/metrics_server.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "ctrl/api/stop_logger.hpp"

namespace xlb::api {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

MetricsServer::MetricsServer(asio::io_context& io, const std::string& host, unsigned short port,
                             Render render)
    : io_(io), acceptor_(io), render_(std::move(render)) {
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
  for (;;) {
    auto socket = co_await acceptor_.async_accept(asio::use_awaitable);
    asio::co_spawn(io_, serve(std::move(socket)), [](std::exception_ptr) {});
  }
}

asio::awaitable<void> MetricsServer::serve(tcp::socket socket) {
  boost::beast::flat_buffer buffer(8192);
  for (;;) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8192);
    boost::system::error_code ec;
    co_await http::async_read(socket, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    const auto& request = parser.get();
    http::response<http::string_body> response;
    response.version(request.version());
    response.keep_alive(request.keep_alive());
    const auto target = std::string(request.target());
    if (request.method() != http::verb::get) {
      response.result(http::status::method_not_allowed);
      response.body() = "GET only\n";
    } else if (target != "/metrics" && target.rfind("/metrics?", 0) != 0) {
      response.result(http::status::not_found);
      response.body() = "see /metrics\n";
    } else {
      response.result(http::status::ok);
      response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response.body() = render_();
    }
    response.prepare_payload();
    co_await http::async_write(socket, response, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !response.keep_alive()) co_return;
  }
}

}  // namespace xlb::api
