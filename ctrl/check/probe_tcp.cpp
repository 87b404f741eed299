#include "ctrl/check/deadline.hpp"
#include "ctrl/check/probes.hpp"
#include "ctrl/notify/script_runner.hpp"
#include "ctrl/check/socket_util.hpp"

namespace xlb::check {

namespace asio = boost::asio;

asio::awaitable<ProbeResult> probe_tcp(const CheckSettings& check) {
  auto ex = co_await asio::this_coro::executor;
  auto start = std::chrono::steady_clock::now();
  asio::ip::tcp::socket socket(ex);
  Deadline deadline(ex, check.connect_timeout, [&socket] {
    boost::system::error_code ignored;
    socket.close(ignored);
  });
  auto ec = co_await connect_tcp(socket, check);
  ProbeResult result;
  result.latency = elapsed_since(start);
  if (deadline.expired()) {
    result.error = "connect timeout";
  } else if (ec) {
    result.error = "connect: " + ec.message();
  } else {
    result.up = true;
  }
  boost::system::error_code ignored;
  socket.close(ignored);
  co_return result;
}

asio::awaitable<ProbeResult> probe_misc(const CheckSettings& check, const ScriptRunner& runner) {
  auto start = std::chrono::steady_clock::now();
  ProbeResult result;
  auto argv = split_command_line(check.misc_path);
  if (argv.empty()) {
    result.error = "misc_path is empty";
    co_return result;
  }
  int status = co_await runner(argv, check.misc_timeout.value_or(check.connect_timeout), check.user);
  result.latency = elapsed_since(start);
  if (status == 0) {
    result.up = true;
  } else if (check.misc_dynamic && status >= 2 && status <= 255) {
    result.up = true;
    result.weight = static_cast<std::uint32_t>(status - 2);
  } else if (status < 0) {
    result.error = "script did not complete (timeout, signal or exec failure)";
  } else {
    result.error = "script exit status " + std::to_string(status);
  }
  co_return result;
}

}  // namespace xlb::check

namespace xlb::check {

std::vector<std::string> split_command_line(const std::string& line) {
  try {
    return notify::split_script_command(line);
  } catch (const std::invalid_argument&) {
    return {};
  }
}

}  // namespace xlb::check
