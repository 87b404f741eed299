// ScriptRunner and ScriptQueue against real /bin/sh scripts.
#include "notify/script_runner.hpp"

#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "test_util.hpp"

namespace xlb::notify {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::run_on;
using test::slurp;
using test::TempDir;

ScriptRunner::Settings root_settings(bool security = false) {
  ScriptRunner::Settings s;
  s.default_user = ScriptUser::lookup(getpwuid(geteuid())->pw_name);
  s.script_security = security;
  return s;
}

TEST(SplitScriptCommand, FollowsKeepalivedQuoting) {
  EXPECT_EQ(split_script_command("/bin/echo a  b"), (std::vector<std::string>{"/bin/echo", "a", "b"}));
  EXPECT_EQ(split_script_command(R"(/x 'a b' "c \"d\" \\e" f\ g)"),
            (std::vector<std::string>{"/x", "a b", "c \"d\" \\e", "f g"}));
  EXPECT_EQ(split_script_command(R"(/x 'it"s' "")"), (std::vector<std::string>{"/x", "it\"s", ""}));
  EXPECT_THROW(split_script_command("/x 'open"), std::invalid_argument);
  EXPECT_THROW(split_script_command("/x \"open"), std::invalid_argument);
  EXPECT_THROW(split_script_command("   "), std::invalid_argument);
}

TEST(ResolveExecutable, SearchesPath) {
  EXPECT_EQ(resolve_executable("/bin/sh"), "/bin/sh");
  EXPECT_FALSE(resolve_executable("sh").empty());
  EXPECT_TRUE(resolve_executable("xlb-no-such-program-here").empty());
}

TEST(ScriptRunner, ReportsExitCodesAndOutput) {
  asio::io_context io;
  ScriptRunner runner(io.get_executor(), root_settings());
  auto ok = run_on(io, runner.run({"/bin/sh", "-c", "echo hello; echo err >&2; exit 0"}));
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.output, "hello\nerr\n");
  auto three = run_on(io, runner.run_command("/bin/sh -c 'exit 3'"));
  EXPECT_EQ(three.exit_code, 3);
  EXPECT_EQ(three.status(), 3);
  EXPECT_FALSE(three.ok());
  auto sig = run_on(io, runner.run({"/bin/sh", "-c", "kill -USR1 $$"}));
  EXPECT_EQ(sig.exit_code, -1);
  EXPECT_EQ(sig.term_signal, SIGUSR1);
  EXPECT_EQ(runner.counters().started, 3u);
  EXPECT_EQ(runner.counters().succeeded, 1u);
  EXPECT_EQ(runner.counters().failed, 2u);
}

TEST(ScriptRunner, PassesKeepalivedArgumentsAndRunsScriptsWithoutShebang) {
  TempDir dir;
  // No #! line: the kernel says ENOEXEC and the runner falls back to /bin/sh, as keepalived does.
  auto script = dir.file("notify.sh", "echo \"$1|$2|$3|$4\"\n", 0755);
  asio::io_context io;
  ScriptRunner runner(io.get_executor(), root_settings());
  auto r = run_on(io, runner.run({script.string(), "INSTANCE", "VI_1", "MASTER", "100"}));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "INSTANCE|VI_1|MASTER|100\n");
}

TEST(ScriptRunner, MissingScriptIsRefusedNotRun) {
  asio::io_context io;
  ScriptRunner runner(io.get_executor(), root_settings());
  auto r = run_on(io, runner.run_command("xlb-no-such-program-here arg"));
  EXPECT_TRUE(r.refused);
  EXPECT_NE(r.error.find("not found"), std::string::npos);
  auto bad = run_on(io, runner.run_command("/bin/echo 'unterminated"));
  EXPECT_TRUE(bad.refused);
  // A path that does not exist, or a file without x: the reason in words, not "exec failed:
  // errno 2" from a child.
  auto missing = run_on(io, runner.run_command("/apps/keepalived/bin/notify.sh MASTER"));
  EXPECT_TRUE(missing.refused);
  EXPECT_EQ(missing.error, "cannot run /apps/keepalived/bin/notify.sh: No such file or directory");
  TempDir dir;
  const auto plain = dir.file("plain.sh", "#!/bin/sh\nexit 0\n", 0644);
  auto not_executable = run_on(io, runner.run_command(plain.string()));
  EXPECT_EQ(not_executable.error, "cannot run " + plain.string() + ": not executable (mode 644)");
  EXPECT_EQ(runner.counters().started, 0u);
  EXPECT_EQ(runner.counters().refused, 4u);
}

TEST(ScriptRunner, TimeoutKillsTheWholeProcessGroup) {
  TempDir dir;
  auto pidfile = dir.path() / "child.pid";
  asio::io_context io;
  ScriptRunner runner(io.get_executor(), root_settings());
  ScriptOptions opt;
  opt.timeout = 200ms;
  opt.kill_grace = 200ms;
  // The background sleep shares the script's process group and must die with it.
  auto r = run_on(io, runner.run({"/bin/sh", "-c", "sleep 30 & echo $! > " + pidfile.string() + "; wait"}, opt));
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.term_signal, SIGTERM);
  EXPECT_FALSE(r.ok());
  pid_t bg = std::stoi(slurp(pidfile));
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    // Orphaned, it is reaped by init; until then it may show as a zombie.
    std::string stat = slurp("/proc/" + std::to_string(bg) + "/stat");
    gone = stat.empty() || stat.find(") Z") != std::string::npos;
    if (!gone) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(gone) << "background child " << bg << " survived the timeout";
  EXPECT_EQ(runner.counters().timed_out, 1u);
}

