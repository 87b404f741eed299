// Checker scale: N real servers as listeners on 127.1.x.y:8080 in a child process (so that
// getrusage of this process counts the checker only), checked with TCP_CHECK and HTTP_GET at
// delay_loop 1 s. Prints CPU seconds per 1,000 checks, share of one core, resident memory and
// the time from a server dying to the spec without it (what xlbd hands the dataplane).
//
//   xlb_bench_checker [--reals 2000] [--seconds 10] [--kills 5]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "ctrl/check/health_monitor.hpp"

namespace asio = boost::asio;
using namespace xlb::check;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::uint16_t server_port = 8080;
constexpr int reals_per_service = 100;

IpAddress real_address(int i) {
  return asio::ip::make_address_v4("127.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1));
}

// ---- the server side, in a child process ----

asio::awaitable<void> serve(asio::ip::tcp::socket socket) {
  std::array<char, 2048> buf;
  std::string request;
  boost::system::error_code ec;
  while (request.find("\r\n\r\n") == std::string::npos) {
    std::size_t n = co_await socket.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;  // TCP_CHECK connects and closes
    request.append(buf.data(), n);
  }
  static constexpr char response[] =
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
  co_await asio::async_write(socket, asio::buffer(response, sizeof response - 1),
                             asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor) {
  for (;;) {
    boost::system::error_code ec;
    auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;  // closed: the server "died"
    asio::co_spawn(acceptor.get_executor(), serve(std::move(socket)), asio::detached);
  }
}

// Commands on the pipe: 'k' <index> closes a listener, 'r' <index> reopens it.
[[noreturn]] void run_servers(int n, int command_fd) {
  asio::io_context io;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors(n);
  auto open = [&](int i) {
    auto a = std::make_unique<asio::ip::tcp::acceptor>(io);
    asio::ip::tcp::endpoint ep(real_address(i), server_port);
    a->open(ep.protocol());
    a->set_option(asio::socket_base::reuse_address(true));
    a->bind(ep);
    a->listen(1024);
    acceptors[i] = std::move(a);
    asio::co_spawn(io, accept_loop(*acceptors[i]), asio::detached);
  };
  for (int i = 0; i < n; ++i) open(i);
  asio::posix::stream_descriptor commands(io, command_fd);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    for (;;) {
      std::array<char, 5> cmd;
      co_await asio::async_read(commands, asio::buffer(cmd), asio::use_awaitable);
      int index;
      std::memcpy(&index, &cmd[1], sizeof index);
      if (cmd[0] == 'k') {
        acceptors[index]->close();
      } else {
        open(index);
      }
    }
  }, [](std::exception_ptr) { ::_exit(0); });  // parent closed the pipe
  io.run();
  ::_exit(0);
}

// ---- the checker side ----

double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

struct Row {
  std::string check;
  int reals = 0;
  double checks_per_s = 0;
  double cpu_per_1000 = 0;
  double core_share = 0;
  long rss_kib = 0;
  std::vector<double> detection_ms;
};

struct Bench {
  asio::io_context& io;
  int reals;
  int seconds;
  int kills;
  int command_fd;
  std::map<std::pair<std::uint16_t, std::string>, Clock::time_point> removed;  // (vs port, ip)

  void send(char op, int index) {
    char cmd[5];
    cmd[0] = op;
    std::memcpy(&cmd[1], &index, sizeof index);
    if (::write(command_fd, cmd, sizeof cmd) != sizeof cmd) throw std::runtime_error("pipe write");
  }

  std::vector<VirtualServerSettings> config(CheckKind kind) {
    std::vector<VirtualServerSettings> out;
    for (int i = 0; i < reals; ++i) {
      if (i % reals_per_service == 0) {
        VirtualServerSettings vs;
        vs.name = "vs" + std::to_string(out.size());
        vs.spec.key = {asio::ip::make_address("198.18.0.100"),
                       static_cast<std::uint16_t>(10000 + out.size())};
        vs.delay_loop = Millis{1000};
        vs.warmup = Millis{1000};  // spreads the first checks over one delay_loop
        out.push_back(vs);
      }
      RealSettings r;
      r.address = real_address(i);
      r.port = server_port;
      CheckSettings c;
      c.kind = kind;
      c.connect_timeout = Millis{1000};
      c.retry = 1;
      c.delay_before_retry = Millis{1000};
      if (kind == CheckKind::http_get) c.urls.push_back(UrlSettings{"/health", {}, {{200, 200}}});
      r.checks.push_back(c);
      out.back().reals.push_back(r);
    }
    return out;
  }

  asio::awaitable<void> sleep(Millis d) {
    asio::steady_timer t(io, d);
    co_await t.async_wait(asio::use_awaitable);
  }

