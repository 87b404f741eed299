#include "script_runner.hpp"
#include "xlb/unique_fd.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <spdlog/spdlog.h>

extern char** environ;

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace xlb::notify {
namespace asio = boost::asio;

namespace {

std::vector<gid_t> groups_of(const char* name, gid_t gid) {
  int n = 32;
  std::vector<gid_t> groups(n);
  while (getgrouplist(name, gid, groups.data(), &n) < 0) groups.resize(n + 8), n = int(groups.size());
  groups.resize(n);
  return groups;
}

// Everything the child needs, prepared before fork() so that the child only makes
// async-signal-safe calls.
struct ExecPlan {
  std::vector<std::string> args;
  std::vector<char*> argv;
  std::vector<std::string> sh_args;
  std::vector<char*> sh_argv;
  const ScriptUser* user = nullptr;
  bool switch_user = false;
};

// Writes "xlb: <what>: errno N\n" with only async-signal-safe calls.
void child_fail(const char* what) {
  int err = errno;
  char buf[160];
  std::size_t len = 0;
  auto put = [&](const char* s) {
    while (*s && len < sizeof buf - 1) buf[len++] = *s++;
  };
  put("xlb: ");
  put(what);
  put(" failed: errno ");
  char digits[12];
  int d = 0;
  do digits[d++] = char('0' + err % 10), err /= 10;
  while (err && d < 11);
  while (d && len < sizeof buf - 1) buf[len++] = digits[--d];
  buf[len++] = '\n';
  [[maybe_unused]] auto r = ::write(2, buf, len);
}

[[noreturn]] void child_main(const ExecPlan& plan, int devnull, int out) {
  ::setsid();  // own process group: the timeout kills the script and everything it started
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  if (::dup2(devnull, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) _exit(126);
  ::syscall(SYS_close_range, 3u, ~0u, 0u);
  if (plan.switch_user) {
    const ScriptUser& u = *plan.user;
    if (::setgroups(u.groups.size(), u.groups.data()) < 0) child_fail("setgroups"), _exit(126);
    if (::setgid(u.gid) < 0) child_fail("setgid"), _exit(126);
    if (::setuid(u.uid) < 0) child_fail("setuid"), _exit(126);
  }
  if (::chdir("/") < 0) child_fail("chdir /"), _exit(126);
  ::execve(plan.argv[0], plan.argv.data(), environ);
  if (errno == ENOEXEC) ::execve("/bin/sh", plan.sh_argv.data(), environ);
  child_fail("exec");
  _exit(127);
}

// One running child: its pidfd, its output pipe and its timers, shared by the callbacks.
struct Child {
  Child(const asio::any_io_executor& ex, int pidfd, int out)
      : pidfd(ex, pidfd), output(ex, out), deadline(ex), reader_done(ex) {}
  asio::posix::stream_descriptor pidfd;
  asio::posix::stream_descriptor output;
  asio::steady_timer deadline;
  asio::steady_timer reader_done;  // cancelled when the reader stops: a one-shot event
  std::array<char, 4096> chunk{};
  std::string pending_line;
  std::string name;
  ScriptOptions options;
  ScriptResult result;
  bool exited = false;
  bool stop_reading = false;
  bool reader_finished = false;

  void take(const char* data, std::size_t n) {
    std::size_t room = options.output_limit - std::min(options.output_limit, result.output.size());
    result.output.append(data, std::min(n, room));
    if (!options.log_output) return;
    pending_line.append(data, n);
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending_line.find('\n', start)) != std::string::npos; start = nl + 1)
      spdlog::info("script {}[{}]: {}", name, result.pid, pending_line.substr(start, nl - start));
    pending_line.erase(0, start);
    if (pending_line.size() > 4096) {  // a script that never prints a newline
      spdlog::info("script {}[{}]: {}", name, result.pid, pending_line);
      pending_line.clear();
    }
  }
  void flush_log() {
    if (options.log_output && !pending_line.empty())
      spdlog::info("script {}[{}]: {}", name, result.pid, pending_line);
    pending_line.clear();
  }
  void signal_group(int sig) {
    if (exited) return;  // never signal a reaped pid: it may belong to someone else now
    ::kill(-result.pid, sig);
    ::syscall(SYS_pidfd_send_signal, pidfd.native_handle(), sig, nullptr, 0);
  }
};

void read_output(std::shared_ptr<Child> c) {
  c->output.async_read_some(asio::buffer(c->chunk), [c](boost::system::error_code ec, std::size_t n) {
    if (n) c->take(c->chunk.data(), n);
    if (ec || c->stop_reading) {
      c->reader_finished = true;
      c->reader_done.cancel();
      return;
    }
    read_output(c);
  });
}

void arm_timeout(std::shared_ptr<Child> c) {
  c->deadline.expires_after(c->options.timeout);
  c->deadline.async_wait([c](boost::system::error_code ec) {
    if (ec || c->exited) return;
    c->result.timed_out = true;
    spdlog::warn("script {}[{}]: timed out after {} ms, sending SIGTERM", c->name, c->result.pid,
                 c->options.timeout.count());
    c->signal_group(SIGTERM);
    c->deadline.expires_after(c->options.kill_grace);
    c->deadline.async_wait([c](boost::system::error_code ec2) {
      if (ec2 || c->exited) return;
      spdlog::warn("script {}[{}]: still running, sending SIGKILL", c->name, c->result.pid);
      c->signal_group(SIGKILL);
    });
  });
}

}  // namespace

