// Notifier end to end: events in, notify scripts run and mails arrive at a real SMTP server.
#include "notify/notifier.hpp"

#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <sstream>

#include "smtp_sink.hpp"

namespace xlb::notify {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::run_until;
using test::slurp;
using test::SmtpSink;
using test::TempDir;
using TP = std::chrono::system_clock::time_point;

int utc_minute(TP t) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  return static_cast<int>((s / 60) % 1440);
}
TP at(int hh, int mm, int ss = 0) {  // 2026-11-25 UTC
  return TP(std::chrono::seconds(1795564800)) + std::chrono::hours(hh) + std::chrono::minutes(mm) +
         std::chrono::seconds(ss);
}

NotifierSettings settings_for(std::uint16_t port) {
  NotifierSettings s;
  s.mail.smtp_server = "127.0.0.1";
  s.mail.smtp_port = port;
  s.mail.notification_email = {"oncall@example.com"};
  s.mail.notification_email_from = "xlb@lb1.example";
  s.mail.router_id = "lb1";
  s.mail.smtp_alert = true;
  s.mail.smtp_connect_timeout = 5s;
  s.mail.retry_initial = 100ms;
  s.scripts.default_user = ScriptUser::lookup(getpwuid(geteuid())->pw_name);
  s.script_options.timeout = 5s;
  return s;
}

TEST(Notifier, FailoverRunsScriptsInOrderAndMailsTheTransition) {
  SmtpSink sink({});
  TempDir dir;
  auto log = dir.path() / "notify.log";
  auto script = dir.file("notify.sh", "#!/bin/sh\necho \"$*\" >> " + log.string() + "\n", 0755);
  asio::io_context io;
  Notifier n(io.get_executor(), settings_for(sink.port()));
  VrrpScripts scripts;
  scripts.notify = script.string();
  scripts.notify_master = script.string() + " master 'with space'";
  scripts.notify_backup = script.string() + " backup";
  n.vrrp_transition({"VI_1", false, VrrpState::init, VrrpState::backup, 100, "startup"}, scripts);
  n.vrrp_transition({"VI_1", false, VrrpState::backup, VrrpState::master, 100, "peer lost"}, scripts);
  n.vrrp_transition({"G1", true, VrrpState::backup, VrrpState::master, 0, "sync group"}, {.notify = script.string()});
  ASSERT_TRUE(run_until(io, [&] { return n.counters().mail.delivered == 3 && n.counters().scripts.succeeded == 5; }));

  std::string lines = slurp(log);
  // Per instance in order; the group's script has its own queue and may come anywhere.
  std::string instance_lines;
  std::istringstream in(lines);
  for (std::string l; std::getline(in, l);)
    if (l.rfind("GROUP", 0) != 0) instance_lines += l + "\n";
  EXPECT_EQ(instance_lines,
            "backup\nINSTANCE VI_1 BACKUP 100\nmaster with space\nINSTANCE VI_1 MASTER 100\n");
  EXPECT_NE(lines.find("GROUP G1 MASTER\n"), std::string::npos) << lines;

  auto msgs = sink.messages();
  ASSERT_EQ(msgs.size(), 3u);
  std::vector<std::string> subjects;
  for (auto& m : msgs) subjects.push_back(m["subject"]);
  EXPECT_NE(std::find(subjects.begin(), subjects.end(), "[lb1] VRRP Instance VI_1 - Entering MASTER state"),
            subjects.end());
  for (auto& m : msgs) {
    if (m["subject"] != "[lb1] VRRP Instance VI_1 - Entering MASTER state") continue;
    std::string body = m["body"];
    EXPECT_NE(body.find("BACKUP -> MASTER, priority 100, reason: peer lost"), std::string::npos) << body;
    EXPECT_EQ(m["from"], "xlb@lb1.example");
  }
}

TEST(Notifier, EachStateRunsItsScriptAndSplitBrainReachesTheGenericOne) {
  TempDir dir;
  auto log = dir.path() / "notify.log";
  auto script = dir.file("notify.sh", "#!/bin/sh\necho \"$*\" >> " + log.string() + "\n", 0755);
  asio::io_context io;
  auto s = settings_for(test::free_tcp_port());
  s.mail.smtp_alert = false;
  Notifier n(io.get_executor(), s);
  VrrpScripts scripts{script.string(), script.string() + " m", script.string() + " b", script.string() + " f",
                      script.string() + " s"};
  n.vrrp_transition({"VI_1", false, VrrpState::backup, VrrpState::fault, 90, "link down"}, scripts);
  n.vrrp_transition({"VI_1", false, VrrpState::fault, VrrpState::master, 100, "fault cleared"}, scripts);
  n.vrrp_transition({"VI_1", false, VrrpState::master, VrrpState::split_brain, 100, "split brain"}, scripts);
  n.vrrp_transition({"VI_1", false, VrrpState::master, VrrpState::stop, 0, "shutdown"}, scripts);
  ASSERT_TRUE(run_until(io, [&] { return n.counters().scripts.succeeded == 7; }));
  EXPECT_EQ(slurp(log),
            "f\nINSTANCE VI_1 FAULT 90\n"
            "m\nINSTANCE VI_1 MASTER 100\n"
            "INSTANCE VI_1 SPLIT_BRAIN 100\n"
            "s\nINSTANCE VI_1 STOP 0\n");
}

