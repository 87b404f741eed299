// Test fixtures for the mail tests: a real aiosmtpd server (smtp_sink.py) run as a child
// process, a self-signed certificate made by openssl, and a hostile raw-socket server.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

namespace xlb::notify::test {

inline std::uint16_t free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// A self-signed certificate for 127.0.0.1 and localhost, valid for a day.
class TestCert {
 public:
  TestCert() {
    std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
                      key().string() + " -out " + cert().string() +
                      " -days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl could not make a test certificate");
  }
  std::filesystem::path cert() const { return dir_.path() / "cert.pem"; }
  std::filesystem::path key() const { return dir_.path() / "key.pem"; }

 private:
  TempDir dir_;
};

struct SinkOptions {
  std::string tls = "none";  // none | starttls | implicit
  std::string auth{};        // user:password, AUTH then required
  std::uint16_t port = 0;    // 0: any free port
  const TestCert* cert = nullptr;
  std::string host = "127.0.0.1";
  std::vector<std::string> prefix{};  // e.g. {"ip", "netns", "exec", NS}: run the server there
};

class SmtpSink {
 public:
  explicit SmtpSink(SinkOptions opt) {
    std::vector<std::string> args = opt.prefix;
    args.insert(args.end(), {"/usr/bin/python3", "-W", "ignore", std::string(NOTIFY_TEST_DIR) + "/smtp_sink.py",
                             "--dir", dir_.path().string(), "--tls", opt.tls, "--host", opt.host, "--port",
                             std::to_string(opt.port)});
    if (opt.cert) {
      args.insert(args.end(), {"--cert", opt.cert->cert().string(), "--key", opt.cert->key().string()});
    }
    if (!opt.auth.empty()) args.insert(args.end(), {"--auth", opt.auth});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(p[0], 0);
      ::execvp(argv[0], argv.data());
      _exit(127);
    }
    ::close(p[0]);
    stdin_ = p[1];
    auto port_file = dir_.path() / "port";
    for (int i = 0; i < 300 && !std::filesystem::exists(port_file); ++i) {
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("smtp_sink.py exited before listening");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    port_ = static_cast<std::uint16_t>(std::stoi(slurp(port_file)));
  }
  ~SmtpSink() {
    if (stdin_ >= 0) ::close(stdin_);
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      for (int i = 0; i < 100; ++i) {
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;

  std::uint16_t port() const { return port_; }

  std::vector<nlohmann::json> messages() const {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path()))
      if (e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::vector<nlohmann::json> out;
    for (const auto& f : files) out.push_back(nlohmann::json::parse(slurp(f)));
    return out;
  }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  int stdin_ = -1;
  std::uint16_t port_ = 0;
};

// Runs the io_context until pred() holds or the limit passes (the limit only bounds a failing
// test; nothing asserts how long delivery took).
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& pred,
                      std::chrono::seconds limit = std::chrono::seconds(30)) {
  auto end = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!pred() && std::chrono::steady_clock::now() < end) {
    io.run_for(std::chrono::milliseconds(20));
    if (io.stopped()) io.restart();
  }
  return pred();
}

// A server that answers every connection with `script(fd)` on its own thread: the hostile
// replies that the client must survive.
class RawServer {
 public:
  explicit RawServer(std::function<void(int)> script) : script_(std::move(script)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 8) != 0)
      throw std::runtime_error("RawServer: bind/listen");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) break;
        ++connections_;
        script_(c);
        ::close(c);
      }
    });
  }
  ~RawServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  int connections() const { return connections_; }

  static bool send_all(int fd, const std::string& s) {
    return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  // Reads one line from the client (for servers that follow the dialogue for a while).
  static std::string read_line(int fd) {
    std::string line;
    char c;
    while (::recv(fd, &c, 1, 0) == 1) {
      line += c;
      if (c == '\n') break;
    }
    return line;
  }

 private:
  std::function<void(int)> script_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

}  // namespace xlb::notify::test
