// Serves GET /metrics over HTTP/1.1 for Prometheus; the body comes from a callback so that
// every scrape reads live counters.
#pragma once

#include <functional>
#include <string>

#include "xlb/asio.hpp"

namespace xlb::api {

class MetricsServer {
 public:
  using Render = std::function<std::string()>;

  MetricsServer(boost::asio::io_context& io, const std::string& host, unsigned short port, Render render);
  void start();
  unsigned short port() const;

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  Render render_;
};

}  // namespace xlb::api
