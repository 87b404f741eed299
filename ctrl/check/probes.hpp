// One attempt of each check kind. Every probe takes a fully resolved CheckSettings (see
// resolve.hpp: connect_ip/connect_port/retry/delays filled in) and reports up or down; it
// never throws for a failing server, only for programming errors.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ctrl/check/settings.hpp"
#include "xlb/asio.hpp"

namespace boost::asio::ssl {
class context;
}

namespace xlb::check {

struct ProbeResult {
  bool up = false;
  std::optional<std::uint32_t> weight;  // MISC_CHECK misc_dynamic: new weight
  std::string error;                    // why it failed, for logs and xlbctl
  Millis latency{0};
};

// Runs a command (argv[0] is the program) as `user` (empty: the default script user) and
// returns its exit status, or a negative value when it could not run, was killed or timed out.
using ScriptRunner = std::function<boost::asio::awaitable<int>(
    const std::vector<std::string>& argv, Millis timeout, const std::string& user)>;

boost::asio::awaitable<ProbeResult> probe_tcp(const CheckSettings& check);
// HTTP_GET, or SSL_GET when `tls` is not null (verification off, like keepalived).
boost::asio::awaitable<ProbeResult> probe_http(const CheckSettings& check,
                                               boost::asio::ssl::context* tls);
boost::asio::awaitable<ProbeResult> probe_misc(const CheckSettings& check,
                                               const ScriptRunner& runner);
boost::asio::awaitable<ProbeResult> probe_dns(const CheckSettings& check);
boost::asio::awaitable<ProbeResult> probe_udp(const CheckSettings& check);
boost::asio::awaitable<ProbeResult> probe_ping(const CheckSettings& check);

// keepalived's script-line splitting, shared with notify: an unterminated quote yields no argv.
std::vector<std::string> split_command_line(const std::string& line);

}  // namespace xlb::check
