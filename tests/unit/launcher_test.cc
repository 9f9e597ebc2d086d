// LocalProcessLauncher against fake trainers: small /bin/sh scripts (and one python3 -c) that
// succeed, fail, crash, hang, ignore SIGTERM, leave grandchildren behind or print huge lines.
// Timeouts and grace periods are short so the suite stays fast; tests wait on wait() or on a
// line arriving, never sleep.
#include "daemon/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "daemon/child_process.h"
#include "tests/support/temp_dir.h"

namespace ctd::training {
namespace {

using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Generous bound for "this line arrives" / "that process ends"; reached only when broken.
constexpr auto kEventTimeout = 30s;
constexpr auto kShortTimeout = 200ms;
constexpr auto kShortGrace = 200ms;
// Long enough that a shell has installed its trap before the timeout fires, even on a loaded
// machine; only the tests that need a trap in place use it.
constexpr auto kTrapSafeTimeout = 1s;

// Collects a run's stdout lines (delivered on the supervising thread) and lets the test wait
// for one.
class LineCollector {
 public:
  LineCallback callback() {
    return [this](std::string_view line) {
      {
        std::lock_guard lock(mutex_);
        lines_.emplace_back(line);
      }
      arrived_.notify_all();
    };
  }
  // Waits until a line equal to `line` has arrived; false on kEventTimeout.
  bool wait_for(const std::string& line) {
    std::unique_lock lock(mutex_);
    return arrived_.wait_for(lock, kEventTimeout, [&] {
      return std::find(lines_.begin(), lines_.end(), line) != lines_.end();
    });
  }
  // Waits for the first line and returns it ("" on timeout).
  std::string first_line() {
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, kEventTimeout, [&] { return !lines_.empty(); });
    return lines_.empty() ? "" : lines_.front();
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<std::string> lines_;
};

class LauncherTest : public ::testing::Test {
 protected:
  // A request running `script_body` with /bin/sh in the test's run directory.
  LaunchRequest shell_request(const std::string& script_body) {
    LaunchRequest request;
    request.run_id = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    request.argv = {"/bin/sh", dir_.write("trainer.sh", script_body)};
    request.run_dir = dir_.path();
    request.kill_grace = kShortGrace;
    return request;
  }