TEST(ScriptRunner, ScriptIgnoringSigtermGetsSigkill) {
  asio::io_context io;
  ScriptRunner runner(io.get_executor(), root_settings());
  ScriptOptions opt;
  opt.timeout = 200ms;
  opt.kill_grace = 200ms;
  auto r = run_on(io, runner.run({"/bin/sh", "-c", "trap '' TERM; echo armed; while :; do sleep 0.05; done"}, opt));
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_EQ(r.output, "armed\n");
}

TEST(ScriptRunner, NeverBlocksTheIoContext) {
  asio::io_context io;
  ScriptRunner runner(io.get_executor(), root_settings());
  int ticks = 0;
  bool done = false;
  asio::steady_timer tick(io);
  std::function<void()> arm = [&] {
    tick.expires_after(10ms);
    tick.async_wait([&](boost::system::error_code ec) {
      if (ec || done) return;
      ++ticks;
      arm();
    });
  };
  arm();
  ScriptResult r;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    std::vector<std::string> argv{"/bin/sh", "-c", "sleep 0.5"};  // GCC 12: no braced list in co_await
    r = co_await runner.run(std::move(argv));
    done = true;
    tick.cancel();
  }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  io.run();
  EXPECT_TRUE(r.ok());
  // 0.5 s of sleeping script at 10 ms per tick: a blocked loop would show (almost) none.
  EXPECT_GT(ticks, 10);
}

TEST(ScriptRunner, OwnerMayGoAwayWhileAScriptRuns) {
  asio::io_context io;
  auto runner = std::make_unique<ScriptRunner>(io.get_executor(), root_settings());
  ScriptResult r;
  asio::co_spawn(io, runner->run({"/bin/sh", "-c", "sleep 0.2; exit 7"}),
                 [&](std::exception_ptr e, ScriptResult res) {
                   if (e) std::rethrow_exception(e);
                   r = std::move(res);
                 });
  io.poll();  // the child is started
  runner.reset();
  io.run();
  EXPECT_EQ(r.exit_code, 7);
}

TEST(ScriptRunner, ManyScriptsConcurrently) {
  asio::io_context io;
  ScriptRunner runner(io.get_executor(), root_settings());
  int finished = 0;
  for (int i = 0; i < 20; ++i)
    asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
      std::vector<std::string> argv{"/bin/sh", "-c", "sleep 0.1; exit " + std::to_string(i)};
      auto r = co_await runner.run(std::move(argv));
      EXPECT_EQ(r.exit_code, i);
      ++finished;
    }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  io.run();
  EXPECT_EQ(finished, 20);
}

// A figure for the report, not a limit: what one notify script costs from fork to reaped.
TEST(ScriptRunner, SequentialRunCostFigure) {
  asio::io_context io;
  ScriptRunner runner(io.get_executor(), root_settings());
  ScriptQueue queue(runner);
  constexpr int n = 50;
  int ok = 0;
  for (int i = 0; i < n; ++i) queue.enqueue({"/bin/true"}, {}, std::nullopt, [&](const ScriptResult& r) { ok += r.ok(); });
  auto start = std::chrono::steady_clock::now();
  io.run();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ok, n);
  std::printf("figure: %d queued /bin/true runs, %.0f us each (fork, exec, pidfd wait, reap)\n", n, double(us) / n);
  RecordProperty("us_per_script", static_cast<int>(us / n));
}

