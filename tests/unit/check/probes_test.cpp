// Each probe against real servers on loopback: python3 http.server, openssl s_server, a DNS
// responder and UDP sockets in this process, real child processes for MISC_CHECK.
#include <gtest/gtest.h>

#include <boost/asio/ssl.hpp>
#include <filesystem>
#include <fstream>

#include "ctrl/check/dns_codec.hpp"
#include "ctrl/check/probes.hpp"
#include "tests/unit/check/test_support.hpp"

namespace xlb::check {
namespace {

namespace asio = boost::asio;
using test::ChildProcess;
using test::run;

const IpAddress loopback = asio::ip::make_address("127.0.0.1");

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "xlb-check-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

CheckSettings settings(CheckKind kind, std::uint16_t port, Millis timeout = Millis{2000}) {
  CheckSettings c;
  c.kind = kind;
  c.connect_ip = loopback;
  c.connect_port = port;
  c.connect_timeout = timeout;
  return c;
}

TEST(Probes, TcpUpAndRefused) {
  asio::io_context io;
  asio::ip::tcp::acceptor listener(io, {loopback, 0});
  auto up = run(io, probe_tcp(settings(CheckKind::tcp, listener.local_endpoint().port())));
  EXPECT_TRUE(up.up) << up.error;
  auto closed = test::free_port(loopback);
  auto down = run(io, probe_tcp(settings(CheckKind::tcp, closed)));
  EXPECT_FALSE(down.up);
  EXPECT_NE(down.error.find("connect"), std::string::npos) << down.error;
}

TEST(Probes, TcpBindto) {
  asio::io_context io;
  asio::ip::tcp::acceptor listener(io, {loopback, 0});
  auto c = settings(CheckKind::tcp, listener.local_endpoint().port());
  c.bindto = asio::ip::make_address("127.0.0.9");
  auto r = run(io, probe_tcp(c));
  ASSERT_TRUE(r.up) << r.error;
  auto peer = listener.accept();
  EXPECT_EQ(peer.remote_endpoint().address().to_string(), "127.0.0.9");
}

class HttpServer : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.path() / "index.html") << "hello\n";
    port_ = test::free_port(loopback);
    server_ = std::make_unique<ChildProcess>(std::vector<std::string>{
        "/usr/bin/python3", "-m", "http.server", std::to_string(port_), "--bind", "127.0.0.1",
        "--directory", dir_.path().string()});
    ASSERT_TRUE(test::wait_for_tcp(loopback, port_)) << "python3 http.server did not start";
  }
  CheckSettings url(const std::string& path, const std::string& digest = {},
                    std::vector<StatusRange> codes = {}) {
    auto c = settings(CheckKind::http_get, port_);
    c.urls.push_back(UrlSettings{path, digest, std::move(codes)});
    return c;
  }
  TempDir dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> server_;
  asio::io_context io_;
};

TEST_F(HttpServer, StatusPathAndDigest) {
  auto ok = run(io_, probe_http(url("/index.html"), nullptr));
  EXPECT_TRUE(ok.up) << ok.error;
  // md5("hello\n")
  auto digest_ok = run(io_, probe_http(url("/index.html", "b1946ac92492d2347c6235b4d2611184"), nullptr));
  EXPECT_TRUE(digest_ok.up) << digest_ok.error;
  EXPECT_TRUE(run(io_, probe_http(url("/index.html", "B1946AC92492D2347C6235B4D2611184"), nullptr)).up);
  auto digest_bad = run(io_, probe_http(url("/index.html", "00000000000000000000000000000000"), nullptr));
  EXPECT_FALSE(digest_bad.up);
  EXPECT_NE(digest_bad.error.find("digest"), std::string::npos) << digest_bad.error;
  auto missing = run(io_, probe_http(url("/missing"), nullptr));
  EXPECT_FALSE(missing.up);
  EXPECT_NE(missing.error.find("404"), std::string::npos) << missing.error;
  auto range = run(io_, probe_http(url("/missing", {}, {{200, 200}, {400, 499}}), nullptr));
  EXPECT_TRUE(range.up) << range.error;
  auto multi = url("/index.html");
  multi.urls.push_back(UrlSettings{"/missing", {}, {}});
  EXPECT_FALSE(run(io_, probe_http(multi, nullptr)).up);
}

TEST_F(HttpServer, DownAfterServerDies) {
  server_->kill();
  auto r = run(io_, probe_http(url("/index.html"), nullptr));
  EXPECT_FALSE(r.up);
}