  std::string read_run_file(const std::string& name) {
    std::ifstream in(std::filesystem::path(dir_.path()) / name, std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
  }

  testing::TempDir dir_{"ctd-launcher"};
  LocalProcessLauncher launcher_;
  LineCollector collector_;
};

// True once the process behind `pidfd` has exited (waits up to kEventTimeout).
bool process_ends(int pidfd) {
  pollfd entry{pidfd, POLLIN, 0};
  const int timeout_ms = static_cast<int>(std::chrono::milliseconds(kEventTimeout).count());
  return ::poll(&entry, 1, timeout_ms) == 1;
}

TEST_F(LauncherTest, RunStatusNames) {
  EXPECT_EQ(run_status_name(RunStatus::kSucceeded), "succeeded");
  EXPECT_EQ(run_status_name(RunStatus::kFailed), "failed");
  EXPECT_EQ(run_status_name(RunStatus::kCancelled), "cancelled");
  EXPECT_EQ(run_status_name(RunStatus::kTimedOut), "timed_out");
}

TEST_F(LauncherTest, SuccessDeliversProgressLinesInOrderAndLogsStdout) {
  auto handle = launcher_.launch(shell_request(R"(
i=1
while [ $i -le 200 ]; do
  echo "{\"phase\":\"train\",\"step\":$i,\"loss\":0.5}"
  i=$((i+1))
done
echo "a plain note"
)"),
                                 collector_.callback());
  EXPECT_GT(handle->pid(), 0);
  const RunOutcome outcome = handle->wait();

  EXPECT_EQ(outcome.status, RunStatus::kSucceeded);
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_EQ(outcome.signal, 0);
  EXPECT_EQ(outcome.reason, "exited with code 0");
  std::vector<std::string> expected;
  std::string expected_log;
  for (int step = 1; step <= 200; ++step) {
    expected.push_back("{\"phase\":\"train\",\"step\":" + std::to_string(step) + ",\"loss\":0.5}");
    expected_log += expected.back() + "\n";
  }
  expected.push_back("a plain note");
  expected_log += "a plain note\n";
  EXPECT_EQ(collector_.lines(), expected);
  EXPECT_EQ(read_run_file("stdout.log"), expected_log);
  // JSON progress stays out of the failure tail; other stdout lines are kept.
  EXPECT_THAT(outcome.last_lines, ElementsAre("a plain note"));
  ASSERT_TRUE(handle->poll().has_value());
  EXPECT_EQ(handle->poll()->status, RunStatus::kSucceeded);
}

TEST_F(LauncherTest, NonZeroExitFailsWithTheLastStderrLines) {
  auto handle = launcher_.launch(shell_request(R"(
i=1
while [ $i -le 30 ]; do echo "error line $i" >&2; i=$((i+1)); done
exit 3
)"),
                                 nullptr);
  const RunOutcome outcome = handle->wait();

  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.exit_code, 3);
  EXPECT_EQ(outcome.reason, "exited with code 3");
  std::vector<std::string> expected_tail;
  std::string expected_log;
  for (int line = 1; line <= 30; ++line) {
    expected_log += "error line " + std::to_string(line) + "\n";
    if (line > 10) expected_tail.push_back("error line " + std::to_string(line));
  }
  EXPECT_EQ(outcome.last_lines, expected_tail);
  EXPECT_EQ(read_run_file("stderr.log"), expected_log);
}

TEST_F(LauncherTest, CrashBySegfaultIsFailedWithTheSignalName) {
  const RunOutcome outcome =
      launcher_.launch(shell_request("echo about to crash >&2\nkill -SEGV $$\n"), nullptr)->wait();

  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.signal, SIGSEGV);
  EXPECT_EQ(outcome.exit_code, -1);
  EXPECT_EQ(outcome.reason, "killed by signal 11 (SIGSEGV): crashed");
  EXPECT_THAT(outcome.last_lines, ElementsAre("about to crash"));
}

TEST_F(LauncherTest, SigkillIsFailedWithAnOutOfMemoryHint) {
  const RunOutcome outcome = launcher_.launch(shell_request("kill -KILL $$\n"), nullptr)->wait();

  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.signal, SIGKILL);
  EXPECT_THAT(outcome.reason, StartsWith("killed by signal 9 (SIGKILL): out of memory?"));
}

TEST_F(LauncherTest, TimeoutSendsSigtermFirst) {
  LaunchRequest request = shell_request("sleep 1000\n");
  request.timeout = kShortTimeout;
  request.kill_grace = kEventTimeout;  // a SIGKILL would come far too late to pass
  const RunOutcome outcome = launcher_.launch(request, nullptr)->wait();

  EXPECT_EQ(outcome.status, RunStatus::kTimedOut);
  EXPECT_EQ(outcome.signal, SIGTERM);
  EXPECT_EQ(outcome.reason, "timed out after 200ms (SIGTERM)");
}

TEST_F(LauncherTest, TimeoutLetsATrainerStopGracefullyOnSigterm) {
  LaunchRequest request = shell_request(R"(
trap 'echo "saving checkpoint" >&2; exit 0' TERM
sleep 1000 &
wait
)");
  request.timeout = kTrapSafeTimeout;
  request.kill_grace = kEventTimeout;
  const RunOutcome outcome = launcher_.launch(request, nullptr)->wait();

  // It exited 0 in its handler, but a run that ran out of time stays timed out.
  EXPECT_EQ(outcome.status, RunStatus::kTimedOut);
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_THAT(outcome.last_lines, ElementsAre("saving checkpoint"));
}

