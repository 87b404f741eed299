// Health checks across a veth between two namespaces this test creates: the monitor runs in
// namespace A, real servers (python3 http.server, openssl s_server, a DNS responder, a UDP
// listener) and ping targets (IPv4 and IPv6) live in namespace B. Every server dies or the
// link goes down, and the verdicts must follow within delay_loop + retry x delay_before_retry
// (+ the probe's own timeout); then everything comes back.
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>

#include "ctrl/check/health_monitor.hpp"
#include "tests/unit/check/test_support.hpp"

namespace xlb::check {
namespace {

namespace asio = boost::asio;
using test::ChildProcess;

int run_command(const std::vector<std::string>& argv) {
  pid_t pid = test::spawn(argv);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char* dns_responder_py = R"(
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    q, a = s.recvfrom(512)
    r = bytearray(q); r[2] |= 0x80; r[3] = 0x80; r[7] = 1
    r += bytes([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 53])
    s.sendto(bytes(r), a)
)";

const char* udp_listener_py = R"(
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
time.sleep(3600)
)";

// Two namespaces joined by a veth; this thread lives in A while the lab exists.
class Lab {
 public:
  Lab() {
    std::random_device rd;
    suffix_ = std::to_string(::getpid()) + "-" + std::to_string(rd() % 100000);
    a_ = "xck-a-" + suffix_;
    b_ = "xck-b-" + suffix_;
    dir_ = std::filesystem::temp_directory_path() / ("xlb-check-netns-" + suffix_);
    std::filesystem::create_directories(dir_);
    home_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    must({"ip", "netns", "add", a_});
    must({"ip", "netns", "add", b_});
    must({"ip", "-n", a_, "link", "add", "veth-a", "type", "veth", "peer", "name", "veth-b", "netns", b_});
    for (const auto& [ns, dev, v4, v6] :
         {std::tuple{a_, "veth-a", "198.18.100.1/24", "2001:db8:100::1/64"},
          std::tuple{b_, "veth-b", "198.18.100.2/24", "2001:db8:100::2/64"}}) {
      must({"ip", "-n", ns, "link", "set", "lo", "up"});
      // The test takes veth-b down and up again; its IPv6 address must survive that.
      must({"ip", "netns", "exec", ns, "sysctl", "-qw",
            std::string("net.ipv6.conf.") + dev + ".keep_addr_on_down=1"});
      must({"ip", "-n", ns, "addr", "add", v4, "dev", dev});
      must({"ip", "-n", ns, "addr", "add", v6, "dev", dev, "nodad"});
      must({"ip", "-n", ns, "link", "set", dev, "up"});
    }
    int fd = ::open(("/run/netns/" + a_).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) throw std::runtime_error("setns into " + a_);
    ::close(fd);
  }
  ~Lab() {
    servers_.clear();
    if (home_ >= 0) {
      ::setns(home_, CLONE_NEWNET);
      ::close(home_);
    }
    run_command({"ip", "netns", "del", a_});
    run_command({"ip", "netns", "del", b_});
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void must(const std::vector<std::string>& argv) {
    if (run_command(argv) != 0) {
      std::string line;
      for (const auto& a : argv) line += a + " ";
      throw std::runtime_error("command failed: " + line);
    }
  }
  void start_in_b(const std::string& name, std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"ip", "netns", "exec", b_});
    servers_[name] = std::make_unique<ChildProcess>(argv);
  }
  void stop(const std::string& name) { servers_.erase(name); }
  const std::string& b() const { return b_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::string suffix_, a_, b_;
  std::filesystem::path dir_;
  int home_ = -1;
  std::map<std::string, std::unique_ptr<ChildProcess>> servers_;
};

const IpAddress rs4 = asio::ip::make_address("198.18.100.2");
const IpAddress rs6 = asio::ip::make_address("2001:db8:100::2");

class NetnsChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
    lab_ = std::make_unique<Lab>();
    auto cert = (lab_->dir() / "cert.pem").string(), key = (lab_->dir() / "key.pem").string();
    lab_->must({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=rs.example.test"});
    servers_ = {
        {"http", {"/usr/bin/python3", "-m", "http.server", "8080", "--bind", "198.18.100.2",
                  "--directory", lab_->dir().string()}},
        {"tls", {"openssl", "s_server", "-accept", "198.18.100.2:8443", "-cert", cert, "-key", key,
                 "-www", "-quiet"}},
        {"dns", {"/usr/bin/python3", "-c", dns_responder_py, "198.18.100.2", "5353"}},
        {"udp", {"/usr/bin/python3", "-c", udp_listener_py, "198.18.100.2", "5354"}},
    };
    for (const auto& [name, argv] : servers_) lab_->start_in_b(name, argv);
  }

  RealSettings real(IpAddress ip, std::uint16_t port, CheckKind kind) {
    RealSettings r;
    r.address = ip;
    r.port = port;
    CheckSettings c;
    c.kind = kind;
    c.connect_timeout = Millis{500};
    c.retry = 1;
    c.delay_before_retry = Millis{300};
    if (kind == CheckKind::http_get || kind == CheckKind::ssl_get) c.urls.push_back(UrlSettings{"/", {}, {}});
    if (kind == CheckKind::ssl_get) c.virtualhost = "rs.example.test";
    if (kind == CheckKind::dns) {
      c.dns_type = "A";
      c.dns_name = "www.example.test";
    }
    r.checks.push_back(c);
    return r;
  }

  // Waits for the real at `index` to reach `up`; returns the time it took.
  Millis wait_for(HealthMonitor& monitor, std::size_t index, bool up) {
    auto start = std::chrono::steady_clock::now();
    bool ok = test::run_until(
        io_, [&] { return monitor.snapshot().at(0).reals.at(index).up == up; }, std::chrono::seconds(30));
    EXPECT_TRUE(ok) << "real " << index << " never became " << (up ? "up" : "down") << ": "
                    << monitor.snapshot().at(0).reals.at(index).checks.at(0).status.last_error;
    return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start);
  }