// A server that answers 200 only for the right Host header, or never answers at all.
asio::awaitable<void> host_server(asio::ip::tcp::acceptor& acceptor, bool silent) {
  for (;;) {
    auto socket = co_await acceptor.async_accept(asio::use_awaitable);
    std::string request;
    std::array<char, 1024> buf;
    while (request.find("\r\n\r\n") == std::string::npos) {
      std::size_t n = co_await socket.async_read_some(asio::buffer(buf), asio::use_awaitable);
      request.append(buf.data(), n);
    }
    if (silent) {
      asio::steady_timer t(socket.get_executor(), std::chrono::seconds(30));
      boost::system::error_code ec;
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    bool good = request.find("\r\nHost: www.example.test\r\n") != std::string::npos;
    std::string response = good ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                                : "HTTP/1.1 421 Misdirected\r\nContent-Length: 0\r\n\r\n";
    co_await asio::async_write(socket, asio::buffer(response), asio::use_awaitable);
  }
}

TEST(Probes, HttpVirtualhostAndTimeout) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {loopback, 0});
  asio::co_spawn(io, host_server(acceptor, false), [](std::exception_ptr) {});
  auto c = settings(CheckKind::http_get, acceptor.local_endpoint().port());
  auto no_host = run(io, probe_http(c, nullptr));
  EXPECT_FALSE(no_host.up);
  EXPECT_NE(no_host.error.find("421"), std::string::npos) << no_host.error;
  c.virtualhost = "www.example.test";
  auto with_host = run(io, probe_http(c, nullptr));
  EXPECT_TRUE(with_host.up) << with_host.error;

  asio::ip::tcp::acceptor silent(io, {loopback, 0});
  asio::co_spawn(io, host_server(silent, true), [](std::exception_ptr) {});
  auto s = settings(CheckKind::http_get, silent.local_endpoint().port(), Millis{300});
  auto timed_out = run(io, probe_http(s, nullptr));
  EXPECT_FALSE(timed_out.up);
  EXPECT_NE(timed_out.error.find("timeout"), std::string::npos) << timed_out.error;
}

class TlsServer : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cert = (dir_.path() / "cert.pem").string();
    auto key = (dir_.path() / "key.pem").string();
    ChildProcess gen({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                      "-days", "1", "-subj", "/CN=secure.example.test"});
    for (int i = 0; i < 200 && !std::filesystem::exists(cert); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int status = 0;
    ::waitpid(gen.pid(), &status, 0);
    ASSERT_TRUE(std::filesystem::exists(cert)) << "openssl req failed";
    port_ = test::free_port(loopback);
    // -servername with -servername_fatal: a ClientHello naming another host is refused,
    // which is how the test sees that SNI was sent.
    server_ = std::make_unique<ChildProcess>(std::vector<std::string>{
        "openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port_), "-cert", cert,
        "-key", key, "-cert2", cert, "-key2", key, "-servername", "secure.example.test",
        "-servername_fatal", "-www", "-quiet"});
    ASSERT_TRUE(test::wait_for_tcp(loopback, port_)) << "openssl s_server did not start";
  }
  TempDir dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> server_;
  asio::io_context io_;
  asio::ssl::context tls_{asio::ssl::context::tls_client};
};

TEST_F(TlsServer, SslGetWithSni) {
  auto c = settings(CheckKind::ssl_get, port_);
  c.urls.push_back(UrlSettings{"/", {}, {}});
  c.virtualhost = "secure.example.test";
  auto ok = run(io_, probe_http(c, &tls_));
  EXPECT_TRUE(ok.up) << ok.error;
  c.sni = "other.example.test";
  auto wrong = run(io_, probe_http(c, &tls_));
  EXPECT_FALSE(wrong.up);
  EXPECT_NE(wrong.error.find("tls"), std::string::npos) << wrong.error;
  // Plain HTTP against a TLS port is not a healthy web server.
  c.kind = CheckKind::http_get;
  c.connect_timeout = Millis{500};
  EXPECT_FALSE(run(io_, probe_http(c, nullptr)).up);
}

// Answers every query: rcode as given, one A record when rcode is 0.
asio::awaitable<void> dns_responder(asio::ip::udp::socket& socket, std::uint8_t rcode) {
  std::array<std::uint8_t, 512> buf;
  for (;;) {
    asio::ip::udp::endpoint from;
    std::size_t n = co_await socket.async_receive_from(asio::buffer(buf), from, asio::use_awaitable);
    std::vector<std::uint8_t> reply(buf.begin(), buf.begin() + static_cast<long>(n));
    reply[2] |= 0x80;
    reply[3] = static_cast<std::uint8_t>(0x80 | rcode);
    if (rcode == 0) {
      reply[7] = 1;
      std::uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 53};
      reply.insert(reply.end(), std::begin(rr), std::end(rr));
    }
    co_await socket.async_send_to(asio::buffer(reply), from, asio::use_awaitable);
  }
}

