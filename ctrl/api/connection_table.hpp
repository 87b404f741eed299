// One listener's connections: admits or refuses each accepted connection within the
// listener's cap and the process's descriptor budget, and counts what it refused or closed.
//
// At the cap, a new connection is not simply refused: the connection that has waited longest
// for its client (idle between requests, or sending one slowly) is closed to make room. A
// client that connects and sends its request at once, as xlbctl and Prometheus do, then gets
// through while a flood holds the listener; the flood's connections churn instead of holding
// the listener until their timeouts. Only when every connection is busy with a reply is the
// new one refused.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "ctrl/api/descriptor_budget.hpp"
#include "ctrl/api/listener_limits.hpp"

namespace xlb::api {

struct ListenerCounters {
  std::uint64_t accepted = 0;
  std::uint64_t rejected_cap = 0;          // at the cap, and every connection busy with a reply
  std::uint64_t rejected_descriptors = 0;  // the descriptor table within its reserve of full
  std::uint64_t accept_errors = 0;         // accept() failed: EMFILE, ENFILE, ENOBUFS ...
  std::uint64_t evicted = 0;               // closed to make room (waited longest for its client)
  std::uint64_t idle_timeouts = 0;         // no request within idle_timeout
  std::uint64_t request_timeouts = 0;      // a request (or its reply) unfinished within request_timeout
};

class ConnectionTable {
  struct Entry {
    std::function<void()> close;  // empty until the connection's coroutine runs
    std::uint64_t waiting_since = 0;  // turn number; 0: busy, not to be evicted
  };
  struct State {
    ListenerLimits limits;
    DescriptorBudget budget;
    ListenerCounters counters;
    std::map<std::uint64_t, Entry> open;
    std::uint64_t next_id = 1;
    std::uint64_t turn = 0;
    bool closed = false;  // the table is gone: connections end at their next turn
  };

 public:
  enum class Refusal { cap, descriptors };

  // Held by a connection's coroutine for its lifetime. Outlives the table safely (the state
  // is shared), since a coroutine may be resumed after its server is gone.
  class Slot {
   public:
    Slot(std::shared_ptr<State> state, std::uint64_t id) : state_(std::move(state)), id_(id) {}
    Slot(Slot&& other) noexcept : state_(std::move(other.state_)), id_(other.id_) {}
    Slot& operator=(Slot&&) = delete;
    ~Slot();
    // How the table closes this connection to make room (typically: close the socket).
    void on_evict(std::function<void()> close);
    // The client's turn (waiting for a request): evictable, the longest waiting first.
    // false: the listener is gone, end the connection.
    [[nodiscard]] bool waiting();
    // This side's turn (answering): not evictable.
    void busy();
    void count_idle_timeout() { ++state_->counters.idle_timeouts; }
    void count_request_timeout() { ++state_->counters.request_timeouts; }
    const ListenerLimits& limits() const { return state_->limits; }

   private:
    std::shared_ptr<State> state_;
    std::uint64_t id_;
  };

  ConnectionTable(std::string name, ListenerLimits limits, DescriptorBudget budget);
  // Closes the connections waiting for their clients; one busy with a reply finishes it (the
  // reply to `stop` must leave) and ends at its next waiting().
  ~ConnectionTable();
  ConnectionTable(const ConnectionTable&) = delete;
  ConnectionTable& operator=(const ConnectionTable&) = delete;

  // For a connection that accept() just gave descriptor `fd`.
  std::variant<Slot, Refusal> admit(int fd);
  void count_accept_error() { ++state_->counters.accept_errors; }

  const std::string& name() const { return name_; }
  const ListenerLimits& limits() const { return state_->limits; }
  const ListenerCounters& counters() const { return state_->counters; }
  std::size_t size() const { return state_->open.size(); }
  nlohmann::json describe() const;

 private:
  std::string name_;
  std::shared_ptr<State> state_;
};

}  // namespace xlb::api
