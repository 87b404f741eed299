// The listeners under a hostile or careless client (issue 27, item 1): connection caps that
// make room by closing the longest-waiting connection, idle and request timeouts, a reserve of
// descriptors listeners leave alone, and accept loops that outlive EMFILE.
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ctrl/api/accept_loop.hpp"
#include "ctrl/api/connection_table.hpp"
#include "ctrl/api/control_server.hpp"
#include "ctrl/api/descriptor_budget.hpp"
#include "ctrl/api/metrics_server.hpp"

namespace xlb::api {
namespace {

using namespace std::chrono_literals;

// ---- the pure parts

TEST(ConnectionTable, AtTheCapTheConnectionWaitingLongestMakesRoom) {
  ConnectionTable table("t", {.max_connections = 3}, DescriptorBudget(1024, 256));
  std::vector<int> closed;
  std::vector<ConnectionTable::Slot> slots;
  for (int i = 0; i < 3; ++i) {
    auto admitted = table.admit(10 + i);
    ASSERT_TRUE(std::holds_alternative<ConnectionTable::Slot>(admitted));
    slots.push_back(std::move(std::get<ConnectionTable::Slot>(admitted)));
    slots.back().on_evict([&closed, i] { closed.push_back(i); });
  }
  ASSERT_TRUE(slots[1].waiting());  // waiting since turn 1
  ASSERT_TRUE(slots[0].waiting());  // since turn 2
  slots[2].busy();                  // answering: never evicted
  auto fourth = table.admit(13);
  ASSERT_TRUE(std::holds_alternative<ConnectionTable::Slot>(fourth));
  EXPECT_EQ(closed, std::vector<int>{1});
  EXPECT_EQ(table.counters().evicted, 1u);
  EXPECT_EQ(table.size(), 3u);
}

TEST(ConnectionTable, RefusesWhenEveryConnectionIsBusy) {
  ConnectionTable table("t", {.max_connections = 2}, DescriptorBudget(1024, 256));
  auto a = table.admit(10);
  auto b = table.admit(11);
  // Admitted but not yet waiting (their coroutines have not run): not evictable either.
  auto c = table.admit(12);
  ASSERT_TRUE(std::holds_alternative<ConnectionTable::Refusal>(c));
  EXPECT_EQ(std::get<ConnectionTable::Refusal>(c), ConnectionTable::Refusal::cap);
  EXPECT_EQ(table.counters().rejected_cap, 1u);
  EXPECT_EQ(table.counters().accepted, 2u);
}

TEST(ConnectionTable, ASlotGivesItsPlaceBackWhenItEnds) {
  ConnectionTable table("t", {.max_connections = 1}, DescriptorBudget(1024, 256));
  {
    auto a = table.admit(10);
    EXPECT_EQ(table.size(), 1u);
  }
  EXPECT_EQ(table.size(), 0u);
  EXPECT_TRUE(std::holds_alternative<ConnectionTable::Slot>(table.admit(10)));
}

TEST(ConnectionTable, ListenersLeaveTheLastDescriptorsToTheRest) {
  ConnectionTable table("t", {.max_connections = 100}, DescriptorBudget(100, 25));
  EXPECT_TRUE(std::holds_alternative<ConnectionTable::Slot>(table.admit(74)));
  auto refused = table.admit(75);
  ASSERT_TRUE(std::holds_alternative<ConnectionTable::Refusal>(refused));
  EXPECT_EQ(std::get<ConnectionTable::Refusal>(refused), ConnectionTable::Refusal::descriptors);
  EXPECT_EQ(table.counters().rejected_descriptors, 1u);
}

TEST(ConnectionTable, GoingAwayClosesWaitingConnectionsAndLetsBusyOnesFinish) {
  std::vector<int> closed;
  std::optional<ConnectionTable::Slot> waiting, busy;
  {
    ConnectionTable table("t", {.max_connections = 4}, DescriptorBudget(1024, 256));
    waiting.emplace(std::move(std::get<ConnectionTable::Slot>(table.admit(10))));
    busy.emplace(std::move(std::get<ConnectionTable::Slot>(table.admit(11))));
    waiting->on_evict([&] { closed.push_back(0); });
    busy->on_evict([&] { closed.push_back(1); });
    ASSERT_TRUE(waiting->waiting());
    busy->busy();
  }
  EXPECT_EQ(closed, std::vector<int>{0});
  EXPECT_FALSE(busy->waiting()) << "after its reply, a connection of a closed listener ends";
}

TEST(AcceptBackoff, DoublesToASecondAndStartsOverAfterASuccess) {
  AcceptBackoff b;
  EXPECT_EQ(b.next(), 10ms);
  EXPECT_EQ(b.next(), 20ms);
  for (int i = 0; i < 10; ++i) b.next();
  EXPECT_EQ(b.next(), 1000ms);
  b.reset();
  EXPECT_EQ(b.next(), 10ms);
}

class SoftLimit {
 public:
  explicit SoftLimit(rlim_t soft) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit r = saved_;
    r.rlim_cur = soft;
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
  ~SoftLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }

 private:
  rlimit saved_{};
};

TEST(DescriptorBudget, RaisesTheSoftLimitToTheHardOne) {
  rlimit r{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &r), 0);
  if (r.rlim_max < 256) GTEST_SKIP() << "hard limit " << r.rlim_max;
  const SoftLimit low(128);
  EXPECT_EQ(DescriptorBudget::current().limit(), 128u);
  const auto raised = DescriptorBudget::raise_to_hard_limit();
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &r), 0);
  EXPECT_EQ(r.rlim_cur, r.rlim_max);
  EXPECT_EQ(raised.reserve(), raised.limit() / 4);
}

// ---- over real sockets

int connect_unix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int connect_tcp(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// What the peer sent until it closed, or until `limit`; `eof` says whether it closed.
std::string read_until_closed(int fd, std::chrono::milliseconds limit, bool* eof = nullptr) {
  std::string out;
  const auto until = std::chrono::steady_clock::now() + limit;
  if (eof) *eof = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return out;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return out;
    char buffer[4096];
    const auto n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      if (eof) *eof = true;
      return out;
    }
    out.append(buffer, static_cast<std::size_t>(n));
  }
}

// One reply line, or what came before the peer closed or `limit` passed.
std::string read_line(int fd, std::chrono::milliseconds limit) {
  std::string out;
  const auto until = std::chrono::steady_clock::now() + limit;
  while (out.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buffer[4096];
    const auto n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

bool closed_within(int fd, std::chrono::milliseconds limit) {
  bool eof = false;
  read_until_closed(fd, limit, &eof);
  return eof;
}

void send_all(int fd, const std::string& data) {
  ASSERT_EQ(::send(fd, data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size()));
}

struct ControlFixture : ::testing::Test {
  void start(ListenerLimits limits, DescriptorBudget budget = DescriptorBudget::current()) {
    server.emplace(io, ControlSocketOptions{.path = path, .group = "", .limits = limits}, budget);
    server->add("ping", [](const Json&) { return Json("pong"); });
    server->start();
    runner = std::thread([this] { io.run(); });
  }
  void stop() {
    io.stop();
    if (runner.joinable()) runner.join();
  }
  ~ControlFixture() override {
    stop();
    for (int fd : clients) ::close(fd);
  }
  std::string path = (std::filesystem::temp_directory_path() / ("xlb-listener-" + std::to_string(::getpid()) + ".sock")).string();
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::optional<ControlServer> server;
  std::thread runner;
  std::vector<int> clients;
};

TEST_F(ControlFixture, IdleConnectionsAreClosedAfterTheIdleTimeout) {
  start({.max_connections = 8, .idle_timeout = 200ms, .request_timeout = 5s});
  const int idle = connect_unix(path);
  clients.push_back(idle);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(closed_within(idle, 3s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);
  // A client that asks in time is served, and is closed the same way once idle afterwards.
  const int active = connect_unix(path);
  clients.push_back(active);
  send_all(active, "{\"command\":\"ping\"}\n");
  bool eof = false;
  EXPECT_NE(read_until_closed(active, 3s, &eof).find("pong"), std::string::npos);
  EXPECT_TRUE(eof);
  stop();
  EXPECT_EQ(server->connections().counters().idle_timeouts, 2u);
}

TEST_F(ControlFixture, ARequestTrickledSlowerThanTheRequestTimeoutIsCut) {
  start({.max_connections = 8, .idle_timeout = 10s, .request_timeout = 300ms});
  const int slow = connect_unix(path);
  clients.push_back(slow);
  send_all(slow, "{\"comm");
  std::this_thread::sleep_for(100ms);
  send_all(slow, "and\":");
  EXPECT_TRUE(closed_within(slow, 3s));
  stop();
  EXPECT_EQ(server->connections().counters().request_timeouts, 1u);
}

TEST_F(ControlFixture, AFloodOfIdleConnectionsDoesNotLockOutTheOperator) {
  start({.max_connections = 4, .idle_timeout = 60s, .request_timeout = 5s});
  for (int i = 0; i < 40; ++i) {
    const int fd = connect_unix(path);
    ASSERT_GE(fd, 0);
    clients.push_back(fd);
  }
  std::this_thread::sleep_for(200ms);
  const Json reply = control_request(path, "ping", Json::object());
  EXPECT_EQ(reply["result"], "pong");
  // The flood's oldest connections were closed to make room.
  EXPECT_TRUE(closed_within(clients.front(), 1s));
  stop();
  EXPECT_GE(server->connections().counters().evicted, 36u);
  EXPECT_LE(server->connections().size(), 4u);
}

TEST_F(ControlFixture, AConnectionPastTheDescriptorReserveIsRefusedWithAReason) {
  start({}, DescriptorBudget(8, 8));  // every descriptor number is inside the reserve
  const int fd = connect_unix(path);
  clients.push_back(fd);
  bool eof = false;
  const auto said = read_until_closed(fd, 3s, &eof);
  EXPECT_TRUE(eof);
  EXPECT_NE(said.find("short of file descriptors"), std::string::npos) << said;
  stop();
  EXPECT_EQ(server->connections().counters().rejected_descriptors, 1u);
}

// Issue 27: at EMFILE the accept loop ended ("control socket stopped: Too many open files")
// and the control socket stayed dead after the descriptors came back.
TEST_F(ControlFixture, TheAcceptLoopOutlivesEmfile) {
  start({});
  std::vector<int> filler;
  {
    const SoftLimit low(256);
    while (true) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) break;
      filler.push_back(fd);
    }
    ASSERT_FALSE(filler.empty());
    ::close(filler.back());  // room for the client's own socket, none for the server's
    filler.pop_back();
    const int client = connect_unix(path);
    ASSERT_GE(client, 0);
    clients.push_back(client);
    send_all(client, "{\"command\":\"ping\"}\n");
    std::this_thread::sleep_for(300ms);  // accept() fails with EMFILE meanwhile, several times
    for (int fd : filler) ::close(fd);
  }
  EXPECT_NE(read_line(clients.back(), 5s).find("pong"), std::string::npos);
  EXPECT_EQ(control_request(path, "ping", Json::object())["result"], "pong");
  stop();
  EXPECT_GE(server->connections().counters().accept_errors, 2u);
}

TEST(MetricsListener, AFloodOfIdleConnectionsLeavesRoomForTheScrapeAndTimesOut) {
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  MetricsServer server(io, "127.0.0.1", 0, [] { return std::string("xlb_up 1\n"); },
                       {.max_connections = 2, .idle_timeout = 500ms, .request_timeout = 300ms});
  server.start();
  std::thread runner([&] { io.run(); });
  std::vector<int> flood;
  for (int i = 0; i < 10; ++i) flood.push_back(connect_tcp(server.port()));
  const int slowloris = connect_tcp(server.port());
  send_all(slowloris, "GET /metrics HTTP/1.1\r\nHost: x\r\n");  // the header never ends
  std::this_thread::sleep_for(100ms);
  const int scrape = connect_tcp(server.port());
  send_all(scrape, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
  EXPECT_NE(read_until_closed(scrape, 3s).find("xlb_up 1"), std::string::npos);
  EXPECT_TRUE(closed_within(slowloris, 3s));
  EXPECT_TRUE(closed_within(flood.back(), 3s));
  io.stop();
  runner.join();
  for (int fd : flood) ::close(fd);
  ::close(slowloris);
  ::close(scrape);
  EXPECT_GE(server.connections().counters().evicted, 8u);
  EXPECT_EQ(server.connections().counters().request_timeouts, 1u);
}

}  // namespace
}  // namespace xlb::api