// Issue 29: a VIP withdrawn and announced again reaches notify_announce with its reason, and
// a mail under the VRRP rule.
TEST(Notifier, AnnounceChangesRunTheScriptAndMailTheReason) {
  SmtpSink sink({});
  TempDir dir;
  auto log = dir.path() / "announce.log";
  auto script = dir.file("announce.sh", "#!/bin/sh\necho \"$*\" >> " + log.string() + "\n", 0755);
  asio::io_context io;
  Notifier n(io.get_executor(), settings_for(sink.port()));
  // The state at start: the script learns why the VIP is not out yet; nothing to mail.
  n.announce_change({"198.18.0.10", false, "checks_pending", true}, script.string());
  ASSERT_TRUE(run_until(io, [&] { return n.counters().scripts.succeeded == 1; }));
  n.announce_change({"198.18.0.10", false, "no_usable_real"}, script.string());
  n.announce_change({"198.18.0.10", true, "announced"}, script.string() + " extra");
  ASSERT_TRUE(run_until(io, [&] { return n.counters().mail.delivered == 2 && n.counters().scripts.succeeded == 3; }));
  EXPECT_EQ(slurp(log), "ANNOUNCE 198.18.0.10 WITHDRAWN checks_pending\nANNOUNCE 198.18.0.10 WITHDRAWN no_usable_real\n"
                        "extra ANNOUNCE 198.18.0.10 ANNOUNCED announced\n");
  EXPECT_EQ(sink.messages().size(), 2u) << "the initial state was mailed";
  std::vector<std::string> subjects;
  for (auto& m : sink.messages()) subjects.push_back(m["subject"]);
  EXPECT_NE(std::find(subjects.begin(), subjects.end(), "[lb1] VIP 198.18.0.10 - WITHDRAWN (no_usable_real)"),
            subjects.end());
  EXPECT_NE(std::find(subjects.begin(), subjects.end(), "[lb1] VIP 198.18.0.10 - ANNOUNCED"), subjects.end());
}

// A script string that cannot be split runs nothing, for every kind of event, and is counted;
// a good script beside it still runs.
TEST(Notifier, UnsplittableScriptsAreCountedAndNotRun) {
  TempDir dir;
  auto log = dir.path() / "ran.log";
  auto script = dir.file("ran.sh", "#!/bin/sh\necho \"$*\" >> " + log.string() + "\n", 0755);
  const std::string unbalanced = script.string() + " 'unterminated";
  asio::io_context io;
  Notifier n(io.get_executor(), settings_for(0));
  n.vrrp_transition({"VI_1", false, VrrpState::backup, VrrpState::master, 100, "peer lost"},
                    {.notify = script.string(), .notify_master = unbalanced}, false);
  n.real_server_change({"198.18.0.10:80 tcp", "198.18.1.1:80", "HTTP_GET", false, "refused"}, unbalanced, false);
  n.quorum_change({"198.18.0.10:80 tcp", true, 0, 1}, unbalanced, false);
  n.announce_change({"198.18.0.10", false, "no_usable_real"}, unbalanced);
  ASSERT_TRUE(run_until(io, [&] { return n.counters().scripts.succeeded == 1; }));
  EXPECT_EQ(n.counters().scripts_invalid, 4u);
  EXPECT_EQ(slurp(log), "INSTANCE VI_1 MASTER 100\n");
}

TEST(Notifier, SmtpAlertOffRunsScriptsButSendsNoMail) {
  SmtpSink sink({});
  asio::io_context io;
  auto s = settings_for(sink.port());
  s.mail.smtp_alert = false;
  Notifier n(io.get_executor(), s);
  n.vrrp_transition({"VI_1", false, VrrpState::backup, VrrpState::master, 100, "peer lost"}, {.notify = "/bin/true"});
  n.real_server_change({"198.18.0.10:80 tcp", "198.18.1.1:80", "TCP_CHECK", false, "refused"}, "/bin/true", true);
  ASSERT_TRUE(run_until(io, [&] { return n.counters().mail.delivered == 1 && n.counters().scripts.succeeded == 2; }));
  auto msgs = sink.messages();
  ASSERT_EQ(msgs.size(), 1u);  // only the virtual server with smtp_alert on
  EXPECT_EQ(msgs[0]["subject"], "[lb1] Realserver [198.18.1.1:80] of 198.18.0.10:80 tcp - DOWN");
}

