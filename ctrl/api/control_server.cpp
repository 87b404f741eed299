#include "ctrl/api/control_server.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "ctrl/api/accept_loop.hpp"
#include "ctrl/api/stop_logger.hpp"
#include "ctrl/api/served_connection.hpp"

namespace xlb::api {

namespace asio = boost::asio;
using asio::local::stream_protocol;

namespace {

Json error_reply(const std::string& message) { return Json{{"ok", false}, {"error", message}}; }

}  // namespace

ControlServer::ControlServer(asio::io_context& io, ControlSocketOptions options, DescriptorBudget budget)
    : io_(io),
      options_(std::move(options)),
      acceptor_(io),
      accept_pause_(io),
      connections_("control socket", options_.limits, budget) {
  if (!options_.group.empty()) {
    const group* entry = ::getgrnam(options_.group.c_str());
    if (entry == nullptr) throw std::runtime_error("control socket group " + options_.group + " does not exist");
    group_id_ = entry->gr_gid;
    has_group_ = true;
  }
}

ControlServer::~ControlServer() {
  if (acceptor_.is_open()) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    std::error_code also_ignored;
    std::filesystem::remove(options_.path, also_ignored);
  }
}

void ControlServer::add(const std::string& command, Handler handler) {
  handlers_[command] = [handler = std::move(handler)](const Json& args) -> asio::awaitable<Json> {
    co_return handler(args);
  };
}

void ControlServer::add_async(const std::string& command, AsyncHandler handler) {
  handlers_[command] = std::move(handler);
}

void ControlServer::start() {
  const std::filesystem::path path(options_.path);
  std::filesystem::create_directories(path.parent_path());
  std::error_code ignored;
  std::filesystem::remove(path, ignored);  // a stale socket from a crashed xlbd
  acceptor_.open();
  acceptor_.bind(stream_protocol::endpoint(options_.path));
  // Mode before listen, so that nobody can connect in between.
  const mode_t mode = has_group_ ? 0660 : 0600;
  if (::chmod(options_.path.c_str(), mode) != 0 ||
      (has_group_ && ::chown(options_.path.c_str(), 0, group_id_) != 0)) {
    throw std::runtime_error("cannot set the mode of " + options_.path);
  }
  acceptor_.listen();
  asio::co_spawn(io_, accept_loop(), log_unexpected_stop("control socket"));
}

bool ControlServer::peer_allowed(int fd) const {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  if (cred.uid == 0) return true;
  if (!has_group_) return false;
  if (cred.gid == group_id_) return true;
  // SO_PEERCRED carries only the primary group; an operator is usually in the socket's group
  // as a supplementary one, which the kernel already honoured for connect().
  std::ifstream status("/proc/" + std::to_string(cred.pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Groups:", 0) != 0) continue;
    std::istringstream groups(line.substr(7));
    for (unsigned gid = 0; groups >> gid;) {
      if (gid == group_id_) return true;
    }
  }
  return false;
}

asio::awaitable<std::string> ControlServer::handle_line(std::string line, bool privileged) const {
  Json reply;
  try {
    const Json request = Json::parse(line);
    if (!request.is_object() || !request.contains("command") || !request["command"].is_string()) {
      reply = error_reply("a request is a JSON object with a string \"command\"");
    } else if (!privileged) {
      reply = error_reply("permission denied: the control socket is for root");
    } else {
      const auto command = request["command"].get<std::string>();
      const auto it = handlers_.find(command);
      if (it == handlers_.end()) {
        reply = error_reply("unknown command \"" + command + "\"");
      } else {
        const Json args = request.value("args", Json::object());
        Json result = co_await it->second(args);  // GCC 12 cannot await inside a braced list
        reply = Json{{"ok", true}, {"result", std::move(result)}};
      }
    }
  } catch (const Json::exception& e) {
    reply = error_reply(std::string("malformed request: ") + e.what());
  } catch (const std::exception& e) {
    reply = error_reply(e.what());
  }
  // An error may quote the request, and a request may hold invalid UTF-8, which a strict dump
  // throws on: replace such bytes rather than leave the client without a reply.
  co_return reply.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

asio::awaitable<void> ControlServer::accept_loop() {
  return accept_connections(
      acceptor_, accept_pause_, connections_,
      [this](stream_protocol::socket socket, ConnectionTable::Slot slot) { return serve(std::move(socket), std::move(slot)); },
      [this](ConnectionTable::Refusal why) {
        return error_reply(why == ConnectionTable::Refusal::cap
                               ? "xlbd: all " + std::to_string(options_.limits.max_connections) +
                                     " control connections are busy; try again"
                               : std::string("xlbd: short of file descriptors; try again"))
                   .dump() +
               "\n";
      });
}

// Nothing below touches `this` after a failed wait: the server may be gone.
asio::awaitable<void> ControlServer::serve(stream_protocol::socket socket, ConnectionTable::Slot slot) {
  ServedConnection<stream_protocol::socket> connection(socket, std::move(slot));
  const std::size_t max_request_bytes = options_.max_request_bytes;
  const bool privileged = peer_allowed(socket.native_handle());
  asio::streambuf buffer(max_request_bytes);
  for (;;) {
    if (!co_await connection.wait_for_request(buffer.size() != 0)) co_return;
    boost::system::error_code ec;
    std::size_t n = 0;
    {
      const auto reading = connection.deadline();
      n = co_await asio::async_read_until(socket, buffer, '\n', asio::redirect_error(asio::use_awaitable, ec));
      if (reading.expired() || (ec && ec != asio::error::not_found)) co_return;
    }
    connection.busy();
    std::string reply;
    const bool oversized = ec == asio::error::not_found;
    if (oversized) {
      reply = error_reply("request longer than " + std::to_string(max_request_bytes) + " bytes").dump() + "\n";
    } else {
      std::string line(asio::buffers_begin(buffer.data()), asio::buffers_begin(buffer.data()) + n - 1);
      buffer.consume(n);
      reply = co_await handle_line(std::move(line), privileged);
    }
    const auto writing = connection.deadline();
    co_await asio::async_write(socket, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
    if (ec || writing.expired() || oversized) co_return;
  }
}

Json control_request(const std::string& socket_path, const std::string& command, const Json& args) {
  asio::io_context io;
  stream_protocol::socket socket(io);
  boost::system::error_code ec;
  socket.connect(stream_protocol::endpoint(socket_path), ec);
  if (ec == asio::error::not_found || ec == boost::system::errc::no_such_file_or_directory ||
      ec == asio::error::connection_refused) {
    throw DaemonNotRunning("cannot connect to xlbd's control socket " + socket_path + ": " + ec.message());
  }
  if (ec) throw std::runtime_error("cannot connect to xlbd's control socket " + socket_path + ": " + ec.message());
  const std::string request = Json{{"command", command}, {"args", args}}.dump() + "\n";
  asio::write(socket, asio::buffer(request));
  asio::streambuf buffer;
  const std::size_t n = asio::read_until(socket, buffer, '\n');
  std::string line(asio::buffers_begin(buffer.data()), asio::buffers_begin(buffer.data()) + n);
  return Json::parse(line);
}

}  // namespace xlb::api
