// The local control socket that xlbctl talks to: a Unix stream socket, one JSON request per
// line, one JSON reply per line. Only root (or members of the configured group) may connect;
// a malformed, oversized or unknown request gets an error reply and changes nothing. How many
// connections it holds and for how long: ListenerLimits (connection_table.hpp).
#pragma once

#include <functional>
#include <map>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "ctrl/api/connection_table.hpp"
#include "xlb/asio.hpp"

namespace xlb::api {

using Json = nlohmann::json;
// A handler gets the request's "args" object and returns the reply's "result"; it throws
// std::invalid_argument (or any std::exception) to answer with an error.
using Handler = std::function<Json(const Json& args)>;
// For a command that waits on other work (a reload parses on a worker thread) without holding
// up the event loop.
using AsyncHandler = std::function<boost::asio::awaitable<Json>(const Json& args)>;

struct ControlSocketOptions {
  std::string path = "/run/xlb/xlbd.sock";
  std::string group;                      // empty: root only
  std::size_t max_request_bytes = 65536;  // a longer line is refused and the connection closed
  ListenerLimits limits = {};
};

class ControlServer {
 public:
  ControlServer(boost::asio::io_context& io, ControlSocketOptions options,
                DescriptorBudget budget = DescriptorBudget::current());
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  void add(const std::string& command, Handler handler);
  void add_async(const std::string& command, AsyncHandler handler);
  void start();
  // Answers one request line; public so that the protocol is testable without a socket.
  boost::asio::awaitable<std::string> handle_line(std::string line, bool privileged) const;
  const ConnectionTable& connections() const { return connections_; }

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::local::stream_protocol::socket socket, ConnectionTable::Slot slot);
  bool peer_allowed(int fd) const;

  boost::asio::io_context& io_;
  ControlSocketOptions options_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::steady_timer accept_pause_;
  ConnectionTable connections_;
  std::map<std::string, AsyncHandler> handlers_;
  unsigned group_id_ = 0;
  bool has_group_ = false;
};

// The socket is absent or nobody listens on it: xlbd is not running (or uses another socket).
class DaemonNotRunning : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Client side, used by xlbctl: sends one request and returns the parsed reply. Throws
// DaemonNotRunning when there is no xlbd to ask.
Json control_request(const std::string& socket_path, const std::string& command, const Json& args);

}  // namespace xlb::api