TEST_F(LauncherTest, TimeoutEscalatesToSigkillWhenSigtermIsIgnored) {
  LaunchRequest request = shell_request("trap '' TERM\nsleep 1000\n");
  request.timeout = kTrapSafeTimeout;
  const RunOutcome outcome = launcher_.launch(request, nullptr)->wait();

  EXPECT_EQ(outcome.status, RunStatus::kTimedOut);
  EXPECT_EQ(outcome.signal, SIGKILL);
  EXPECT_EQ(outcome.reason, "timed out after 1s (SIGTERM, then SIGKILL after 200ms grace)");
}

TEST_F(LauncherTest, CancelWhileRunning) {
  auto handle =
      launcher_.launch(shell_request("echo started\nsleep 1000\n"), collector_.callback());
  ASSERT_TRUE(collector_.wait_for("started"));
  EXPECT_FALSE(handle->poll().has_value());
  handle->cancel("superseded by a newer run");
  handle->cancel("a second cancel changes nothing");
  const RunOutcome outcome = handle->wait();

  EXPECT_EQ(outcome.status, RunStatus::kCancelled);
  EXPECT_EQ(outcome.signal, SIGTERM);
  EXPECT_EQ(outcome.reason, "cancelled: superseded by a newer run");
  EXPECT_EQ(handle->wait().status, RunStatus::kCancelled);  // wait() may be repeated
}

TEST_F(LauncherTest, CancelEscalatesToSigkillWhenSigtermIsIgnored) {
  auto handle = launcher_.launch(shell_request("trap '' TERM\necho started\nsleep 1000\n"),
                                 collector_.callback());
  ASSERT_TRUE(collector_.wait_for("started"));
  handle->cancel("operator");
  const RunOutcome outcome = handle->wait();

  EXPECT_EQ(outcome.status, RunStatus::kCancelled);
  EXPECT_EQ(outcome.signal, SIGKILL);
  EXPECT_EQ(outcome.reason, "cancelled: operator (SIGKILL after 200ms grace)");
}

// Makes the calling thread look like a daemon thread for the life of the object: SIGTERM and
// SIGINT blocked (daemon/signals.h), SIGPIPE ignored process-wide. Restores both.
class DaemonSignalState {
 public:
  DaemonSignalState() {
    sigset_t shutdown;
    sigemptyset(&shutdown);
    sigaddset(&shutdown, SIGTERM);
    sigaddset(&shutdown, SIGINT);
    ::pthread_sigmask(SIG_BLOCK, &shutdown, &previous_mask_);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ignore, &previous_pipe_);
  }
  ~DaemonSignalState() {
    ::sigaction(SIGPIPE, &previous_pipe_, nullptr);
    ::pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
  }

 private:
  sigset_t previous_mask_;
  struct sigaction previous_pipe_ {};
};

// Signal masks and ignored signals survive fork and exec: the trainer must not inherit them.
// grep is exec'd directly (a shell would adjust its own mask) and reports its own state.
TEST_F(LauncherTest, TrainerStartsWithAnEmptySignalMaskAndNoIgnoredSignals) {
  DaemonSignalState daemon_like;
  LaunchRequest request = shell_request("");
  request.argv = {"/bin/grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"};
  const RunOutcome outcome = launcher_.launch(request, collector_.callback())->wait();

  EXPECT_EQ(outcome.status, RunStatus::kSucceeded) << outcome.reason;
  EXPECT_THAT(collector_.lines(),
              ElementsAre("SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"));
}

TEST_F(LauncherTest, SigtermReachesTheTrainersHandlerWhenTheDaemonBlocksIt) {
  DaemonSignalState daemon_like;
  LaunchRequest request = shell_request(R"(
trap 'echo "graceful stop" >&2; exit 0' TERM
echo started
sleep 1000 &
wait
)");
  request.kill_grace = kEventTimeout;  // only a delivered SIGTERM ends it in time
  auto handle = launcher_.launch(request, collector_.callback());
  ASSERT_TRUE(collector_.wait_for("started"));
  handle->cancel("shutdown");
  const RunOutcome outcome = handle->wait();

  EXPECT_EQ(outcome.status, RunStatus::kCancelled);  // stays cancelled although it exited 0
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_EQ(outcome.signal, 0);
  EXPECT_EQ(outcome.reason, "cancelled: shutdown");
  EXPECT_THAT(outcome.last_lines, ElementsAre("started", "graceful stop"));
}

