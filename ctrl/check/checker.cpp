#include "ctrl/check/checker.hpp"

#include <spdlog/spdlog.h>

namespace xlb::check {

namespace asio = boost::asio;

Checker::Checker(asio::any_io_executor ex, CheckSettings resolved, bool start_up, ProbeFn probe,
                 std::function<void()> on_change)
    : ex_(ex),
      settings_(std::move(resolved)),
      state_(settings_.retry.value_or(1), settings_.delay_loop.value_or(Millis{60000}),
             settings_.delay_before_retry.value_or(Millis{1000}), start_up),
      probe_(std::move(probe)),
      on_change_(std::move(on_change)),
      timer_(ex) {
  status_.up = start_up;
}

void Checker::start(Millis initial_delay) {
  asio::co_spawn(ex_, [self = shared_from_this(), initial_delay]() { return self->run(initial_delay); },
                 [target = settings_.connect_ip->to_string()](std::exception_ptr e) {
                   if (!e) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& x) {
                     spdlog::error("check: checker for {} ended: {}", target, x.what());
                   }
                 });
}

void Checker::stop() {
  stopped_ = true;
  timer_.cancel();
}

asio::awaitable<void> Checker::run(Millis initial_delay) {
  // Keeps this object alive while the coroutine runs, whatever the monitor does meanwhile.
  auto self = shared_from_this();
  Millis delay = initial_delay;
  while (!stopped_) {
    if (delay.count() > 0) {
      timer_.expires_after(delay);
      boost::system::error_code ec;
      co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (stopped_) break;
    }
    ProbeResult result = co_await probe_(settings_);
    if (stopped_) break;
    ++status_.runs;
    status_.last_latency = result.latency;
    const double seconds = std::chrono::duration<double>(result.latency).count();
    status_.latency_sum += seconds;
    for (std::size_t i = 0; i < kLatencyBounds.size(); ++i) {
      if (seconds <= kLatencyBounds[i]) ++status_.latency_buckets[i];
    }
    if (!result.up) {
      ++status_.failures;
      status_.last_error = result.error;
    }
    const bool was_settled = state_.settled();
    auto step = state_.on_result(result.up, result.weight);
    status_.up = state_.up();
    status_.weight = state_.weight();
    if (step.changed) {
      // The daemon logs the real's change once, with its service; this checker's view is detail.
      spdlog::debug("check: {} {}:{} is {}{}{}", to_string(settings_.kind),
                   settings_.connect_ip->to_string(), *settings_.connect_port,
                   state_.up() ? "up" : "down", result.up ? "" : ": ", result.error);
    }
    if ((step.changed || state_.settled() != was_settled) && on_change_) on_change_();
    delay = step.next_delay;
  }
}

}  // namespace xlb::check
