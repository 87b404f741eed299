#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <future>
#include <string>
#include <vector>
#include <thread>

#include <gtest/gtest.h>

#include "ctrl/api/control_server.hpp"
#include "ctrl/api/metrics_server.hpp"
#include "ctrl/api/prometheus.hpp"

namespace xlb::api {
namespace {

// Runs one request through the server's handlers on `io`, as a connection would.
std::string answer(boost::asio::io_context& io, const ControlServer& server, std::string line, bool privileged) {
  auto reply = boost::asio::co_spawn(io, server.handle_line(std::move(line), privileged), boost::asio::use_future);
  io.restart();
  io.run();
  return reply.get();
}

Json parse_reply(const std::string& line) {
  EXPECT_EQ(line.back(), '\n');
  return Json::parse(line);
}

TEST(ControlProtocol, AnswersKnownCommandsAndRefusesTheRest) {
  boost::asio::io_context io;
  ControlServer server(io, {.path = "/tmp/unused", .group = ""});
  int calls = 0;
  server.add("echo", [&](const Json& args) {
    ++calls;
    return args;
  });
  auto ok = parse_reply(answer(io, server, R"({"command":"echo","args":{"x":1}})", true));
  EXPECT_TRUE(ok["ok"].get<bool>());
  EXPECT_EQ(ok["result"]["x"], 1);

  auto unknown = parse_reply(answer(io, server, R"({"command":"nope"})", true));
  EXPECT_FALSE(unknown["ok"].get<bool>());
  EXPECT_EQ(unknown["error"], "unknown command \"nope\"");

  auto malformed = parse_reply(answer(io, server, R"({"command":"echo",)", true));
  EXPECT_FALSE(malformed["ok"].get<bool>());
  EXPECT_NE(malformed["error"].get<std::string>().find("malformed request"), std::string::npos);

  auto not_object = parse_reply(answer(io, server, R"(["echo"])", true));
  EXPECT_FALSE(not_object["ok"].get<bool>());

  auto unprivileged = parse_reply(answer(io, server, R"({"command":"echo"})", false));
  EXPECT_FALSE(unprivileged["ok"].get<bool>());
  EXPECT_EQ(calls, 1) << "refused requests must not reach a handler";
}

// Invalid UTF-8 in a request (or in an error that quotes it) once made the reply's dump throw,
// and the client got no reply at all.
TEST(ControlProtocol, InvalidUtf8GetsAnErrorReply) {
  boost::asio::io_context io;
  ControlServer server(io, {.path = "/tmp/unused", .group = ""});
  const auto bad_json = answer(io, server, "{\"command\":\"\xff\xfe\"}", true);
  EXPECT_FALSE(parse_reply(bad_json)["ok"].get<bool>()) << bad_json;
  const auto quoted = answer(io, server, "{\"command\":\"status\xc3\"}", true);
  EXPECT_FALSE(parse_reply(quoted)["ok"].get<bool>()) << quoted;
}

TEST(ControlProtocol, HandlerErrorsBecomeErrorReplies) {
  boost::asio::io_context io;
  ControlServer server(io, {.path = "/tmp/unused", .group = ""});
  server.add("fail", [](const Json&) -> Json { throw std::invalid_argument("no such real"); });
  auto reply = parse_reply(answer(io, server, R"({"command":"fail"})", true));
  EXPECT_FALSE(reply["ok"].get<bool>());
  EXPECT_EQ(reply["error"], "no such real");
}

// A reload parses on a worker thread: while its handler waits, the loop goes on with the rest
// (VRRP adverts, checks, other requests).
TEST(ControlProtocol, AsyncHandlerLeavesTheLoopFreeWhileItWaits) {
  boost::asio::io_context io;
  ControlServer server(io, {.path = "/tmp/unused", .group = ""});
  std::vector<std::string> order;
  server.add_async("slow", [&](const Json&) -> boost::asio::awaitable<Json> {
    boost::asio::steady_timer wait(io, std::chrono::milliseconds(50));
    co_await wait.async_wait(boost::asio::use_awaitable);
    order.push_back("slow");
    co_return Json("done");
  });
  boost::asio::steady_timer other(io, std::chrono::milliseconds(10));
  other.async_wait([&](const boost::system::error_code&) { order.push_back("other"); });
  auto reply = parse_reply(answer(io, server, R"({"command":"slow"})", true));
  EXPECT_TRUE(reply["ok"].get<bool>());
  EXPECT_EQ(reply["result"], "done");
  EXPECT_EQ(order, (std::vector<std::string>{"other", "slow"}));
}

TEST(ControlSocket, ServesOverAUnixSocketAndRefusesOversizedRequests) {
  const auto path = std::filesystem::temp_directory_path() / ("xlb-api-" + std::to_string(::getpid()) + ".sock");
  boost::asio::io_context io;
  ControlServer server(io, {.path = path.string(), .group = "", .max_request_bytes = 1024});
  server.add("ping", [](const Json&) { return Json("pong"); });
  server.start();
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::thread runner([&] { io.run(); });
  Json reply = control_request(path.string(), "ping", Json::object());
  EXPECT_EQ(reply["result"], "pong");

  // Oversized: a line longer than the limit is answered with an error.
  boost::asio::io_context client_io;
  boost::asio::local::stream_protocol::socket socket(client_io);
  socket.connect(path.string());
  std::string huge(4096, 'x');
  boost::system::error_code ec;
  boost::asio::write(socket, boost::asio::buffer(huge), ec);
  boost::asio::streambuf buffer;
  boost::asio::read_until(socket, buffer, '\n', ec);
  std::string line(boost::asio::buffers_begin(buffer.data()), boost::asio::buffers_end(buffer.data()));
  EXPECT_NE(line.find("request longer than 1024 bytes"), std::string::npos) << line;

  io.stop();
  runner.join();
}

TEST(Prometheus, FormatsFamiliesLabelsAndHistograms) {
  MetricsText text;
  text.family("xlb_real_packets_total", MetricsText::Type::counter, "Packets forwarded to a real server.");
  text.sample({{"vip", "198.18.0.10:80"}, {"real", "a\"b"}}, 42);
  Histogram h({0.001, 0.01});
  h.observe(0.0005);
  h.observe(0.5);
  text.family("xlb_check_latency_seconds", MetricsText::Type::histogram, "Check latency.");
  h.write(text, {{"real", "r1"}});
  const std::string expected =
      "# HELP xlb_real_packets_total Packets forwarded to a real server.\n"
      "# TYPE xlb_real_packets_total counter\n"
      "xlb_real_packets_total{vip=\"198.18.0.10:80\",real=\"a\\\"b\"} 42\n"
      "# HELP xlb_check_latency_seconds Check latency.\n"
      "# TYPE xlb_check_latency_seconds histogram\n"
      "xlb_check_latency_seconds_bucket{real=\"r1\",le=\"0.001\"} 1\n"
      "xlb_check_latency_seconds_bucket{real=\"r1\",le=\"0.01\"} 1\n"
      "xlb_check_latency_seconds_bucket{real=\"r1\",le=\"+Inf\"} 2\n"
      "xlb_check_latency_seconds_sum{real=\"r1\"} 0.5005\n"
      "xlb_check_latency_seconds_count{real=\"r1\"} 2\n";
  EXPECT_EQ(text.text(), expected);
}

// A scrape spells a real's labels once (label_text) for the families that repeat them, and
// writes whole numbers with to_chars: the lines must be those of sample(labels, value), and the
// numbers those "%.0f" / "%.9g" wrote before.
TEST(Prometheus, SpelledLabelsAndValuesAsBefore) {
  const Labels label_sets[] = {{}, {{"vip", "198.18.0.10:80"}}, {{"vip", "[2001:db8::1]:53"}, {"real", "a\"b\\c\nd"}}};
  const double values[] = {0, 1, 42, 65535, 18446744073709551615.0, 999999999999999, 1e15, 123456789012345678.0,
                           0.5005, -3, -2.25, 1e-9, 3.14159265358979};
  for (const auto& labels : label_sets) {
    for (double v : values) {
      MetricsText by_labels, spelled;
      by_labels.family("xlb_x", MetricsText::Type::gauge, "x");
      spelled.family("xlb_x", MetricsText::Type::gauge, "x");
      by_labels.sample(labels, v);
      spelled.sample_spelled(MetricsText::label_text(labels), v);
      EXPECT_EQ(spelled.text(), by_labels.text());
      char old[64];
      std::snprintf(old, sizeof(old), v == std::floor(v) && std::fabs(v) < 1e15 ? "%.0f" : "%.9g", v);
      const auto& text = by_labels.text();
      const auto line = text.substr(text.rfind('\n', text.size() - 2) + 1);
      EXPECT_EQ(line.substr(line.rfind(' ') + 1), std::string(old) + "\n") << v;
    }
  }
}

TEST(MetricsServer, ServesMetricsOverHttp) {
  boost::asio::io_context io;
  MetricsServer server(io, "127.0.0.1", 0, [] { return std::string("xlb_up 1\n"); });
  server.start();
  std::thread runner([&] { io.run(); });
  boost::asio::io_context client_io;
  boost::asio::ip::tcp::socket socket(client_io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), server.port()});
  const std::string request = "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n";
  boost::asio::write(socket, boost::asio::buffer(request));
  boost::system::error_code ec;
  std::string response;
  boost::asio::read(socket, boost::asio::dynamic_buffer(response), ec);
  EXPECT_NE(response.find("200 OK"), std::string::npos);
  EXPECT_NE(response.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(response.find("\r\n\r\nxlb_up 1\n"), std::string::npos) << response;
  io.stop();
  runner.join();
}

}  // namespace
}  // namespace xlb::api