TEST_F(LauncherTest, CancelKillsGrandchildrenWithTheGroup) {
  auto handle =
      launcher_.launch(shell_request("sleep 1000 &\necho $!\nwait\n"), collector_.callback());
  const pid_t grandchild = std::stoi(collector_.first_line());
  const int pidfd = open_pidfd(grandchild);
  ASSERT_GE(pidfd, 0) << "the grandchild should be running";
  handle->cancel("test");
  EXPECT_EQ(handle->wait().status, RunStatus::kCancelled);
  EXPECT_TRUE(process_ends(pidfd));
  ::close(pidfd);
}

TEST_F(LauncherTest, LeftoverGrandchildrenAreKilledWhenTheTrainerExits) {
  // The background sleep keeps stdout open: without the group kill, the pipe would never close.
  std::optional<int> pidfd;
  auto handle = launcher_.launch(
      shell_request("sleep 1000 &\necho $!\nexit 0\n"),
      [&pidfd](std::string_view line) { pidfd = open_pidfd(std::stoi(std::string(line))); });
  const RunOutcome outcome = handle->wait();

  EXPECT_EQ(outcome.status, RunStatus::kSucceeded);
  ASSERT_TRUE(pidfd.has_value());
  ASSERT_GE(*pidfd, 0) << "the grandchild should still be running when its pid is printed";
  EXPECT_TRUE(process_ends(*pidfd));
  ::close(*pidfd);
}

TEST_F(LauncherTest, DestroyingTheHandleKillsAndReapsTheChild) {
  auto handle =
      launcher_.launch(shell_request("echo started\nsleep 1000\n"), collector_.callback());
  ASSERT_TRUE(collector_.wait_for("started"));
  const pid_t pid = handle->pid();
  handle.reset();
  // Reaped: no longer a child of ours, not even a zombie.
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

// PR_SET_PDEATHSIG fires when the thread that forked exits: the trainer must be tied to its
// supervising thread, not to the (possibly short-lived) thread that called launch().
TEST_F(LauncherTest, TrainerOutlivesTheThreadThatLaunchedIt) {
  std::unique_ptr<RunHandle> handle;
  std::thread launching_thread([&] {
    handle = launcher_.launch(shell_request("echo started\nsleep 1000\n"), collector_.callback());
  });
  launching_thread.join();
  ASSERT_TRUE(collector_.wait_for("started"));
  handle->cancel("test");
  const RunOutcome outcome = handle->wait();

  EXPECT_EQ(outcome.status, RunStatus::kCancelled);
  EXPECT_EQ(outcome.signal, SIGTERM);  // not the SIGKILL of a parent-death signal
}

// A daemon that is SIGKILLed (no destructors run) must not leave its trainers running.
TEST_F(LauncherTest, TrainerDiesWithAKilledDaemon) {
  int pid_pipe[2];
  ASSERT_EQ(::pipe(pid_pipe), 0);
  // Only this thread runs now (earlier runs' threads are joined), so the fork is safe.
  const pid_t daemon = ::fork();
  ASSERT_GE(daemon, 0);
  if (daemon == 0) {
    ::close(pid_pipe[0]);
    LocalProcessLauncher launcher;
    auto handle = launcher.launch(shell_request("exec sleep 1000\n"), nullptr);
    const int trainer = handle->pid();
    [[maybe_unused]] const ssize_t written = ::write(pid_pipe[1], &trainer, sizeof trainer);
    handle->wait();  // until killed
    _exit(1);
  }
  ::close(pid_pipe[1]);
  int trainer = -1;
  ASSERT_EQ(::read(pid_pipe[0], &trainer, sizeof trainer), static_cast<ssize_t>(sizeof trainer));
  ::close(pid_pipe[0]);
  ASSERT_GT(trainer, 0);
  const int trainer_pidfd = open_pidfd(trainer);
  ASSERT_GE(trainer_pidfd, 0);

  ::kill(daemon, SIGKILL);
  ASSERT_EQ(::waitpid(daemon, nullptr, 0), daemon);
  EXPECT_TRUE(process_ends(trainer_pidfd));
  ::close(trainer_pidfd);
}

TEST_F(LauncherTest, MissingExecutableCannotStart) {
  LaunchRequest request = shell_request("");
  request.argv = {dir_.path() + "/no-such-trainer", "--spec", "run.json"};
  auto handle = launcher_.launch(request, nullptr);
  const RunOutcome outcome = handle->wait();

  EXPECT_EQ(handle->pid(), -1);
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.reason,
            "could not start: " + dir_.path() + "/no-such-trainer: No such file or directory");
}

