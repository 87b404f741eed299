#include "tools/dp-demo/lab_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "xlb/unique_fd.hpp"

namespace xlb::dataplane::lab {

namespace {

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \r\n\t");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \r\n\t");
  return s.substr(b, e - b + 1);
}

}  // namespace

NetnsScope::NetnsScope(const std::string& name) {
  original_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (original_ < 0) throw std::system_error(errno, std::generic_category(), "open own netns");
  const UniqueFd target(::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC));
  if (target.get() < 0 || ::setns(target.get(), CLONE_NEWNET) != 0) {
    const int err = errno;
    ::close(original_);
    throw std::system_error(err, std::generic_category(), "entering netns " + name);
  }
}

NetnsScope::~NetnsScope() {
  if (original_ >= 0) {
    ::setns(original_, CLONE_NEWNET);
    ::close(original_);
  }
}

std::string http_get(const std::string& address, std::uint16_t port, std::chrono::milliseconds timeout) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(sockaddr_in);
  auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
  auto* sa6 = reinterpret_cast<sockaddr_in6*>(&ss);
  const bool v6 = address.find(':') != std::string::npos;
  if (v6) {
    sa6->sin6_family = AF_INET6;
    sa6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
    if (::inet_pton(AF_INET6, address.c_str(), &sa6->sin6_addr) != 1) throw std::invalid_argument("bad address " + address);
  } else {
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    if (::inet_pton(AF_INET, address.c_str(), &sa->sin_addr) != 1) throw std::invalid_argument("bad address " + address);
  }
  const UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) throw std::system_error(errno, std::generic_category(), "socket");
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    throw std::system_error(errno, std::generic_category(), "connect");
  }
  const std::string host = v6 ? "[" + address + "]" : address;
  const std::string request = "GET / HTTP/1.0\r\nHost: " + host + "\r\n\r\n";
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    throw std::system_error(errno, std::generic_category(), "send");
  }
  std::string response;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "recv");
    response.append(buf, static_cast<std::size_t>(n));
  }
  const auto head_end = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos) {
    throw std::runtime_error("not an HTTP response");
  }
  return trim(response.substr(head_end + 4));
}

std::map<std::string, int> http_tally(const std::string& netns, const std::string& address, std::uint16_t port,
                                      int count, std::chrono::milliseconds timeout) {
  std::map<std::string, int> tally;
  NetnsScope in(netns);
  int failures_in_a_row = 0;
  for (int i = 0; i < count; ++i) {
    try {
      ++tally[http_get(address, port, timeout)];
      failures_in_a_row = 0;
    } catch (const std::exception& e) {
      ++tally[std::string("error: ") + e.what()];
      // A path that is down stays down: stop instead of waiting out every timeout.
      if (++failures_in_a_row == kGiveUpAfter) {
        tally["not sent (gave up)"] += count - i - 1;
        break;
      }
    }
  }
  return tally;
}

}  // namespace xlb::dataplane::lab
