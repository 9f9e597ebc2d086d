// Launching and supervising trainer processes (`ctd-train`), one per training run.
//
// A `Launcher` starts a run from a `LaunchRequest` (argv, run directory, environment, limits)
// and returns a `RunHandle`: the caller waits for or polls the `RunOutcome`, or cancels. The
// outcome says in one line why a run ended (exit code, signal, timeout, cancel, could not
// start) and carries the last lines the trainer wrote, for the failure record. A trainer that
// crashes, hangs, runs out of memory or is killed only ends its own run: nothing here throws
// out of a supervising thread or takes the daemon down.
//
// `LocalProcessLauncher` runs the trainer as a local child process; a Kubernetes Job launcher
// can implement the same interface later.
//
// Thread-safety: `Launcher::launch` may be called from any thread, concurrently. A `RunHandle`
// is owned by one caller, but `cancel`, `poll` and `pid` may be called from any thread while
// another thread is in `wait`.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ctd::training {

struct LaunchRequest {
  std::string run_id;                      // for logs and reasons
  std::vector<std::string> argv;           // argv[0] is the executable path (see below)
  std::filesystem::path run_dir;           // working directory; logs are written here
  std::map<std::string, std::string> env;  // added to / overriding the daemon's environment
  // 0 = none; on expiry SIGTERM, then SIGKILL after kill_grace.
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds kill_grace{std::chrono::seconds(10)};
  // 0 = none; RLIMIT_AS in the child. It limits address space, not resident memory: CUDA and
  // some allocators reserve far more than they touch, so set it for CPU trainers only.
  std::uint64_t memory_limit_bytes = 0;
  // Additions beyond the shared contract:
  std::size_t tail_lines = 20;                 // lines kept for RunOutcome::last_lines
  std::uint64_t log_limit_bytes = 1ull << 30;  // per log file; 0 = unlimited
  bool allow_core_dumps = false;               // false: RLIMIT_CORE 0 in the child
};

enum class RunStatus { kSucceeded, kFailed, kCancelled, kTimedOut };

// "succeeded", "failed", "cancelled", "timed_out".
std::string_view run_status_name(RunStatus status);

struct RunOutcome {
  RunStatus status = RunStatus::kFailed;
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal ended it
  // One line for people: "exited with code 3", "killed by signal 9 (SIGKILL): out of memory?",
  // "timed out after 30s (SIGTERM, then SIGKILL after 10s grace)", "cancelled: <why>",
  // "could not start: <errno text>".
  std::string reason;
  // The last `LaunchRequest::tail_lines` lines of stderr and of the stdout lines that were not
  // JSON progress (a stdout line is taken for progress when it starts with '{'), in arrival
  // order; each cut to kMaxTailLineBytes.
  std::vector<std::string> last_lines;
  std::chrono::milliseconds wall{0};  // from start to exit
};

// One running child. Thread-safe: cancel() may be called from any thread while another waits.
class RunHandle {
 public:
  // A destroyed handle of a live child cancels it and reaps it (never leaks a process or
  // zombie); this blocks for up to the kill grace period.
  virtual ~RunHandle() = default;
  // SIGTERM, SIGKILL after the grace period. No effect once the run has ended or was already
  // stopped (cancelled or timed out): the first cause wins.
  virtual void cancel(std::string why) = 0;
  // Blocks until the child is gone and its pipes drained. May be called more than once.
  virtual RunOutcome wait() = 0;
  // Non-blocking: the outcome if the run has ended.
  virtual std::optional<RunOutcome> poll() = 0;
  // The child's process id (also its process group id); -1 if it could not be started.
  virtual int pid() const = 0;
};

// Called (on the supervising thread) for each complete stdout line, without the newline. A
// final line without a newline is delivered at end of output. Lines longer than
// kMaxLineBytes are cut to their first kMaxLineBytes bytes (the log file keeps them whole).
// It must not block for long (timeouts are checked between lines) and must not call wait()
// on its own run; exceptions it throws are logged and swallowed.
using LineCallback = std::function<void(std::string_view line)>;

// Longest stdout/stderr line held in memory (callback, tail); longer lines are cut.
inline constexpr std::size_t kMaxLineBytes = 64 * 1024;
// Longest line kept in RunOutcome::last_lines.
inline constexpr std::size_t kMaxTailLineBytes = 2 * 1024;

class Launcher {
 public:
  virtual ~Launcher() = default;
  // Starts a run. Never throws for a trainer problem: a run that cannot start comes back as a
  // handle whose outcome is kFailed "could not start: ...".
  virtual std::unique_ptr<RunHandle> launch(const LaunchRequest& request,
                                            LineCallback on_stdout_line) = 0;
};

// Runs each trainer as a local child process, supervised by one thread per run.
//
// The child runs in its own process group (timeouts and cancels signal the whole group, so
// grandchildren die too), with stdin from /dev/null, an empty signal mask and default signal
// dispositions (the daemon blocks SIGTERM/SIGINT, and masks survive exec), no inherited file
// descriptors beyond 0-2, its working directory set to run_dir, PR_SET_PDEATHSIG SIGKILL (it
// dies with the supervising thread, i.e. with the daemon), and the requested rlimits.
// argv[0] without a '/' is looked up in PATH (the request's env, else the daemon's); a
// relative argv[0] with a '/' is relative to run_dir.
//
// stdout is appended to run_dir/stdout.log, stderr to run_dir/stderr.log. When the trainer
// exits, whatever is left of its process group is SIGKILLed before it is reaped, and the pipes
// are drained (for at most kDrainTimeout, in case an escaped process still holds them).
//
// Children are reaped with waitpid on their own pid: the daemon must not set SIGCHLD to
// SIG_IGN or reap with waitpid(-1) elsewhere.
class LocalProcessLauncher final : public Launcher {
 public:
  static constexpr std::chrono::milliseconds kDrainTimeout{2000};

  std::unique_ptr<RunHandle> launch(const LaunchRequest& request,
                                    LineCallback on_stdout_line) override;
};

}  // namespace ctd::training
