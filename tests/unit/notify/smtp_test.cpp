// The SMTP client and the Mailer against a real SMTP server (aiosmtpd) and hostile servers.
#include <gtest/gtest.h>

#include <cstdio>

#include "notify/mailer.hpp"
#include "notify/mime.hpp"
#include "notify/smtp_client.hpp"
#include "smtp_sink.hpp"

namespace xlb::notify {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::RawServer;
using test::run_on;
using test::run_until;
using test::SinkOptions;
using test::SmtpSink;
using test::TestCert;

SmtpEnvelope envelope(const std::string& subject, const std::string& body,
                      std::vector<std::string> to = {"oncall@example.com"}) {
  MessageSpec m;
  m.from = "xlb@lb1.example";
  m.to = std::move(to);
  m.subject = subject;
  m.body = body;
  m.date = std::chrono::system_clock::now();
  m.message_id = make_message_id("lb1.example", m.date);
  return {m.from, m.to, build_message(m)};
}

SmtpConfig config_for(std::uint16_t port) {
  SmtpConfig c;
  c.host = "127.0.0.1";
  c.port = port;
  c.helo_name = "lb1.example";
  c.timeout = 5s;
  return c;
}

TEST(SmtpClient, DeliversUtf8MailWithDotLinesToARealServer) {
  SmtpSink sink({});
  asio::io_context io;
  std::string subject = "[lb1] 主机 lb1 成为 MASTER — VIP 漂移 (peer lost)";
  std::string body = "状态变化: BACKUP -> MASTER\n.\n..two dots\nline with = sign\n" + std::string(300, 'y') + "\n";
  auto accepted = run_on(io, smtp_send(config_for(sink.port()),
                                       envelope(subject, body, {"oncall@example.com", "ops@example.com"})));
  EXPECT_EQ(accepted.size(), 2u);
  auto msgs = sink.messages();
  ASSERT_EQ(msgs.size(), 1u);
  const auto& m = msgs[0];
  EXPECT_EQ(m["mail_from"], "xlb@lb1.example");
  EXPECT_EQ(m["rcpt_tos"], (nlohmann::json{"oncall@example.com", "ops@example.com"}));
  EXPECT_EQ(m["subject"], subject);
  std::string got = m["body"];
  std::string want = body;
  // The reader sees CRLF line ends; compare with them normalised.
  got.erase(std::remove(got.begin(), got.end(), '\r'), got.end());
  EXPECT_EQ(got, want);
  EXPECT_TRUE(m["date_ok"].get<bool>()) << m["date"];
  EXPECT_FALSE(m["message_id"].get<std::string>().empty());
  EXPECT_LE(m["max_line"].get<int>(), 78);
  EXPECT_FALSE(m["tls"].get<bool>());
}

TEST(SmtpClient, StartTlsWithAuth) {
  TestCert cert;
  SmtpSink sink({.tls = "starttls", .auth = "alerts:pa ss:wörd", .cert = &cert});
  asio::io_context io;
  auto cfg = config_for(sink.port());
  cfg.tls = TlsMode::starttls;
  cfg.tls_ca_file = cert.cert().string();
  cfg.auth_user = "alerts";
  cfg.auth_password = "pa ss:wörd";
  run_on(io, smtp_send(cfg, envelope("tls test", "body\n")));
  auto msgs = sink.messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_TRUE(msgs[0]["tls"].get<bool>());
  EXPECT_EQ(msgs[0]["auth"], "alerts");

  cfg.auth_password = "wrong";
  try {
    run_on(io, smtp_send(cfg, envelope("tls test", "body\n")));
    ADD_FAILURE() << "a wrong password was accepted";
  } catch (const SmtpError& e) {
    EXPECT_TRUE(e.permanent());
    EXPECT_EQ(e.code(), 535);
    EXPECT_EQ(std::string(e.what()).find("wrong"), std::string::npos) << "the password leaked: " << e.what();
  }
  EXPECT_EQ(sink.messages().size(), 1u);
}

TEST(SmtpClient, ImplicitTlsWithAuth) {
  TestCert cert;
  SmtpSink sink({.tls = "implicit", .auth = "alerts:secret", .cert = &cert});
  asio::io_context io;
  auto cfg = config_for(sink.port());
  cfg.tls = TlsMode::implicit;
  cfg.tls_ca_file = cert.cert().string();
  cfg.auth_user = "alerts";
  cfg.auth_password = "secret";
  run_on(io, smtp_send(cfg, envelope("implicit", "body\n")));
  auto msgs = sink.messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_TRUE(msgs[0]["tls"].get<bool>());
  EXPECT_EQ(msgs[0]["auth"], "alerts");
}

TEST(SmtpClient, UntrustedCertificateIsRefused) {
  TestCert cert;
  SmtpSink sink({.tls = "starttls", .cert = &cert});
  asio::io_context io;
  auto cfg = config_for(sink.port());
  cfg.tls = TlsMode::starttls;  // system CA store: the self-signed certificate is not in it
  EXPECT_THROW(run_on(io, smtp_send(cfg, envelope("x", "y"))), SmtpError);
  TestCert other;  // trusted CA, but not the one that signed the server's certificate
  cfg.tls_ca_file = other.cert().string();
  EXPECT_THROW(run_on(io, smtp_send(cfg, envelope("x", "y"))), SmtpError);
  cfg.tls_verify = false;  // explicitly disabled: delivered
  run_on(io, smtp_send(cfg, envelope("x", "y")));
  EXPECT_EQ(sink.messages().size(), 1u);
}

TEST(SmtpClient, StartTlsRequiredButNotOffered) {
  SmtpSink sink({});
  asio::io_context io;
  auto cfg = config_for(sink.port());
  cfg.tls = TlsMode::starttls;
  try {
    run_on(io, smtp_send(cfg, envelope("x", "y")));
    ADD_FAILURE() << "sent in clear although starttls was required";
  } catch (const SmtpError& e) {
    EXPECT_TRUE(e.permanent());
    EXPECT_NE(std::string(e.what()).find("STARTTLS"), std::string::npos);
  }
  EXPECT_TRUE(sink.messages().empty());
}

// Each hostile server must end in an SmtpError (not a crash, hang or unbounded buffer).
struct Hostile {
  const char* name;
  std::function<void(int)> script;
  const char* expect;  // part of the error message
};

class HostileServer : public ::testing::TestWithParam<Hostile> {};

TEST_P(HostileServer, IsSurvived) {
  RawServer server(GetParam().script);
  asio::io_context io;
  auto cfg = config_for(server.port());
  cfg.timeout = 500ms;
  cfg.tls = TlsMode::none;
  if (std::string(GetParam().name) == "starttls_injection") cfg.tls = TlsMode::starttls;
  try {
    run_on(io, smtp_send(cfg, envelope("x", "y")));
    ADD_FAILURE() << "delivery reported success";
  } catch (const SmtpError& e) {
    EXPECT_NE(std::string(e.what()).find(GetParam().expect), std::string::npos) << e.what();
    EXPECT_FALSE(e.permanent()) << e.what();
  }
}

void endless(int fd, const std::string& chunk) {
  while (RawServer::send_all(fd, chunk)) {
  }
}

INSTANTIATE_TEST_SUITE_P(
    Smtp, HostileServer,
    ::testing::Values(
        Hostile{"overlong_line", [](int fd) { endless(fd, std::string(65536, 'A')); }, "longer than"},
        Hostile{"overlong_with_code", [](int fd) { RawServer::send_all(fd, "220 " + std::string(5000, 'B') + "\r\n"); },
                "longer than"},
        Hostile{"bad_code", [](int fd) { RawServer::send_all(fd, "abc hello\r\n"); }, "malformed reply"},
        Hostile{"code_out_of_range", [](int fd) { RawServer::send_all(fd, "290 hi\r\n"); }, "malformed reply"},
        Hostile{"bad_separator", [](int fd) { RawServer::send_all(fd, "220xhello\r\n"); }, "malformed reply"},
        Hostile{"endless_multiline", [](int fd) { endless(fd, "220-still talking\r\n"); }, "more than 64 lines"},
        Hostile{"code_changes", [](int fd) { RawServer::send_all(fd, "220-a\r\n250 b\r\n"); }, "code changed"},
        Hostile{"silent", [](int fd) { RawServer::read_line(fd); }, "timed out"},
        Hostile{"drip_feed",
                [](int fd) {
                  for (int i = 0; i < 100 && RawServer::send_all(fd, "2"); ++i) std::this_thread::sleep_for(100ms);
                },
                "timed out"},
        Hostile{"closes_at_once", [](int) {}, "127.0.0.1"},
        Hostile{"starttls_injection",
                [](int fd) {
                  RawServer::send_all(fd, "220 hi\r\n");
                  RawServer::read_line(fd);
                  RawServer::send_all(fd, "250-hi\r\n250 STARTTLS\r\n");
                  RawServer::read_line(fd);
                  RawServer::send_all(fd, "220 go ahead\r\n250 injected\r\n");
                  RawServer::read_line(fd);
                },
                "ahead of the STARTTLS"},
        Hostile{"temporary_failure",
                [](int fd) {
                  RawServer::send_all(fd, "220 hi\r\n");
                  RawServer::read_line(fd);
                  RawServer::send_all(fd, "250 hi\r\n");
                  RawServer::read_line(fd);
                  RawServer::send_all(fd, "451 try later\r\n");
                  RawServer::read_line(fd);
                },
                "451 try later"}),
    [](const auto& info) { return std::string(info.param.name); });

MailSettings mail_settings_for(std::uint16_t port) {
  MailSettings s;
  s.smtp_server = "127.0.0.1";
  s.smtp_port = port;
  s.notification_email = {"oncall@example.com"};
  s.notification_email_from = "xlb@lb1.example";
  s.smtp_helo_name = "lb1.example";
  s.smtp_connect_timeout = 2s;
  s.retry_initial = 100ms;
  s.retry_max = 400ms;
  s.max_attempts = 50;
  return s;
}

TEST(Mailer, QueuesWhileTheServerIsDownAndDeliversWhenItComesBack) {
  std::uint16_t port = test::free_tcp_port();
  asio::io_context io;
  Mailer mailer(io.get_executor(), mail_settings_for(port));
  mailer.submit({"first", "queued while down\n"});
  mailer.submit({"second", "also queued\n"});
  EXPECT_EQ(mailer.counters().submitted, 2u);
  ASSERT_TRUE(run_until(io, [&] { return mailer.counters().retries >= 3; }));
  EXPECT_EQ(mailer.counters().delivered, 0u);
  EXPECT_EQ(mailer.counters().queued, 2u);

  SmtpSink sink({.port = port});
  ASSERT_TRUE(run_until(io, [&] { return mailer.counters().delivered == 2; }));
  auto msgs = sink.messages();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0]["subject"], "first");  // in order
  EXPECT_EQ(msgs[1]["subject"], "second");
  EXPECT_EQ(mailer.counters().failed, 0u);
  EXPECT_EQ(mailer.counters().queued, 0u);
}

