// Helpers for the namespace lab (the DR test and the demo): run code inside a named network
// namespace, and fetch a page over plain TCP.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace xlb::dataplane::lab {

// Moves the calling thread into /run/netns/NAME until destroyed. Sockets opened meanwhile
// stay in that namespace after the thread moves back.
class NetnsScope {
 public:
  explicit NetnsScope(const std::string& name);
  ~NetnsScope();
  NetnsScope(const NetnsScope&) = delete;
  NetnsScope& operator=(const NetnsScope&) = delete;

 private:
  int original_ = -1;
};

// One HTTP/1.0 GET (IPv4 or IPv6 address); returns the body with surrounding whitespace trimmed. Throws on
// connection errors and on timeouts.
std::string http_get(const std::string& address, std::uint16_t port, std::chrono::milliseconds timeout);

// `count` GETs from inside namespace `netns`; body -> how many responses carried it
// (failures are counted under "error: <what>"; after kGiveUpAfter failures in a row the
// rest are counted as "not sent (gave up)").
inline constexpr int kGiveUpAfter = 5;
std::map<std::string, int> http_tally(const std::string& netns, const std::string& address, std::uint16_t port,
                                      int count, std::chrono::milliseconds timeout);

}  // namespace xlb::dataplane::lab
