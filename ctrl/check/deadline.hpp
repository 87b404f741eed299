// A timeout for one probe: when it expires it runs a callback (typically closing the probe's
// socket so that the pending operation completes with operation_aborted). Destroying the
// Deadline disarms it, so a callback never runs after the coroutine frame that owns the
// socket is gone even if the timer already fired and its handler is queued.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "xlb/asio.hpp"

namespace xlb::check {

class Deadline {
 public:
  Deadline(const boost::asio::any_io_executor& ex, std::chrono::milliseconds timeout,
           std::function<void()> on_expire)
      : state_(std::make_shared<State>(ex, std::move(on_expire))) {
    state_->timer.expires_after(timeout);
    state_->timer.async_wait([s = state_](const boost::system::error_code& ec) {
      if (ec || !s->armed) return;
      s->expired = true;
      s->on_expire();
    });
  }
  ~Deadline() {
    state_->armed = false;
    state_->timer.cancel();
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  bool expired() const { return state_->expired; }

 private:
  struct State {
    State(const boost::asio::any_io_executor& ex, std::function<void()> fn)
        : timer(ex), on_expire(std::move(fn)) {}
    boost::asio::steady_timer timer;
    std::function<void()> on_expire;
    bool armed = true;
    bool expired = false;
  };
  std::shared_ptr<State> state_;
};

}  // namespace xlb::check
