// Running keepalived-style scripts (notify_*, vrrp_script, MISC_CHECK) as child processes
// without ever blocking the io_context that VRRP and the checkers share.
//
// Semantics kept from keepalived:
//  - a script is a string split into words as keepalived does (whitespace separates, single
//    quotes are literal, double quotes allow \" and \\, a backslash escapes one character);
//  - the first word is looked up in PATH when it has no '/', and a file that the kernel refuses
//    with ENOEXEC is run through /bin/sh (scripts without a #! line work, as in keepalived);
//  - scripts run as `script_user`; when none is configured, as `keepalived_script` if that
//    user exists, else as root (keepalived's rule; see default_script_user());
//  - enable_script_security: a script that a non-root user could modify (the file, or any
//    directory on its path, writable by a non-root owner, a non-root group, or others) is
//    refused and never run.
// Differences, on purpose: every script gets a timeout (SIGTERM to its process group, then
// SIGKILL), and its output goes to the log instead of /dev/null.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ctrl/notify/script_file.hpp"
#include "xlb/asio.hpp"

namespace xlb::notify {

// A resolved user to run scripts as. Groups are resolved in the parent because initgroups()
// reads /etc/group and is not safe between fork() and exec() in a threaded process.
struct ScriptUser {
  std::string name = "root";
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups, as initgroups() would set them

  // Throws std::system_error when the user (or the group, when given) does not exist.
  static ScriptUser lookup(const std::string& user, const std::string& group = {});
  // keepalived's default: `keepalived_script` if it exists, else root. A process that is not
  // root cannot switch users; it runs scripts as itself.
  static ScriptUser default_script_user();
};

struct ScriptOptions {
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds kill_grace{std::chrono::seconds(2)};  // SIGTERM -> SIGKILL
  std::size_t output_limit = 16 * 1024;  // bytes of stdout+stderr kept in the result
  bool log_output = true;                // each output line to the log at info level
};

struct ScriptResult {
  int exit_code = -1;    // exit status when the script exited, else -1
  int term_signal = 0;   // the signal that ended it, if any
  bool timed_out = false;
  bool refused = false;  // not started: security rule, missing file, fork/exec failure
  std::string error;     // why it was refused or could not run
  std::string output;    // stdout and stderr, interleaved, truncated to output_limit
  pid_t pid = -1;

  bool ok() const { return exit_code == 0; }
  // keepalived-style status for callers that want one number: the exit code, 128+signal when
  // killed by a signal, and -1 when the script could not be run.
  int status() const { return exit_code >= 0 ? exit_code : (term_signal ? 128 + term_signal : -1); }
};

// Counters for metrics; plain values, read on the runner's executor.
struct ScriptCounters {
  std::uint64_t started = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;     // ran and exited non-zero or by a signal
  std::uint64_t timed_out = 0;
  std::uint64_t refused = 0;    // security rule or exec failure
};

// A cheap handle: copies share settings and counters, and a run in flight keeps them alive, so
// destroying the owner while a script runs is safe.
class ScriptRunner {
 public:
  struct Settings {
    ScriptUser default_user = ScriptUser::default_script_user();
    bool script_security = false;  // enable_script_security
  };

  ScriptRunner(boost::asio::any_io_executor executor, Settings settings);

  // Runs argv (argv[0] resolved through PATH) as `user` (default_user when empty). Completes
  // when the process ended or was killed after the timeout; never throws for script failures,
  // they are reported in the result. Many runs may be in flight at once.
  boost::asio::awaitable<ScriptResult> run(std::vector<std::string> argv,
                                           ScriptOptions options = {},
                                           std::optional<ScriptUser> user = std::nullopt) const;
  // The same with a keepalived script string.
  boost::asio::awaitable<ScriptResult> run_command(std::string_view command,
                                                   ScriptOptions options = {},
                                                   std::optional<ScriptUser> user = std::nullopt) const;

  const ScriptCounters& counters() const { return shared_->counters; }
  const Settings& settings() const { return shared_->settings; }
  boost::asio::any_io_executor get_executor() const { return shared_->executor; }

 private:
  struct Shared {
    boost::asio::any_io_executor executor;
    Settings settings;
    ScriptCounters counters;
  };
  static boost::asio::awaitable<ScriptResult> run_in(std::shared_ptr<Shared> shared, std::vector<std::string> argv,
                                                     ScriptOptions options, std::optional<ScriptUser> user);
  std::shared_ptr<Shared> shared_;
};

// Runs scripts one after the other, in the order they were queued, so that the notify scripts
// of one VRRP instance see MASTER after BACKUP and never both at once. enqueue() returns at
// once; the queue is bounded and a script that does not fit is dropped and counted (a bounded
// queue of notify scripts is better than unbounded memory when a script hangs every time).
class ScriptQueue {
 public:
  using Done = std::function<void(const ScriptResult&)>;

  ScriptQueue(const ScriptRunner& runner, std::size_t capacity = 64);
  ~ScriptQueue();
  ScriptQueue(const ScriptQueue&) = delete;
  ScriptQueue& operator=(const ScriptQueue&) = delete;

  // Safe to call from any thread. `done` runs on the runner's executor.
  void enqueue(std::vector<std::string> argv, ScriptOptions options = {},
               std::optional<ScriptUser> user = std::nullopt, Done done = {});

  std::uint64_t dropped() const { return state_->dropped; }
  std::size_t pending() const { return state_->items.size() + (state_->running ? 1 : 0); }

 private:
  struct Item {
    std::vector<std::string> argv;
    ScriptOptions options;
    std::optional<ScriptUser> user;
    Done done;
  };
  // Shared with the draining coroutine so that destroying the queue while a script runs is safe.
  struct State {
    ScriptRunner runner;
    boost::asio::strand<boost::asio::any_io_executor> strand;
    std::size_t capacity = 0;
    std::deque<Item> items;
    bool running = false;
    bool closed = false;
    std::uint64_t dropped = 0;
  };
  static boost::asio::awaitable<void> drain(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
};

}  // namespace xlb::notify