TEST(ScriptQueue, RunsScriptsInOrderWithoutBlockingTheCaller) {
  TempDir dir;
  auto log = dir.path() / "order.log";
  asio::io_context io;
  ScriptRunner runner(io.get_executor(), root_settings());
  ScriptQueue queue(runner);
  std::vector<int> done_order;
  // Earlier scripts sleep longer: run concurrently, they would finish in reverse order.
  for (int i = 0; i < 5; ++i) {
    std::string cmd = "sleep 0.0" + std::to_string(8 - i) + "; echo " + std::to_string(i) + " >> " + log.string();
    queue.enqueue({"/bin/sh", "-c", cmd}, {}, std::nullopt, [&, i](const ScriptResult& r) {
      EXPECT_TRUE(r.ok());
      done_order.push_back(i);
    });
  }
  io.run();
  EXPECT_EQ(slurp(log), "0\n1\n2\n3\n4\n");
  EXPECT_EQ(done_order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(queue.pending(), 0u);
}

TEST(ScriptQueue, BoundedQueueDropsAndCounts) {
  asio::io_context io;
  ScriptRunner runner(io.get_executor(), root_settings());
  ScriptQueue queue(runner, 2);
  int ran = 0;
  for (int i = 0; i < 5; ++i)
    queue.enqueue({"/bin/true"}, {}, std::nullopt, [&](const ScriptResult&) { ++ran; });
  io.run();
  // The first starts at once and leaves the queue; two wait; two do not fit.
  EXPECT_EQ(ran + int(queue.dropped()), 5);
  EXPECT_GE(queue.dropped(), 2u);
}

TEST(ScriptRunner, RunsAsNobody) {
  if (geteuid() != 0) GTEST_SKIP() << "switching users needs root";
  TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
  auto script = dir.file("whoami.sh", "#!/bin/sh\nid -u; id -g; touch /root/xlb-should-not-exist-$$ 2>/dev/null && echo wrote\n", 0755);
  asio::io_context io;
  ScriptRunner runner(io.get_executor(), root_settings());
  auto r = run_on(io, runner.run({script.string()}, {}, ScriptUser::lookup("nobody")));
  EXPECT_EQ(r.exit_code, 1) << r.output;  // touch fails: nobody cannot write to /root
  auto nobody = ScriptUser::lookup("nobody");
  EXPECT_EQ(r.output, std::to_string(nobody.uid) + "\n" + std::to_string(nobody.gid) + "\n");
}

TEST(ScriptUser, DefaultFollowsKeepalived) {
  auto u = ScriptUser::default_script_user();
  if (geteuid() != 0)
    EXPECT_EQ(u.uid, geteuid());  // cannot switch users: runs scripts as itself
  else if (getpwnam("keepalived_script"))
    EXPECT_EQ(u.name, "keepalived_script");
  else
    EXPECT_EQ(u.uid, 0u);
  try {
    ScriptUser::lookup("xlb-no-such-user");
    ADD_FAILURE() << "a user that does not exist was found";
  } catch (const std::exception& e) {
    EXPECT_STREQ(e.what(), "script_user 'xlb-no-such-user' does not exist on this machine");
  }
}

TEST(ScriptSecurity, RefusesScriptsANonRootUserCouldChange) {
  if (geteuid() != 0) GTEST_SKIP() << "creating root-owned and nobody-owned files needs root";
  TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
  auto script = dir.file("safe.sh", "#!/bin/sh\nexit 0\n", 0755);
  EXPECT_EQ(script_security_problem(script.string()), "");

  asio::io_context io;
  ScriptRunner runner(io.get_executor(), root_settings(true));
  EXPECT_TRUE(run_on(io, runner.run({script.string()})).ok());

  std::filesystem::permissions(script, std::filesystem::perms(0757));
  EXPECT_NE(script_security_problem(script.string()).find("safe.sh is writable"), std::string::npos);
  auto r = run_on(io, runner.run({script.string()}));
  EXPECT_TRUE(r.refused);
  EXPECT_NE(r.error.find("enable_script_security"), std::string::npos);

  std::filesystem::permissions(script, std::filesystem::perms(0755));
  ASSERT_EQ(::chown(script.c_str(), 65534, 0), 0);
  EXPECT_NE(script_security_problem(script.string()), "");
  ASSERT_EQ(::chown(script.c_str(), 0, 0), 0);

  // A directory on the path owned by someone else taints everything under it.
  ASSERT_EQ(::chown(dir.path().c_str(), 65534, 65534), 0);
  EXPECT_NE(script_security_problem(script.string()).find(dir.path().string() + " is writable"), std::string::npos);
  ASSERT_EQ(::chown(dir.path().c_str(), 0, 0), 0);

  // A symlink from a safe place to an unsafe file is judged by its target.
  auto unsafe = dir.file("unsafe.sh", "#!/bin/sh\nexit 0\n", 0777);
  auto link = dir.path() / "link.sh";
  std::filesystem::create_symlink(unsafe, link);
  EXPECT_NE(script_security_problem(link.string()), "");
  EXPECT_NE(script_security_problem("relative.sh"), "");
  EXPECT_EQ(runner.counters().refused, 1u);
}

}  // namespace
}  // namespace xlb::notify