  asio::io_context io_;
  std::unique_ptr<Lab> lab_;
  std::map<std::string, std::vector<std::string>> servers_;
};

TEST_F(NetnsChecks, EveryKindFollowsItsServer) {
  VirtualServerSettings vs;
  vs.name = "lab";
  vs.spec.key = {asio::ip::make_address("198.18.0.100"), 80};
  vs.delay_loop = Millis{500};
  vs.alpha = true;  // everything starts down and has to prove itself
  vs.reals = {real(rs4, 8080, CheckKind::http_get), real(rs4, 8443, CheckKind::ssl_get),
              real(rs4, 5353, CheckKind::dns),      real(rs4, 5354, CheckKind::udp),
              real(rs4, 0, CheckKind::ping),        real(rs6, 0, CheckKind::ping)};
  const char* names[] = {"http", "tls", "dns", "udp", "ping4", "ping6"};
  std::vector<std::string> flushed;
  MonitorHooks hooks;
  hooks.flush_flows_to = [&](const dataplane::ServiceKey&, const IpAddress& ip) { flushed.push_back(ip.to_string()); };
  HealthMonitor monitor(io_.get_executor(), hooks);
  monitor.start({vs});
  for (std::size_t i = 0; i < vs.reals.size(); ++i) {
    auto t = wait_for(monitor, i, true);
    std::cout << names[i] << " up after " << t.count() << " ms\n";
  }
  ASSERT_EQ(monitor.specs().at(0).reals.size(), vs.reals.size());

  // Bound for a refused/unreachable probe: delay_loop + retry x delay_before_retry, plus
  // the probe itself (at most connect_timeout per attempt).
  const std::string servers[] = {"http", "tls", "dns", "udp"};
  for (std::size_t i = 0; i < 4; ++i) {
    lab_->stop(servers[i]);
    auto t = wait_for(monitor, i, false);
    std::cout << servers[i] << " server killed: down after " << t.count()
              << " ms (bound 800 + 2 x 500)\n";
    EXPECT_EQ(monitor.specs().at(0).reals.size(), vs.reals.size() - i - 1);
  }
  EXPECT_FALSE(flushed.empty());

  lab_->must({"ip", "-n", lab_->b(), "link", "set", "veth-b", "down"});
  for (std::size_t i = 4; i < 6; ++i) {
    auto t = wait_for(monitor, i, false);
    std::cout << names[i] << " link down: down after " << t.count() << " ms\n";
  }
  // keepalived's UDP_CHECK counts silence as up (only an ICMP error is down), so with the
  // link down the UDP real may come back; nothing else may stay.
  for (const auto& r : monitor.specs().at(0).reals) EXPECT_EQ(r.port, 5354) << r.address;

  lab_->must({"ip", "-n", lab_->b(), "link", "set", "veth-b", "up"});
  // Servers restart once the link works again (ping back up): openssl s_server serves one
  // connection at a time, and a half-open connection left by the link flap would wedge it.
  for (std::size_t i = 4; i < 6; ++i) {
    auto t = wait_for(monitor, i, true);
    std::cout << names[i] << " link up: up after " << t.count() << " ms\n";
  }
  for (const auto& name : servers) lab_->start_in_b(name, servers_[name]);
  for (std::size_t i = 0; i < 4; ++i) {
    auto t = wait_for(monitor, i, true);
    std::cout << names[i] << " restarted: up after " << t.count() << " ms\n";
  }
  EXPECT_EQ(monitor.specs().at(0).reals.size(), vs.reals.size());
}

}  // namespace
}  // namespace xlb::check
