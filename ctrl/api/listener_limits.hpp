// What one listener (the control socket, the metrics endpoint) allows its clients.
#pragma once

#include <chrono>
#include <cstddef>

namespace xlb::api {

struct ListenerLimits {
  std::size_t max_connections = 32;
  // Between requests (and from accept to the first byte).
  std::chrono::milliseconds idle_timeout{60'000};
  // From a request's first byte to its end, and for writing the reply: what a slowloris
  // client would stretch.
  std::chrono::milliseconds request_timeout{10'000};
};

}  // namespace xlb::api