ScriptUser ScriptUser::lookup(const std::string& user, const std::string& group) {
  std::vector<char> buf(16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  int rc = getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "script user '" + user + "'");
  if (!found) throw std::runtime_error("script_user '" + user + "' does not exist on this machine");
  ScriptUser u;
  u.name = user;
  u.uid = pw.pw_uid;
  u.gid = pw.pw_gid;
  if (!group.empty()) {
    std::vector<char> gbuf(16384);
    struct group gr {};
    struct group* gfound = nullptr;
    rc = getgrnam_r(group.c_str(), &gr, gbuf.data(), gbuf.size(), &gfound);
    if (rc != 0) throw std::system_error(rc, std::generic_category(), "script group '" + group + "'");
    if (!gfound) throw std::runtime_error("script_user's group '" + group + "' does not exist on this machine");
    u.gid = gr.gr_gid;
  }
  u.groups = groups_of(user.c_str(), u.gid);
  return u;
}

ScriptUser ScriptUser::default_script_user() {
  if (::geteuid() != 0) {
    std::vector<char> buf(16384);
    struct passwd pw {};
    struct passwd* found = nullptr;
    if (getpwuid_r(::geteuid(), &pw, buf.data(), buf.size(), &found) == 0 && found) return lookup(pw.pw_name);
    ScriptUser self;
    self.name = std::to_string(::geteuid());
    self.uid = ::geteuid();
    self.gid = ::getegid();
    return self;
  }
  try {
    return lookup("keepalived_script");
  } catch (const std::exception&) {  // no such user, as on most machines
    return lookup("root");
  }
}

ScriptRunner::ScriptRunner(asio::any_io_executor executor, Settings settings)
    : shared_(std::make_shared<Shared>(Shared{std::move(executor), std::move(settings), {}})) {}

asio::awaitable<ScriptResult> ScriptRunner::run_command(std::string_view command, ScriptOptions options,
                                                       std::optional<ScriptUser> user) const {
  std::vector<std::string> argv;
  try {
    argv = split_script_command(command);
  } catch (const std::invalid_argument& e) {
    // An empty argv makes run_in() refuse it and count it.
    spdlog::error("script '{}': {}", command, e.what());
  }
  return run_in(shared_, std::move(argv), options, std::move(user));
}

asio::awaitable<ScriptResult> ScriptRunner::run(std::vector<std::string> argv, ScriptOptions options,
                                               std::optional<ScriptUser> user) const {
  return run_in(shared_, std::move(argv), options, std::move(user));
}