TEST_F(LauncherTest, MissingRunDirectoryOrEmptyArgvCannotStart) {
  LaunchRequest request = shell_request("exit 0\n");
  request.run_dir = dir_.path() + "/missing";
  RunOutcome outcome = launcher_.launch(request, nullptr)->wait();
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_THAT(outcome.reason, StartsWith("could not start: " + dir_.path() + "/missing/"));

  request = shell_request("exit 0\n");
  request.argv.clear();
  outcome = launcher_.launch(request, nullptr)->wait();
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.reason, "could not start: empty argv");
}

TEST_F(LauncherTest, MemoryLimitExceededFails) {
  LaunchRequest request = shell_request("");
  request.memory_limit_bytes = 512ull << 20;
  request.argv = {"/usr/bin/python3", "-c", "block = bytearray(16 << 20); print('small ok')"};
  const RunOutcome within = launcher_.launch(request, nullptr)->wait();
  EXPECT_EQ(within.status, RunStatus::kSucceeded) << within.reason;

  request.argv = {"/usr/bin/python3", "-c", "block = bytearray(4 << 30)"};
  const RunOutcome beyond = launcher_.launch(request, nullptr)->wait();
  EXPECT_EQ(beyond.status, RunStatus::kFailed);
  EXPECT_EQ(beyond.reason, "exited with code 1 (memory limit 512 MiB)");
  EXPECT_THAT(beyond.last_lines, Contains(HasSubstr("MemoryError")));
}

TEST_F(LauncherTest, EnvironmentWorkingDirectoryStdinAndDescriptors) {
  ASSERT_EQ(::setenv("CTD_LAUNCHER_INHERITED", "from the daemon", 1), 0);
  ASSERT_EQ(::setenv("CTD_LAUNCHER_OVERRIDDEN", "old", 1), 0);
  const int leaked = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC: must not reach the child
  ASSERT_GE(leaked, 0);
  LaunchRequest request = shell_request(
      "echo \"$CTD_RUN_VAR|$CTD_LAUNCHER_INHERITED|$CTD_LAUNCHER_OVERRIDDEN\"\n"
      "pwd\n"
      "readlink /proc/$$/fd/0\n"
      "if [ -e /proc/$$/fd/" +
      std::to_string(leaked) + " ]; then echo leaked; else echo closed; fi\n");
  request.argv[0] = "sh";  // looked up in PATH
  request.env = {{"CTD_RUN_VAR", "hello world"}, {"CTD_LAUNCHER_OVERRIDDEN", "new"}};
  const RunOutcome outcome = launcher_.launch(request, collector_.callback())->wait();
  ::close(leaked);
  ::unsetenv("CTD_LAUNCHER_INHERITED");
  ::unsetenv("CTD_LAUNCHER_OVERRIDDEN");

  EXPECT_EQ(outcome.status, RunStatus::kSucceeded) << outcome.reason;
  EXPECT_THAT(collector_.lines(),
              ElementsAre("hello world|from the daemon|new",
                          std::filesystem::canonical(dir_.path()).string(), "/dev/null", "closed"));
}

