// A real vrrp_script runner for the tests and the standalone node: fork/exec, wait on a pidfd
// through Asio, SIGKILL on timeout. xlbd injects notify's runner instead.
#pragma once
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "xlb/asio.hpp"

namespace xlb::vrrp::test {

inline boost::asio::awaitable<int> run_script(const std::vector<std::string>& argv,
                                              std::chrono::milliseconds timeout) {
  auto ex = co_await boost::asio::this_coro::executor;
  if (argv.empty()) co_return 127;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) co_return 126;
  if (pid == 0) {
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    int st = 0;
    ::waitpid(pid, &st, 0);
    co_return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  }
  boost::asio::posix::stream_descriptor fd(ex, pidfd);
  boost::asio::steady_timer timer(ex, timeout);
  bool timed_out = false;
  timer.async_wait([&](boost::system::error_code ec) {
    if (!ec) {
      timed_out = true;
      ::kill(pid, SIGKILL);
    }
  });
  boost::system::error_code ec;
  co_await fd.async_wait(boost::asio::posix::descriptor_base::wait_read,
                         boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  timer.cancel();
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (timed_out) co_return 124;
  co_return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

}  // namespace xlb::vrrp::test
