// Message composition, settings validation and the password file rule.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <regex>

#include "notify/events.hpp"
#include "notify/mail_settings.hpp"
#include "notify/mime.hpp"
#include "test_util.hpp"

namespace xlb::notify {
namespace {

using test::TempDir;

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    auto nl = s.find("\r\n", pos);
    out.push_back(s.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    if (nl == std::string::npos) break;
    pos = nl + 2;
  }
  return out;
}

TEST(Mime, DotStuffingAndLineEndings) {
  EXPECT_EQ(dot_stuff("a\n.b\r\n..c\rd"), "a\r\n..b\r\n...c\r\nd\r\n.\r\n");
  EXPECT_EQ(dot_stuff(".\n"), "..\r\n.\r\n");
  EXPECT_EQ(dot_stuff(""), ".\r\n");
  EXPECT_EQ(dot_stuff("x.\r\n"), "x.\r\n.\r\n");
}

TEST(Mime, HeaderTextEncodesUtf8AsEncodedWords) {
  EXPECT_EQ(encode_header_text("VRRP Instance VI_1 - Entering MASTER state"), "VRRP Instance VI_1 - Entering MASTER state");
  // Header injection: line breaks never survive into a header.
  EXPECT_EQ(encode_header_text("a\r\nBcc: x@y"), "a  Bcc: x@y");
  std::string zh = "主机 lb1 成为 MASTER，VIP 漂移到本机 —— 请检查 backup 节点的状态与日志";
  std::string enc = encode_header_text(zh);
  std::size_t words = 0;
  for (const auto& line : lines_of(enc)) {
    EXPECT_LE(line.size() + 9, 76u) << line;  // "Subject: " + line
    std::string w = line[0] == ' ' ? line.substr(1) : line;
    EXPECT_EQ(w.rfind("=?UTF-8?B?", 0), 0u) << w;
    EXPECT_EQ(w.substr(w.size() - 2), "?=");
    ++words;
  }
  EXPECT_GT(words, 1u);
}

TEST(Mime, QuotedPrintableKeepsLinesShortAndBytesExact) {
  std::string body = "状态: MASTER = ok\ntrailing space \n" + std::string(200, 'x') + "\n.dot";
  std::string qp = quoted_printable(body);
  for (const auto& line : lines_of(qp)) EXPECT_LE(line.size(), 76u) << line;
  EXPECT_NE(qp.find("=E7=8A=B6"), std::string::npos);  // 状 in UTF-8
  EXPECT_NE(qp.find("MASTER =3D ok"), std::string::npos);
  EXPECT_NE(qp.find("trailing space=20\r\n"), std::string::npos);
  EXPECT_NE(qp.find("=\r\n"), std::string::npos);  // soft break in the long line
}

TEST(Mime, MessageHasTheHeadersMailReadersNeed) {
  MessageSpec m;
  m.from = "xlb@lb1.example";
  m.to = {"oncall@example.com", "ops@example.com"};
  m.subject = "[lb1] VRRP Instance VI_1 - Entering MASTER state";
  m.body = "hello\n";
  m.date = std::chrono::system_clock::now();
  m.message_id = make_message_id("lb1.example", m.date);
  std::string msg = build_message(m);
  EXPECT_NE(msg.find("From: xlb@lb1.example\r\n"), std::string::npos);
  EXPECT_NE(msg.find("To: oncall@example.com,\r\n ops@example.com\r\n"), std::string::npos);
  EXPECT_NE(msg.find("Content-Type: text/plain; charset=UTF-8\r\n"), std::string::npos);
  EXPECT_NE(msg.find("Content-Transfer-Encoding: quoted-printable\r\n"), std::string::npos);
  EXPECT_NE(msg.find("Message-ID: <" + m.message_id + ">\r\n"), std::string::npos);
  std::regex date(R"(Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n)");
  EXPECT_TRUE(std::regex_search(msg, date)) << msg;
  EXPECT_NE(make_message_id("x", m.date), make_message_id("x", m.date));
}

TEST(MailSettings, QuietHoursParseAndWrap) {
  auto q = QuietHours::parse("22:30-07:00");
  EXPECT_TRUE(q.contains(23 * 60));
  EXPECT_TRUE(q.contains(2 * 60));
  EXPECT_FALSE(q.contains(7 * 60));
  EXPECT_FALSE(q.contains(12 * 60));
  EXPECT_EQ(q.minutes_until_end(23 * 60), 8 * 60);
  EXPECT_EQ(q.minutes_until_end(12 * 60), 0);
  auto day = QuietHours::parse("12:00-13:00");
  EXPECT_TRUE(day.contains(12 * 60 + 59));
  EXPECT_FALSE(day.contains(13 * 60));
  for (const char* bad : {"22-07", "24:00-01:00", "10:00-10:00", "10:60-11:00", "aa:bb-cc:dd", "10:00"})
    EXPECT_THROW(QuietHours::parse(bad), std::invalid_argument) << bad;
}

TEST(MailSettings, SmtpAlertPrecedenceFollowsKeepalived) {
  MailSettings s;
  EXPECT_FALSE(s.alert_vrrp({}));
  s.smtp_alert = true;
  EXPECT_TRUE(s.alert_vrrp({}));
  EXPECT_TRUE(s.alert_checker({}));
  s.smtp_alert_checker = false;
  EXPECT_FALSE(s.alert_checker({}));
  EXPECT_TRUE(s.alert_checker(true));
  EXPECT_FALSE(s.alert_vrrp(false));
}

TEST(MailSettings, FinalizeRefusesWhatWouldBreakSmtp) {
  MailSettings s;
  s.smtp_server = "127.0.0.1";
  s.notification_email = {"oncall@example.com"};
  s.finalize();
  EXPECT_FALSE(s.smtp_helo_name.empty());
  EXPECT_NE(s.notification_email_from.find('@'), std::string::npos);

  auto bad = [](auto mutate) {
    MailSettings m;
    m.smtp_server = "127.0.0.1";
    m.notification_email = {"oncall@example.com"};
    mutate(m);
    EXPECT_THROW(m.finalize(), std::invalid_argument);
  };
  bad([](MailSettings& m) { m.notification_email.push_back("x@y>\r\nRCPT TO:<z@w"); });
  bad([](MailSettings& m) { m.notification_email_from = "no-at-sign"; });
  bad([](MailSettings& m) { m.smtp_auth_user = "u"; });  // no password file
  bad([](MailSettings& m) {
    m.smtp_auth_user = "u";
    m.smtp_password_file = "/etc/xlb/smtp.pass";  // but no TLS
  });
  bad([](MailSettings& m) { m.smtp_helo_name = "bad name"; });
}

TEST(PasswordFile, OnlyRootReadableFilesAreAccepted) {
  if (geteuid() != 0) GTEST_SKIP() << "a root-owned password file needs root";
  TempDir dir;
  auto good = dir.file("pass", "s3cret-密码\n", 0600);
  EXPECT_EQ(load_password_file(good.string()), "s3cret-密码");
  auto readable = dir.file("pass-644", "s3cret\n", 0644);
  try {
    load_password_file(readable.string());
    ADD_FAILURE() << "a 0644 password file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("chmod 600"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << "the password leaked into the error";
  }
  auto owned = dir.file("pass-nobody", "s3cret\n", 0600);
  ASSERT_EQ(::chown(owned.c_str(), 65534, 65534), 0);
  EXPECT_THROW(load_password_file(owned.string()), std::runtime_error);
  auto link = dir.path() / "pass-link";
  std::filesystem::create_symlink(good, link);
  EXPECT_THROW(load_password_file(link.string()), std::runtime_error);
  EXPECT_THROW(load_password_file((dir.path() / "missing").string()), std::runtime_error);
  auto two = dir.file("pass-two", "a\nb\n", 0600);
  EXPECT_THROW(load_password_file(two.string()), std::runtime_error);
}

TEST(Events, MailTextCarriesStateAndReason) {
  auto now = std::chrono::system_clock::now();
  std::vector<TimedEvent> one{{now, VrrpTransition{"VI_1", false, VrrpState::backup, VrrpState::master, 100, "peer lost"}}};
  auto m = compose_mail("lb1", one, 0, false);
  EXPECT_EQ(m.subject, "[lb1] VRRP Instance VI_1 - Entering MASTER state");
  EXPECT_NE(m.body.find("BACKUP -> MASTER, priority 100, reason: peer lost"), std::string::npos) << m.body;
  std::vector<TimedEvent> two = one;
  two.push_back({now, RealServerChange{"198.18.0.10:80 tcp", "198.18.1.1:80", "HTTP_GET", false, "status 503"}});
  auto d = compose_mail("lb1", two, 1, true);
  EXPECT_EQ(d.subject, "[lb1] 2 events, 1 fault(s) open: Realserver [198.18.1.1:80] of 198.18.0.10:80 tcp - DOWN");
  EXPECT_NE(d.body.find("Held during quiet hours"), std::string::npos);
  EXPECT_NE(d.body.find("checker HTTP_GET: status 503"), std::string::npos);
}

}  // namespace
}  // namespace xlb::notify