TEST(Notifier, DigestWindowAndQuietHoursWithInjectedClock) {
  SmtpSink sink({});
  asio::io_context io;
  TP now = at(12, 0);
  auto s = settings_for(sink.port());
  s.mail.smtp_digest_window = 60s;
  s.mail.smtp_quiet_hours = QuietHours::parse("22:00-07:00");
  Notifier n(io.get_executor(), s, [&] { return now; }, utc_minute);

  // Daytime: three transitions within a minute make one mail.
  n.vrrp_transition({"VI_1", false, VrrpState::backup, VrrpState::master, 100, "peer lost"}, {});
  now = at(12, 0, 20);
  n.vrrp_transition({"VI_1", false, VrrpState::master, VrrpState::backup, 100, "higher priority seen"}, {});
  now = at(12, 0, 40);
  n.vrrp_transition({"VI_1", false, VrrpState::backup, VrrpState::master, 100, "peer lost"}, {});
  n.flush_due();
  EXPECT_EQ(n.counters().mails_composed, 0u);
  now = at(12, 1, 0);
  n.flush_due();
  ASSERT_TRUE(run_until(io, [&] { return n.counters().mail.delivered == 1; }));
  {
    auto msgs = sink.messages();
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0]["subject"], "[lb1] 3 events: VRRP Instance VI_1 - Entering MASTER state");
    std::string body = msgs[0]["body"];
    EXPECT_NE(body.find("reason: higher priority seen"), std::string::npos);
  }

  // 2 a.m.: a failover that worked is held until 07:00 and arrives as one digest.
  now = at(26, 0);
  n.vrrp_transition({"VI_1", false, VrrpState::backup, VrrpState::master, 100, "peer lost"}, {});
  now = at(26, 0, 5);
  n.real_server_change({"198.18.0.10:80 tcp", "198.18.1.1:80", "HTTP_GET", false, "status 503"});
  now = at(26, 0, 30);
  n.real_server_change({"198.18.0.10:80 tcp", "198.18.1.1:80", "HTTP_GET", true, "status 200"});
  now = at(26, 30);
  n.flush_due();
  now = at(30, 59);
  n.flush_due();
  EXPECT_EQ(n.counters().mails_composed, 1u);
  EXPECT_EQ(n.counters().events_held, 3u);
  now = at(31, 0);
  n.flush_due();
  ASSERT_TRUE(run_until(io, [&] { return n.counters().mail.delivered == 2; }));
  {
    auto msgs = sink.messages();
    ASSERT_EQ(msgs.size(), 2u);
    std::string body = msgs[1]["body"];
    EXPECT_NE(body.find("Held during quiet hours"), std::string::npos) << body;
    EXPECT_NE(body.find("status 503"), std::string::npos);
  }

  // 3 a.m. next night: a real server goes down and stays down: mailed after the window.
  now = at(51, 0);
  n.real_server_change({"198.18.0.10:80 tcp", "198.18.1.2:80", "TCP_CHECK", false, "connection refused"});
  now = at(51, 1);
  n.flush_due();
  ASSERT_TRUE(run_until(io, [&] { return n.counters().mail.delivered == 3; }));
  auto msgs = sink.messages();
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[2]["subject"], "[lb1] Realserver [198.18.1.2:80] of 198.18.0.10:80 tcp - DOWN");
  EXPECT_NE(msgs[2]["body"].get<std::string>().find("1 fault(s) still open"), std::string::npos);
}

TEST(Notifier, StartTlsAuthWithPasswordFile) {
  if (geteuid() != 0) GTEST_SKIP() << "a root-owned password file needs root";
  test::TestCert cert;
  SmtpSink sink({.tls = "starttls", .auth = "alerts:s3cret", .cert = &cert});
  TempDir dir;
  auto pass = dir.file("smtp.pass", "s3cret\n", 0600);
  asio::io_context io;
  auto s = settings_for(sink.port());
  s.mail.smtp_tls = TlsMode::starttls;
  s.mail.smtp_tls_ca_file = cert.cert().string();
  s.mail.smtp_auth_user = "alerts";
  s.mail.smtp_password_file = pass.string();
  Notifier n(io.get_executor(), s);
  n.quorum_change({"198.18.0.10:80 tcp", true, 0, 2});
  ASSERT_TRUE(run_until(io, [&] { return n.counters().mail.delivered == 1; }));
  auto msgs = sink.messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_TRUE(msgs[0]["tls"].get<bool>());
  EXPECT_EQ(msgs[0]["auth"], "alerts");
  EXPECT_EQ(msgs[0]["subject"], "[lb1] Virtual server 198.18.0.10:80 tcp - quorum lost");

  std::filesystem::permissions(pass, std::filesystem::perms(0640));
  EXPECT_THROW(Notifier(io.get_executor(), s), std::runtime_error);
}

}  // namespace
}  // namespace xlb::notify
