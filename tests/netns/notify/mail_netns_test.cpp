// Mail delivery across a real link: the test moves itself into a fresh network namespace
// (gone with the process), the SMTP server (aiosmtpd) runs in a second namespace behind a veth
// pair on 198.18.77.0/24. The link is then cut, or the server's packets silently dropped, and
// mail must queue without blocking the io_context and arrive once the path is back.
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <random>

#include "notify/mailer.hpp"
#include "notify/notifier.hpp"
#include "smtp_sink.hpp"

namespace xlb::notify {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::run_until;
using test::SmtpSink;

int sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

class Lab {
 public:
  Lab() {
    std::random_device rd;
    char buf[16];
    std::snprintf(buf, sizeof buf, "%06x", (rd() ^ static_cast<unsigned>(::getpid())) & 0xffffff);
    sfx_ = buf;
    ns_ = "xlbsmtp" + sfx_;
    client_if_ = "xc" + sfx_;
    server_if_ = "xs" + sfx_;
  }
  void up() {
    // This process now lives in a namespace of its own; everything below is inside it or in ns_.
    if (::unshare(CLONE_NEWNET) != 0) throw std::runtime_error("unshare(CLONE_NEWNET) failed");
    check("ip link set lo up");
    check("ip netns add " + ns_);
    created_ = true;
    check("ip link add " + client_if_ + " type veth peer name " + server_if_ + " netns " + ns_);
    check("ip addr add 198.18.77.1/24 dev " + client_if_);
    check("ip link set " + client_if_ + " up");
    check("ip -n " + ns_ + " link set lo up");
    check("ip -n " + ns_ + " addr add 198.18.77.2/24 dev " + server_if_);
    check("ip -n " + ns_ + " link set " + server_if_ + " up");
  }
  ~Lab() {
    if (created_) sh("ip netns del " + ns_);
  }
  const std::string& ns() const { return ns_; }
  const std::string& client_if() const { return client_if_; }
  const std::string& server_if() const { return server_if_; }
  static void check(const std::string& cmd) {
    if (sh(cmd) != 0) throw std::runtime_error("lab command failed: " + cmd);
  }

 private:
  std::string sfx_, ns_, client_if_, server_if_;
  bool created_ = false;
};

class MailNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
    if (sh("ip -V") != 0) GTEST_SKIP() << "iproute2 is not installed";
    lab_.up();
  }
  Lab lab_;
};

MailSettings settings_for(std::uint16_t port) {
  MailSettings s;
  s.smtp_server = "198.18.77.2";
  s.smtp_port = port;
  s.notification_email = {"oncall@example.com"};
  s.notification_email_from = "xlb@lb1.example";
  s.router_id = "lb1";
  s.smtp_alert = true;
  s.smtp_connect_timeout = 1s;
  s.retry_initial = 200ms;
  s.retry_max = 500ms;
  s.max_attempts = 100;
  return s;
}

// Counts 10 ms ticks while the test runs: a blocked io_context would stop counting.
struct Ticker {
  explicit Ticker(asio::io_context& io) : timer(io) { arm(); }
  void arm() {
    timer.expires_after(10ms);
    timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      ++ticks;
      arm();
    });
  }
  asio::steady_timer timer;
  int ticks = 0;
};

TEST_F(MailNetns, FailoverMailCrossesTheLink) {
  SmtpSink sink({.host = "198.18.77.2", .prefix = {"ip", "netns", "exec", lab_.ns()}});
  asio::io_context io;
  NotifierSettings ns;
  ns.mail = settings_for(sink.port());
  Notifier n(io.get_executor(), ns);
  n.vrrp_transition({"VI_1", false, VrrpState::backup, VrrpState::master, 150, "peer lost"}, {});
  ASSERT_TRUE(run_until(io, [&] { return n.counters().mail.delivered == 1; }));
  auto msgs = sink.messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0]["subject"], "[lb1] VRRP Instance VI_1 - Entering MASTER state");
  EXPECT_NE(msgs[0]["body"].get<std::string>().find("BACKUP -> MASTER, priority 150, reason: peer lost"),
            std::string::npos);
}

TEST_F(MailNetns, SilentlyDroppedServerThenBack) {
  SmtpSink sink({.host = "198.18.77.2", .prefix = {"ip", "netns", "exec", lab_.ns()}});
  // SYNs must vanish without an answer, so that only the connect timeout ends an attempt: the
  // client keeps sending to the server's MAC (a permanent neighbour entry) while the server no
  // longer owns the address, and a host that does not forward drops such packets silently.
  std::string mac;
  {
    std::string cmd = "ip -n " + lab_.ns() + " -br link show " + lab_.server_if() + " | awk '{print $3}'";
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[64] = {};
    if (p && std::fgets(buf, sizeof buf, p)) mac = buf;
    if (p) ::pclose(p);
    while (!mac.empty() && (mac.back() == '\n' || mac.back() == ' ')) mac.pop_back();
  }
  ASSERT_EQ(mac.size(), 17u) << "could not read the server's MAC: '" << mac << "'";
  Lab::check("ip neigh replace 198.18.77.2 lladdr " + mac + " dev " + lab_.client_if() + " nud permanent");
  Lab::check("ip netns exec " + lab_.ns() + " sysctl -qw net.ipv4.ip_forward=0");
  Lab::check("ip -n " + lab_.ns() + " addr del 198.18.77.2/24 dev " + lab_.server_if());
  asio::io_context io;
  Ticker ticker(io);
  Mailer mailer(io.get_executor(), settings_for(sink.port()));
  mailer.submit({"while dropped", "body\n"});
  ASSERT_TRUE(run_until(io, [&] { return mailer.counters().retries >= 2; }));
  EXPECT_EQ(mailer.counters().delivered, 0u);
  EXPECT_GT(ticker.ticks, 100) << "the io_context stalled while connecting";
  Lab::check("ip -n " + lab_.ns() + " addr add 198.18.77.2/24 dev " + lab_.server_if());
  ASSERT_TRUE(run_until(io, [&] { return mailer.counters().delivered == 1; }));
  ASSERT_EQ(sink.messages().size(), 1u);
  EXPECT_EQ(sink.messages()[0]["subject"], "while dropped");
}

TEST_F(MailNetns, LinkDownThenUp) {
  SmtpSink sink({.host = "198.18.77.2", .prefix = {"ip", "netns", "exec", lab_.ns()}});
  Lab::check("ip link set " + lab_.client_if() + " down");
  asio::io_context io;
  Mailer mailer(io.get_executor(), settings_for(sink.port()));
  mailer.submit({"first", "1\n"});
  mailer.submit({"second", "2\n"});
  ASSERT_TRUE(run_until(io, [&] { return mailer.counters().retries >= 2; }));
  EXPECT_EQ(mailer.counters().delivered, 0u);
  Lab::check("ip link set " + lab_.client_if() + " up");
  Lab::check("ip addr replace 198.18.77.1/24 dev " + lab_.client_if());
  ASSERT_TRUE(run_until(io, [&] { return mailer.counters().delivered == 2; }));
  auto msgs = sink.messages();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0]["subject"], "first");
  EXPECT_EQ(msgs[1]["subject"], "second");
}

}  // namespace
}  // namespace xlb::notify