asio::awaitable<ScriptResult> ScriptRunner::run_in(std::shared_ptr<Shared> shared, std::vector<std::string> args,
                                                  ScriptOptions options, std::optional<ScriptUser> user) {
  ScriptCounters& stats = shared->counters;
  const Settings& cfg = shared->settings;
  ScriptResult refused;
  refused.refused = true;
  auto refuse = [&](std::string why) {
    ++stats.refused;
    refused.error = std::move(why);
    spdlog::error("script refused: {}", refused.error);
    return refused;
  };
  if (args.empty() || args[0].empty()) co_return refuse("empty or malformed command");
  const std::string name = args[0];
  // Checked here, where it can be said in words: a failed exec in the child is only a status.
  std::string exe;
  if (auto why = executable_problem(args[0], cfg.script_security, exe); !why.empty())
    co_return refuse("cannot run " + why);

  ExecPlan plan;
  const ScriptUser& as = user ? *user : cfg.default_user;
  plan.user = &as;
  plan.switch_user = ::geteuid() == 0 || as.uid != ::geteuid();
  plan.args = std::move(args);
  plan.args[0] = exe;
  for (auto& a : plan.args) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  plan.sh_args.push_back("/bin/sh");
  for (auto& a : plan.args) plan.sh_args.push_back(a);
  for (auto& a : plan.sh_args) plan.sh_argv.push_back(a.data());
  plan.sh_argv.push_back(nullptr);

  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  int pipefd[2];
  if (devnull.get() < 0 || ::pipe2(pipefd, O_CLOEXEC) < 0) co_return refuse(name + ": " + std::strerror(errno));
  UniqueFd out_r(pipefd[0]), out_w(pipefd[1]);

  pid_t pid = ::fork();
  if (pid < 0) co_return refuse(name + ": fork: " + std::strerror(errno));
  if (pid == 0) child_main(plan, devnull.get(), out_w.get());
  out_w.reset();
  ++stats.started;

  // The child cannot be reaped before this: only we wait for it (SIGCHLD must not be SIG_IGN).
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd.get() < 0) {
    // Without a pidfd there is no safe asynchronous wait; kill rather than leak a child.
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    co_return refuse(name + ": pidfd_open: " + std::strerror(errno));
  }
  auto ex = co_await asio::this_coro::executor;
  auto c = std::make_shared<Child>(ex, pidfd.release(), out_r.release());
  c->name = name;
  c->options = options;
  c->result.pid = pid;
  spdlog::debug("script {}[{}]: started as {}", name, pid, as.name);
  read_output(c);
  arm_timeout(c);

  boost::system::error_code ec;
  co_await c->pidfd.async_wait(asio::posix::stream_descriptor::wait_read,
                               asio::redirect_error(asio::use_awaitable, ec));
  siginfo_t info{};
  if (::waitid(static_cast<idtype_t>(P_PIDFD), c->pidfd.native_handle(), &info, WEXITED) < 0) {
    spdlog::error("script {}[{}]: waitid: {}", name, pid, std::strerror(errno));
  }
  c->exited = true;
  c->deadline.cancel();
  if (info.si_code == CLD_EXITED) {
    c->result.exit_code = info.si_status;
  } else if (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED) {
    c->result.term_signal = info.si_status;
  }

  // Output still in the pipe is read once more; a background process that keeps the pipe open
  // must not keep us waiting.
  if (!c->reader_finished) {
    c->stop_reading = true;
    c->output.cancel();
    c->reader_done.expires_at(asio::steady_timer::time_point::max());
    co_await c->reader_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (c->output.is_open()) {
    c->output.non_blocking(true, ec);
    for (;;) {
      auto n = c->output.read_some(asio::buffer(c->chunk), ec);
      if (ec || n == 0) break;
      c->take(c->chunk.data(), n);
    }
  }
  c->flush_log();
  c->output.close(ec);
  c->pidfd.close(ec);

  ScriptResult& r = c->result;
  if (r.timed_out) {
    ++stats.timed_out;
    r.exit_code = -1;  // killed by us; term_signal says how
  } else if (r.ok()) {
    ++stats.succeeded;
  } else {
    ++stats.failed;
  }
  if (!r.ok())
    spdlog::warn("script {}[{}]: {}", name, pid,
                 r.timed_out ? "timed out" : r.term_signal ? "killed by signal " + std::to_string(r.term_signal)
                                                           : "exited with status " + std::to_string(r.exit_code));
  co_return std::move(r);
}

ScriptQueue::ScriptQueue(const ScriptRunner& runner, std::size_t capacity)
    : state_(std::make_shared<State>(State{runner, asio::make_strand(runner.get_executor()), capacity, {}, false,
                                           false, 0})) {}

ScriptQueue::~ScriptQueue() {
  auto st = state_;
  asio::post(st->strand, [st] {
    st->closed = true;
    st->items.clear();
  });
}

void ScriptQueue::enqueue(std::vector<std::string> argv, ScriptOptions options, std::optional<ScriptUser> user,
                          Done done) {
  auto st = state_;
  asio::post(st->strand, [st, item = Item{std::move(argv), options, std::move(user), std::move(done)}]() mutable {
    if (st->closed) return;
    if (st->items.size() >= st->capacity) {
      ++st->dropped;
      spdlog::error("script queue full ({} waiting): {} dropped", st->items.size(), item.argv.front());
      return;
    }
    st->items.push_back(std::move(item));
    if (st->running) return;
    st->running = true;
    asio::co_spawn(st->strand, drain(st), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("script queue: {}", ex.what());
      }
    });
  });
}

asio::awaitable<void> ScriptQueue::drain(std::shared_ptr<State> st) {
  while (!st->items.empty() && !st->closed) {
    Item item = std::move(st->items.front());
    st->items.pop_front();
    ScriptResult r;
    try {
      r = co_await st->runner.run(std::move(item.argv), item.options, std::move(item.user));
    } catch (const std::exception& e) {
      r.refused = true;
      r.error = e.what();
      spdlog::error("script queue: {}", r.error);
    }
    if (item.done) item.done(r);
  }
  st->running = false;
}

}  // namespace xlb::notify
