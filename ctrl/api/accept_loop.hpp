// The accept loop both listeners share. It ends only when its acceptor is closed: a failed
// accept() (EMFILE, ENFILE, ENOBUFS, anything) is counted and retried after a growing pause,
// so that a descriptor shortage pauses the listener instead of stopping it for good (issue 27:
// "...stopped: Too many open files", dead until a restart). The pause matters: the connection
// that could not be accepted stays queued, and the acceptor would report it again at once.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <variant>

#include <spdlog/spdlog.h>

#include "ctrl/api/connection_table.hpp"
#include "xlb/asio.hpp"

namespace xlb::api {

// 10 ms, doubling to 1 s while accept() keeps failing; back to 10 ms after a success.
class AcceptBackoff {
 public:
  static constexpr std::chrono::milliseconds first{10};
  static constexpr std::chrono::milliseconds longest{1000};
  std::chrono::milliseconds next();
  void reset() { pause_ = std::chrono::milliseconds(0); }
  bool failing() const { return pause_.count() != 0; }

 private:
  std::chrono::milliseconds pause_{0};
};

// Best effort, never blocking: a refused client gets `message` if its socket buffer has room.
void send_refusal(int fd, const std::string& message);

// serve(socket, slot) -> awaitable<void> runs one admitted connection. `refusal(reason)` is
// the text a refused client gets. `pause` belongs to the listener, as the acceptor does:
// destroying the listener cancels both, and the loop then ends without touching either again.
template <class Acceptor, class Serve, class Refusal>
boost::asio::awaitable<void> accept_connections(Acceptor& acceptor, boost::asio::steady_timer& pause,
                                                ConnectionTable& table, Serve serve, Refusal refusal) {
  namespace asio = boost::asio;
  const auto executor = co_await asio::this_coro::executor;
  AcceptBackoff backoff;
  std::uint64_t failures = 0;
  while (acceptor.is_open()) {
    boost::system::error_code ec;
    auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      table.count_accept_error();
      if (failures++ == 0) spdlog::warn("{}: accept: {}; retrying, with pauses up to {} ms", table.name(), ec.message(),
                                        AcceptBackoff::longest.count());
      pause.expires_after(backoff.next());
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted) co_return;
      continue;
    }
    if (failures != 0) {
      spdlog::info("{}: accepting again after {} failed accept(s)", table.name(), failures);
      failures = 0;
    }
    backoff.reset();
    auto admitted = table.admit(socket.native_handle());
    if (auto* why = std::get_if<ConnectionTable::Refusal>(&admitted)) {
      send_refusal(socket.native_handle(), refusal(*why));
      continue;  // the socket closes here
    }
    asio::co_spawn(executor, serve(std::move(socket), std::move(std::get<ConnectionTable::Slot>(admitted))),
                   [](std::exception_ptr) {
                     // A client that hangs up mid-request is its own business.
                   });
  }
}

}  // namespace xlb::api