// A figure for the report, not a limit: mails per second through the queue to aiosmtpd.
TEST(Mailer, DeliveryRateFigure) {
  SmtpSink sink({});
  asio::io_context io;
  Mailer mailer(io.get_executor(), mail_settings_for(sink.port()));
  constexpr int n = 20;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) mailer.submit({"mail " + std::to_string(i), "body\n"});
  ASSERT_TRUE(run_until(io, [&] { return mailer.counters().delivered == n; }));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(sink.messages().size(), static_cast<std::size_t>(n));
  std::printf("figure: %d mails delivered in %lld ms (%.1f ms each, one SMTP session per mail)\n", n,
              static_cast<long long>(ms), double(ms) / n);
}

TEST(Mailer, GivesUpOnPermanentErrorsAndOnHostileServersAndCounts) {
  int rejected = 0;
  RawServer reject([&](int fd) {
    RawServer::send_all(fd, "220 hi\r\n");
    RawServer::read_line(fd);
    RawServer::send_all(fd, "250 hi\r\n");
    RawServer::read_line(fd);
    RawServer::send_all(fd, "550 5.7.1 relaying denied\r\n");
    ++rejected;
    RawServer::read_line(fd);
  });
  asio::io_context io;
  Mailer permanent(io.get_executor(), mail_settings_for(reject.port()));
  permanent.submit({"x", "y"});
  ASSERT_TRUE(run_until(io, [&] { return permanent.counters().failed == 1; }));
  EXPECT_EQ(permanent.counters().retries, 0u);  // a 5xx is not retried
  EXPECT_EQ(rejected, 1);

  RawServer garbage([](int fd) { RawServer::send_all(fd, "\x01\x02 garbage\r\n"); });
  auto s = mail_settings_for(garbage.port());
  s.max_attempts = 3;
  Mailer transient(io.get_executor(), s);
  transient.submit({"x", "y"});
  ASSERT_TRUE(run_until(io, [&] { return transient.counters().failed == 1; }));
  EXPECT_EQ(transient.counters().retries, 2u);
  EXPECT_EQ(garbage.connections(), 3);
}

TEST(Mailer, BoundedQueueDropsOldestAndNeverBlocks) {
  std::uint16_t port = test::free_tcp_port();  // nobody listens
  asio::io_context io;
  auto s = mail_settings_for(port);
  s.queue_capacity = 3;
  Mailer mailer(io.get_executor(), s);
  for (int i = 0; i < 10; ++i) mailer.submit({"mail " + std::to_string(i), "body"});
  ASSERT_TRUE(run_until(io, [&] { return mailer.counters().dropped >= 6; }));
  auto c = mailer.counters();
  EXPECT_EQ(c.submitted, 10u);
  EXPECT_GE(c.dropped, 6u);
  EXPECT_LE(c.queued, 4u);  // three waiting plus at most one in flight
}

}  // namespace
}  // namespace xlb::notify