TEST_F(LauncherTest, HugeLinesAreCutInMemoryButLoggedWhole) {
  const RunOutcome outcome = launcher_
                                 .launch(shell_request(R"(
head -c 200000 /dev/zero | tr '\0' a
echo
echo '{"after":1}'
)"),
                                         collector_.callback())
                                 ->wait();

  EXPECT_EQ(outcome.status, RunStatus::kSucceeded);
  const std::vector<std::string> lines = collector_.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], std::string(kMaxLineBytes, 'a'));
  EXPECT_EQ(lines[1], "{\"after\":1}");
  EXPECT_EQ(read_run_file("stdout.log"), std::string(200000, 'a') + "\n{\"after\":1}\n");
  ASSERT_EQ(outcome.last_lines.size(), 1u);
  EXPECT_EQ(outcome.last_lines[0], std::string(kMaxTailLineBytes, 'a') + "…");
}

TEST_F(LauncherTest, LogFileStopsAtItsLimit) {
  LaunchRequest request = shell_request("head -c 1000 /dev/zero | tr '\\0' b\necho\n");
  request.log_limit_bytes = 100;
  EXPECT_EQ(launcher_.launch(request, nullptr)->wait().status, RunStatus::kSucceeded);
  EXPECT_EQ(read_run_file("stdout.log"), std::string(100, 'b') + "\n[ctd: log cut at 100 bytes]\n");
}

TEST_F(LauncherTest, ALastLineWithoutNewlineIsDelivered) {
  launcher_.launch(shell_request("printf 'first\\nlast'\n"), collector_.callback())->wait();
  EXPECT_THAT(collector_.lines(), ElementsAre("first", "last"));
}

TEST_F(LauncherTest, AThrowingLineCallbackDoesNotStopTheRun) {
  int calls = 0;
  const RunOutcome outcome = launcher_
                                 .launch(shell_request("echo one\necho two\n"),
                                         [&calls](std::string_view) {
                                           ++calls;
                                           throw std::runtime_error("bad progress line");
                                         })
                                 ->wait();
  EXPECT_EQ(outcome.status, RunStatus::kSucceeded);
  EXPECT_EQ(calls, 2);
}

TEST_F(LauncherTest, ManyConcurrentRuns) {
  constexpr int kRuns = 24;
  constexpr int kLinesPerRun = 50;
  std::vector<std::unique_ptr<testing::TempDir>> dirs;
  std::vector<std::unique_ptr<LineCollector>> collectors;
  std::vector<std::unique_ptr<RunHandle>> handles;
  for (int run = 0; run < kRuns; ++run) {
    dirs.push_back(std::make_unique<testing::TempDir>("ctd-launcher-many"));
    collectors.push_back(std::make_unique<LineCollector>());
    LaunchRequest request;
    request.run_id = "run-" + std::to_string(run);
    request.run_dir = dirs.back()->path();
    request.argv = {"/bin/sh", dirs.back()->write("trainer.sh", R"(
i=1
while [ $i -le )" + std::to_string(kLinesPerRun) + R"( ]; do echo "$RUN $i"; i=$((i+1)); done
exit $(( RUN % 3 ))
)")};
    request.env = {{"RUN", std::to_string(run)}};
    handles.push_back(launcher_.launch(request, collectors.back()->callback()));
  }
  for (int run = 0; run < kRuns; ++run) {
    const RunOutcome outcome = handles[run]->wait();
    EXPECT_EQ(outcome.exit_code, run % 3) << "run " << run;
    EXPECT_EQ(outcome.status, run % 3 == 0 ? RunStatus::kSucceeded : RunStatus::kFailed);
    std::vector<std::string> expected;
    for (int line = 1; line <= kLinesPerRun; ++line) {
      expected.push_back(std::to_string(run) + " " + std::to_string(line));
    }
    EXPECT_EQ(collectors[run]->lines(), expected) << "run " << run;
  }
}

}  // namespace
}  // namespace ctd::training