  asio::awaitable<Row> phase(CheckKind kind) {
    removed.clear();
    MonitorHooks hooks;
    hooks.apply = [this](const xlb::dataplane::ServiceSpec& spec) {
      auto now = Clock::now();
      std::vector<std::string> present;
      for (const auto& r : spec.reals) present.push_back(r.address.to_string());
      int first = (spec.key.port - 10000) * reals_per_service;
      for (int i = first; i < std::min(first + reals_per_service, reals); ++i) {
        auto ip = real_address(i).to_string();
        if (std::find(present.begin(), present.end(), ip) == present.end())
          removed.emplace(std::make_pair(spec.key.port, ip), now);
      }
    };
    HealthMonitor monitor(io.get_executor(), hooks);
    monitor.start(config(kind));
    co_await sleep(Millis{3000});
    double cpu0 = cpu_seconds();
    auto checks0 = monitor.checks_run();
    auto t0 = Clock::now();
    co_await sleep(Millis{seconds * 1000});
    double cpu = cpu_seconds() - cpu0;
    double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    auto checks = monitor.checks_run() - checks0;
    Row row;
    row.check = to_string(kind);
    row.reals = reals;
    row.checks_per_s = static_cast<double>(checks) / wall;
    row.cpu_per_1000 = checks ? cpu / static_cast<double>(checks) * 1000.0 : 0;
    row.core_share = cpu / wall;
    row.rss_kib = rss_kib();
    if (!removed.empty()) spdlog::warn("{} reals were removed while all servers were alive", removed.size());

    for (int k = 0; k < kills; ++k) {
      int index = (k * 397 + 11) % reals;
      auto key = std::make_pair(static_cast<std::uint16_t>(10000 + index / reals_per_service),
                                real_address(index).to_string());
      removed.erase(key);
      auto killed = Clock::now();
      send('k', index);
      while (!removed.count(key) && Clock::now() - killed < std::chrono::seconds(10))
        co_await sleep(Millis{2});
      if (removed.count(key))
        row.detection_ms.push_back(std::chrono::duration<double, std::milli>(removed[key] - killed).count());
      send('r', index);
      co_await sleep(Millis{300});
    }
    co_await monitor.shutdown();
    co_return row;
  }
};

}  // namespace

int main(int argc, char** argv) {
  int reals = 2000, seconds = 10, kills = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    int v = std::stoi(argv[i + 1]);
    if (a == "--reals") reals = v;
    else if (a == "--seconds") seconds = v;
    else if (a == "--kills") kills = v;
  }
  spdlog::set_level(spdlog::level::warn);
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &nofile);

  int fds[2];
  if (::pipe(fds) != 0) return 1;
  pid_t child = ::fork();
  if (child == 0) {
    ::close(fds[1]);
    run_servers(reals, fds[0]);
  }
  ::close(fds[0]);
  ::usleep(500000);  // let the child bind its listeners

  asio::io_context io;
  Bench bench{io, reals, seconds, kills, fds[1], {}};
  std::vector<Row> rows;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    rows.push_back(co_await bench.phase(CheckKind::tcp));
    rows.push_back(co_await bench.phase(CheckKind::http_get));
  }, [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      std::fprintf(stderr, "bench failed: %s\n", x.what());
    }
  });
  io.run();
  ::close(fds[1]);
  ::kill(child, SIGTERM);
  ::waitpid(child, nullptr, 0);

  std::printf("\nchecker scale: %d reals, delay_loop 1 s, retry 1, delay_before_retry 1 s "
              "(detection bound %.0f ms + probe time)\n", reals, 2000.0);
  std::printf("%-10s %6s %10s %14s %10s %9s %26s\n", "check", "reals", "checks/s",
              "CPU s/1k chk", "core %", "RSS MiB", "dead->removed ms min/avg/max");
  for (const auto& r : rows) {
    double mn = 0, mx = 0, sum = 0;
    if (!r.detection_ms.empty()) {
      mn = *std::min_element(r.detection_ms.begin(), r.detection_ms.end());
      mx = *std::max_element(r.detection_ms.begin(), r.detection_ms.end());
      for (double d : r.detection_ms) sum += d;
    }
    double avg = r.detection_ms.empty() ? 0 : sum / static_cast<double>(r.detection_ms.size());
    std::printf("%-10s %6d %10.0f %14.4f %10.1f %9.1f %10.0f/%.0f/%.0f (%zu/%d)\n", r.check.c_str(),
                r.reals, r.checks_per_s, r.cpu_per_1000, r.core_share * 100.0,
                static_cast<double>(r.rss_kib) / 1024.0, mn, avg, mx, r.detection_ms.size(), kills);
  }
  return 0;
}