TEST(Probes, DnsAnswerRcodeAndUnreachable) {
  asio::io_context io;
  asio::ip::udp::socket good(io, {loopback, 0}), refusing(io, {loopback, 0});
  asio::co_spawn(io, dns_responder(good, 0), [](std::exception_ptr) {});
  asio::co_spawn(io, dns_responder(refusing, 3), [](std::exception_ptr) {});
  auto c = settings(CheckKind::dns, good.local_endpoint().port());
  c.dns_type = "A";
  c.dns_name = "www.example.test";
  auto ok = run(io, probe_dns(c));
  EXPECT_TRUE(ok.up) << ok.error;
  c.connect_port = refusing.local_endpoint().port();
  auto nx = run(io, probe_dns(c));
  EXPECT_FALSE(nx.up);
  EXPECT_EQ(nx.error, "rcode 3");
  c.connect_port = test::free_port(loopback, true);
  c.connect_timeout = Millis{1000};
  EXPECT_FALSE(run(io, probe_dns(c)).up);
  c.dns_type = "NOPE";
  EXPECT_FALSE(run(io, probe_dns(c)).up);
}

TEST(Probes, UdpSilenceIsUpUnreachableIsDown) {
  asio::io_context io;
  asio::ip::udp::socket listener(io, {loopback, 0});
  auto c = settings(CheckKind::udp, listener.local_endpoint().port(), Millis{300});
  auto silent = run(io, probe_udp(c));
  EXPECT_TRUE(silent.up) << silent.error;
  c.require_reply = true;
  EXPECT_FALSE(run(io, probe_udp(c)).up);
  c.require_reply = false;
  c.connect_port = test::free_port(loopback, true);
  auto refused = run(io, probe_udp(c));
  EXPECT_FALSE(refused.up);
  EXPECT_NE(refused.error.find("refused"), std::string::npos) << refused.error;

  // An echo server satisfies require_reply.
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    std::array<char, 64> buf;
    for (;;) {  // earlier probes' datagrams are still queued: echo everything
      asio::ip::udp::endpoint from;
      std::size_t n = co_await listener.async_receive_from(asio::buffer(buf), from, asio::use_awaitable);
      co_await listener.async_send_to(asio::buffer(buf.data(), n), from, asio::use_awaitable);
    }
  }, [](std::exception_ptr) {});
  c.connect_port = listener.local_endpoint().port();
  c.require_reply = true;
  auto echoed = run(io, probe_udp(c));
  EXPECT_TRUE(echoed.up) << echoed.error;
}

TEST(Probes, MiscExitCodesDynamicWeightAndTimeout) {
  asio::io_context io;
  ScriptRunner runner = test::fork_exec_runner;
  auto c = settings(CheckKind::misc, 0);
  c.misc_timeout = Millis{5000};
  c.misc_path = "/bin/sh -c 'exit 0'";
  EXPECT_TRUE(run(io, probe_misc(c, runner)).up);
  c.misc_path = "/bin/sh -c 'exit 1'";
  EXPECT_FALSE(run(io, probe_misc(c, runner)).up);
  c.misc_path = "/bin/sh -c 'exit 5'";
  EXPECT_FALSE(run(io, probe_misc(c, runner)).up);
  c.misc_dynamic = true;
  auto dyn = run(io, probe_misc(c, runner));
  EXPECT_TRUE(dyn.up);
  EXPECT_EQ(dyn.weight, 3u);
  c.misc_path = "/bin/sleep 10";
  c.misc_timeout = Millis{200};
  auto slow = run(io, probe_misc(c, runner));
  EXPECT_FALSE(slow.up);
  c.misc_dynamic = false;  // with it, exec failure's 127 would read as weight 125
  c.misc_path = "/nonexistent/script";
  EXPECT_FALSE(run(io, probe_misc(c, runner)).up);
}

TEST(Probes, CommandLineSplitting) {
  EXPECT_EQ(split_command_line("/bin/sh -c 'exit 3'"),
            (std::vector<std::string>{"/bin/sh", "-c", "exit 3"}));
  EXPECT_EQ(split_command_line("  a  \"b c\" d\\ e ''"),
            (std::vector<std::string>{"a", "b c", "d e", ""}));
}

}  // namespace
}  // namespace xlb::check
