#include "ctrl/api/accept_loop.hpp"

#include <sys/socket.h>

#include <algorithm>

namespace xlb::api {

std::chrono::milliseconds AcceptBackoff::next() {
  pause_ = failing() ? std::min(pause_ * 2, longest) : first;
  return pause_;
}

void send_refusal(int fd, const std::string& message) {
  [[maybe_unused]] const auto sent = ::send(fd, message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

}  // namespace xlb::api
