#include "ctrl/daemon/flow_census.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace xlb::daemon {

namespace asio = boost::asio;

FlowCensus::FlowCensus(asio::io_context& io, Source source, Options options)
    : timer_(io), source_(std::move(source)), options_(options) {}

void FlowCensus::start() {
  running_ = true;
  asio::co_spawn(timer_.get_executor(), loop(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("flow census stopped: {}", ex.what());
    }
  });
}

void FlowCensus::stop() {
  running_ = false;
  timer_.cancel();
}

const FlowCensusSample& FlowCensus::latest() {
  if (latest_.taken == std::chrono::steady_clock::time_point{}) take();
  return latest_;
}

const FlowCensusSample& FlowCensus::fresh(std::chrono::milliseconds max_age) {
  const auto age = std::chrono::steady_clock::now() - latest_.taken;
  if (latest_.taken == std::chrono::steady_clock::time_point{} ||
      (age > max_age && latest_.walk < std::chrono::milliseconds(50))) {
    try {
      take();
    } catch (const std::exception& e) {
      spdlog::warn("flow census: {}", e.what());
    }
  }
  return latest_;
}

std::chrono::milliseconds FlowCensus::next_wait(const Options& options, std::chrono::duration<double> walk) {
  const auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(walk / options.max_cpu_share);
  return std::max(options.interval, budget);
}

void FlowCensus::take() {
  const auto started = std::chrono::steady_clock::now();
  auto counts = source_(options_.active_window);
  FlowCensusSample sample;
  sample.flows = counts.flows;
  sample.active = std::move(counts.active);
  sample.established = std::move(counts.established);
  sample.taken = std::chrono::steady_clock::now();
  sample.walk = sample.taken - started;
  latest_ = std::move(sample);
  if (options_.on_sample) options_.on_sample(latest_);
}

asio::awaitable<void> FlowCensus::loop() {
  while (running_) {
    try {
      take();
    } catch (const std::exception& e) {
      // The table can be read again next time; the last good count stays meanwhile.
      spdlog::warn("flow census: {}", e.what());
    }
    timer_.expires_after(next_wait(options_, latest_.walk));
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace xlb::daemon
