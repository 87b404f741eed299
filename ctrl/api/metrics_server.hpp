// Serves GET /metrics over HTTP/1.1 for Prometheus; the body comes from a callback so that
// every scrape reads live counters. Any other GET goes to the pages callback when one is set
// (the JSON API and status page, status_api.hpp). Anyone who can reach metrics_listen can connect (there is
// no authentication), so its connections are capped and timed like the control socket's.
#pragma once

#include <functional>
#include <string_view>
#include <string>

#include "ctrl/api/connection_table.hpp"
#include "ctrl/api/http_reply.hpp"
#include "xlb/asio.hpp"

namespace xlb::api {

class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  using Pages = std::function<HttpReply(std::string_view target)>;

  MetricsServer(boost::asio::io_context& io, const std::string& host, unsigned short port, Render render,
                ListenerLimits limits = {}, DescriptorBudget budget = DescriptorBudget::current());
  // Before start(): answers every GET other than /metrics.
  void serve_pages(Pages pages) { pages_ = std::move(pages); }
  void start();
  unsigned short port() const;
  const ConnectionTable& connections() const { return connections_; }

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket, ConnectionTable::Slot slot);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_pause_;
  ConnectionTable connections_;
  Render render_;
  Pages pages_;
};

}  // namespace xlb::api
