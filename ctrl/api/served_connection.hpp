// One admitted connection as both listeners serve it: every wait on the client is bounded,
// idle_timeout for a request to begin and request_timeout for it to arrive and for its reply
// to leave, and the table may close it to make room while it is the client's turn.
// Lives in the serving coroutine's frame, next to its socket; neither moves.
#pragma once

#include "ctrl/api/connection_table.hpp"
#include "ctrl/check/deadline.hpp"
#include "xlb/asio.hpp"

namespace xlb::api {

template <class Socket>
class ServedConnection {
 public:
  ServedConnection(Socket& socket, ConnectionTable::Slot slot) : socket_(socket), slot_(std::move(slot)) {
    slot_.on_evict([this] { close(); });
  }
  ServedConnection(const ServedConnection&) = delete;
  ServedConnection& operator=(const ServedConnection&) = delete;

  // The client's turn. `buffered`: a request (or its start) is already read. false: end the
  // connection (idle too long, closed, evicted, or the listener is gone); then touch nothing
  // of the listener's, which may be gone.
  boost::asio::awaitable<bool> wait_for_request(bool buffered) {
    if (!slot_.waiting()) co_return false;
    if (buffered) co_return true;
    const check::Deadline idle(socket_.get_executor(), slot_.limits().idle_timeout, [this] {
      slot_.count_idle_timeout();
      close();
    });
    boost::system::error_code ec;
    co_await socket_.async_wait(Socket::wait_read, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    co_return !ec && !idle.expired();
  }
  // Bounds reading one request, or writing its reply.
  check::Deadline deadline() {
    return check::Deadline(socket_.get_executor(), slot_.limits().request_timeout, [this] {
      slot_.count_request_timeout();
      close();
    });
  }
  // This side's turn: not to be evicted while it answers.
  void busy() { slot_.busy(); }

 private:
  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }
  Socket& socket_;
  ConnectionTable::Slot slot_;
};

}  // namespace xlb::api
