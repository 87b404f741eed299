// What a large configuration costs: memory per virtual server stays bounded, and running out
// of memory is an error with a message, not an abort.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <cstring>
#include <string>

#include "ctrl/config/config.hpp"

namespace fs = std::filesystem;

namespace {

// The users' shape: wrr, DR, persistence, an HTTP_GET real and a TCP_CHECK one.
fs::path write_services(std::size_t count) {
  const fs::path path = fs::temp_directory_path() / ("xlb-large-" + std::to_string(::getpid()) + ".conf");
  std::ofstream out(path);
  for (std::size_t i = 0; i < count; ++i) {
    out << "virtual_server 198." << 18 + i / 65536 << '.' << i / 256 % 256 << '.' << i % 256 << " 80 {\n"
        << "  lb_algo wrr\n  lb_kind DR\n  persistence_timeout 50\n"
        << "  real_server 198.19.255.1 80 {\n    weight 3\n    HTTP_GET {\n      url {\n        path /\n"
        << "        status_code 200\n      }\n    }\n  }\n"
        << "  real_server 198.19.255.2 80 {\n    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n}\n";
  }
  return path;
}

struct ChildResult {
  std::string message;
  long peak_kib = 0;
};

// Runs `body` in a child (its own high-water mark, its own limits) and returns what it wrote.
template <class Body>
ChildResult in_child(Body body) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    const std::string text = body();
    (void)!::write(fds[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  ChildResult r;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof(buf))) > 0;) r.message.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  r.peak_kib = usage.ru_maxrss;
  EXPECT_TRUE(WIFEXITED(status)) << "the child died: " << (WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "?");
  return r;
}

std::string first_error(const xlb::config::LoadResult& r) {
  for (const auto& d : r.diagnostics)
    if (d.severity == xlb::config::Severity::error) return xlb::config::to_string(d);
  return "loaded " + std::to_string(r.config.virtual_servers.size());
}

}  // namespace

// Tokens, tree and model once held a large file three times over (17 KB per service of this
// shape at 100,000); now the statements are read one at a time (6 KB).
TEST(LargeConfig, MemoryPerVirtualServerIsBounded) {
  constexpr std::size_t services = 20000;
  const auto path = write_services(services);
  const auto baseline = in_child([] { return std::string("idle"); });
  const auto loaded = in_child([&] { return first_error(xlb::config::load_file(path.string())); });
  fs::remove(path);
  EXPECT_EQ(loaded.message, "loaded " + std::to_string(services));
  const double per_service = static_cast<double>(loaded.peak_kib - baseline.peak_kib) * 1024.0 / services;
  EXPECT_LT(per_service, 12000.0) << "peak " << loaded.peak_kib << " KiB for " << services << " services";
}

TEST(LargeConfig, RunningOutOfMemoryIsAnErrorWithAMessage) {
  const auto path = write_services(50000);
  const auto r = in_child([&] {
    rlimit limit{};
    ::getrlimit(RLIMIT_AS, &limit);
    // Room for the process as it is, not for the file.
    std::ifstream status("/proc/self/status");
    long vm_kib = 0;
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmSize:", 0) == 0) vm_kib = std::stol(line.substr(7));
    limit.rlim_cur = static_cast<rlim_t>(vm_kib + 48 * 1024) * 1024;
    ::setrlimit(RLIMIT_AS, &limit);
    return first_error(xlb::config::load_file(path.string()));
  });
  fs::remove(path);
  EXPECT_NE(r.message.find(":1:1: error: out of memory while reading this configuration"), std::string::npos)
      << r.message;
}
