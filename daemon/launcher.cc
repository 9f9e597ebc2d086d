#include "daemon/launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon/child_process.h"
#include "daemon/run_output.h"

namespace ctd::training {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string_view run_status_name(RunStatus status) {
  switch (status) {
    case RunStatus::kSucceeded:
      return "succeeded";
    case RunStatus::kFailed:
      return "failed";
    case RunStatus::kCancelled:
      return "cancelled";
    case RunStatus::kTimedOut:
      return "timed_out";
  }
  return "unknown";
}

namespace {

// Without a pidfd (kernels before 5.3) the supervisor checks for the child's exit this often.
constexpr milliseconds kExitCheckInterval{50};
constexpr std::uint64_t kBytesPerMiB = 1024 * 1024;

// "30s" for whole seconds, else "200ms".
std::string format_duration(milliseconds duration) {
  if (duration.count() % 1000 == 0) return fmt::format("{}s", duration.count() / 1000);
  return fmt::format("{}ms", duration.count());
}

std::string signal_name(int signal_number) {
  const char* abbreviation = ::sigabbrev_np(signal_number);
  return abbreviation != nullptr ? fmt::format("SIG{}", abbreviation) : "unknown signal";
}

// "killed by signal 11 (SIGSEGV): crashed".
std::string describe_signal(int signal_number) {
  std::string text =
      fmt::format("killed by signal {} ({})", signal_number, signal_name(signal_number));
  switch (signal_number) {
    case SIGKILL:
      return text + ": out of memory? (the OOM killer sends SIGKILL)";
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
      return text + ": crashed";
    case SIGABRT:
      return text + ": aborted";
    default:
      return text;
  }
}

RunOutcome could_not_start(std::string_view why) {
  RunOutcome outcome;
  outcome.status = RunStatus::kFailed;
  outcome.reason = fmt::format("could not start: {}", why);
  return outcome;
}

FileDescriptor open_log(const std::filesystem::path& path, std::string& error) {
  FileDescriptor log(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log.valid()) error = fmt::format("{}: {}", path.string(), ::strerror(errno));
  return log;
}

// What the handle and its supervising thread share.
struct SharedState {
  mutable std::mutex mutex;
  std::condition_variable changed;
  bool spawned = false;  // the child was started or could not be
  int pid = -1;
  std::optional<std::string> cancel_why;  // set by cancel(), taken by the supervisor
  std::optional<RunOutcome> outcome;
  FileDescriptor wake;  // eventfd: written by cancel() to wake the supervisor's poll

  void publish_spawned(int child_pid) {
    {
      std::lock_guard lock(mutex);
      if (spawned) return;
      spawned = true;
      pid = child_pid;
    }
    changed.notify_all();
  }
};

// Why the supervisor is stopping the child, if it is.
enum class StopCause { kNone, kCancelled, kTimedOut };

// The body of one run's supervising thread: starts the child, copies its output, enforces the
// timeout and cancel requests, reaps it. Everything here runs on that thread.
class Supervisor {
 public:
  Supervisor(const LaunchRequest& request, LineCallback& on_stdout_line, SharedState& shared,
             std::vector<std::string> envp)
      : request_(request),
        on_stdout_line_(on_stdout_line),
        shared_(shared),
        envp_(std::move(envp)),
        tail_(request.tail_lines, kMaxTailLineBytes) {}

  RunOutcome run();
  // After an unexpected exception: kills and reaps the child if there is one.
  RunOutcome abandon(std::string_view what);

 private:
  std::optional<std::string> start();
  std::optional<std::string> open_streams(int stdout_write[2], int stderr_write[2]);
  void supervise_until_done();
  int poll_timeout_ms(Clock::time_point now) const;
  void check_exit();
  void take_cancel_request();
  void enforce_deadlines(Clock::time_point now);
  void stop(StopCause cause, std::string why);
  void signal_group(int signal_number);
  void handle_stdout_line(std::string_view line);
  RunOutcome outcome() const;
  std::string stop_reason() const;
  std::string exit_reason() const;

  const LaunchRequest& request_;
  LineCallback& on_stdout_line_;
  SharedState& shared_;
  std::vector<std::string> envp_;
  LineTail tail_;
  std::optional<OutputStream> stdout_;
  std::optional<OutputStream> stderr_;
  FileDescriptor pidfd_;
  pid_t pid_ = -1;
  Clock::time_point started_at_;
  Clock::time_point ended_at_;
  bool exited_ = false;
  std::optional<int> wait_status_;  // nullopt if exited_ but the status was lost
  Clock::time_point drain_deadline_;
  StopCause stop_cause_ = StopCause::kNone;
  std::string stop_why_;
  bool escalated_ = false;  // SIGKILL sent after the grace period
  Clock::time_point kill_deadline_;
  bool callback_failed_ = false;
};

RunOutcome Supervisor::run() {
  if (std::optional<std::string> error = start()) {
    shared_.publish_spawned(-1);
    return could_not_start(*error);
  }
  shared_.publish_spawned(pid_);
  supervise_until_done();
  for (const OutputStream* stream : {&*stdout_, &*stderr_}) {
    if (!stream->log_error().empty()) {
      spdlog::warn("run {}: {}", request_.run_id, stream->log_error());
    }
  }
  return outcome();
}

std::optional<std::string> Supervisor::start() {
  if (request_.argv.empty()) return "empty argv";
  int stdout_pipe[2] = {-1, -1};
  int stderr_pipe[2] = {-1, -1};
  if (std::optional<std::string> error = open_streams(stdout_pipe, stderr_pipe)) return error;
  FileDescriptor stdout_write(stdout_pipe[1]);
  FileDescriptor stderr_write(stderr_pipe[1]);
  ChildSpec spec{.executable = resolve_executable(request_.argv[0], envp_),
                 .argv = request_.argv,
                 .envp = std::move(envp_),
                 .work_dir = request_.run_dir.string(),
                 .memory_limit_bytes = request_.memory_limit_bytes,
                 .allow_core_dumps = request_.allow_core_dumps,
                 .stdout_fd = stdout_write.get(),
                 .stderr_fd = stderr_write.get()};
  started_at_ = Clock::now();
  SpawnResult spawned = spawn_child(spec);
  if (spawned.pid < 0) return spawned.error;
  pid_ = spawned.pid;
  pidfd_.reset(open_pidfd(pid_));  // may fail on old kernels: then exits are polled for
  return std::nullopt;
}

// Creates both pipes (read ends non-blocking, all close-on-exec) and opens the log files;
// returns the write ends through the arrays.
std::optional<std::string> Supervisor::open_streams(int stdout_pipe[2], int stderr_pipe[2]) {
  std::string error;
  FileDescriptor stdout_log = open_log(request_.run_dir / "stdout.log", error);
  FileDescriptor stderr_log = open_log(request_.run_dir / "stderr.log", error);
  if (!error.empty()) return error;
  if (::pipe2(stdout_pipe, O_CLOEXEC) != 0) return fmt::format("pipe: {}", ::strerror(errno));
  FileDescriptor stdout_read(stdout_pipe[0]);
  if (::pipe2(stderr_pipe, O_CLOEXEC) != 0) {
    const int pipe_errno = errno;
    ::close(stdout_pipe[1]);
    return fmt::format("pipe: {}", ::strerror(pipe_errno));
  }
  FileDescriptor stderr_read(stderr_pipe[0]);
  ::fcntl(stdout_read.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(stderr_read.get(), F_SETFL, O_NONBLOCK);
  stdout_.emplace(std::move(stdout_read), std::move(stdout_log), request_.log_limit_bytes,
                  kMaxLineBytes, [this](std::string_view line) { handle_stdout_line(line); });
  stderr_.emplace(std::move(stderr_read), std::move(stderr_log), request_.log_limit_bytes,
                  kMaxLineBytes, [this](std::string_view line) { tail_.add(line); });
  return std::nullopt;
}

void Supervisor::supervise_until_done() {
  while (true) {
    const Clock::time_point now = Clock::now();
    if (exited_ && ((!stdout_->open() && !stderr_->open()) || now >= drain_deadline_)) break;
    std::vector<pollfd> fds;
    for (OutputStream* stream : {&*stdout_, &*stderr_}) {
      if (stream->open()) fds.push_back({stream->fd(), POLLIN, 0});
    }
    fds.push_back({shared_.wake.get(), POLLIN, 0});
    if (!exited_ && pidfd_.valid()) fds.push_back({pidfd_.get(), POLLIN, 0});
    if (::poll(fds.data(), fds.size(), poll_timeout_ms(now)) < 0 && errno != EINTR) {
      throw std::runtime_error(fmt::format("poll: {}", ::strerror(errno)));
    }
    for (const pollfd& entry : fds) {
      if (entry.revents == 0) continue;
      if (entry.fd == stdout_->fd()) stdout_->read_available();
      if (entry.fd == stderr_->fd()) stderr_->read_available();
    }
    std::uint64_t wakeups = 0;
    [[maybe_unused]] const ssize_t ignored = ::read(shared_.wake.get(), &wakeups, sizeof wakeups);
    if (exited_) continue;
    check_exit();
    if (exited_) continue;
    take_cancel_request();
    enforce_deadlines(Clock::now());
  }
  stdout_->close();
  stderr_->close();
}

int Supervisor::poll_timeout_ms(Clock::time_point now) const {
  std::optional<Clock::time_point> next;
  auto consider = [&next](Clock::time_point deadline) {
    next = next ? std::min(*next, deadline) : deadline;
  };
  if (exited_) consider(drain_deadline_);
  if (!exited_ && !pidfd_.valid()) consider(now + kExitCheckInterval);
  if (!exited_ && stop_cause_ == StopCause::kNone && request_.timeout.count() > 0) {
    consider(started_at_ + request_.timeout);
  }
  if (!exited_ && stop_cause_ != StopCause::kNone && !escalated_) consider(kill_deadline_);
  if (!next) return -1;
  // Rounded up, so the deadline has passed when poll returns.
  const auto wait = std::chrono::ceil<milliseconds>(*next - now);
  return static_cast<int>(std::clamp<std::int64_t>(wait.count(), 0, 1'000'000));
}

// Notices the child's exit without reaping it first: while the zombie holds the pid, the
// process group id cannot be reused, so killing what is left of the group is safe. Then reaps.
void Supervisor::check_exit() {
  siginfo_t info{};
  if (::waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno == EINTR) return;
    // Reaped by someone else: the pid may already be reused, so signal nothing.
    spdlog::error("run {}: waitid on pid {} failed: {}", request_.run_id, pid_, ::strerror(errno));
    ended_at_ = Clock::now();
    exited_ = true;
    drain_deadline_ = ended_at_ + LocalProcessLauncher::kDrainTimeout;
    return;
  }
  if (info.si_pid != pid_) return;  // still running
  ended_at_ = Clock::now();
  ::kill(-pid_, SIGKILL);  // leftovers of the group (background helpers, stuck grandchildren)
  int status = 0;
  pid_t reaped;
  do {
    reaped = ::waitpid(pid_, &status, 0);
  } while (reaped < 0 && errno == EINTR);
  if (reaped == pid_) wait_status_ = status;
  exited_ = true;
  drain_deadline_ = ended_at_ + LocalProcessLauncher::kDrainTimeout;
}

void Supervisor::take_cancel_request() {
  std::optional<std::string> why;
  {
    std::lock_guard lock(shared_.mutex);
    why.swap(shared_.cancel_why);
  }
  if (why) stop(StopCause::kCancelled, std::move(*why));
}

void Supervisor::enforce_deadlines(Clock::time_point now) {
  if (stop_cause_ == StopCause::kNone && request_.timeout.count() > 0 &&
      now >= started_at_ + request_.timeout) {
    stop(StopCause::kTimedOut, {});
  }
  if (stop_cause_ != StopCause::kNone && !escalated_ && now >= kill_deadline_) {
    spdlog::warn("run {}: still running {} after SIGTERM, sending SIGKILL", request_.run_id,
                 format_duration(request_.kill_grace));
    signal_group(SIGKILL);
    escalated_ = true;
  }
}

// SIGTERM now, SIGKILL when the grace period ends. The first cause wins.
void Supervisor::stop(StopCause cause, std::string why) {
  if (stop_cause_ != StopCause::kNone) return;
  stop_cause_ = cause;
  stop_why_ = std::move(why);
  kill_deadline_ = Clock::now() + request_.kill_grace;
  signal_group(SIGTERM);
}

void Supervisor::signal_group(int signal_number) {
  // The child leads its group; if it left it (setsid), signal the child itself.
  if (::kill(-pid_, signal_number) != 0) ::kill(pid_, signal_number);
}

void Supervisor::handle_stdout_line(std::string_view line) {
  const std::size_t first = line.find_first_not_of(" \t\r");
  const bool progress = first != std::string_view::npos && line[first] == '{';
  if (!progress) tail_.add(line);
  if (!on_stdout_line_) return;
  try {
    on_stdout_line_(line);
  } catch (const std::exception& error) {
    if (!callback_failed_) {
      spdlog::warn("run {}: stdout line handler failed: {}", request_.run_id, error.what());
    }
    callback_failed_ = true;
  } catch (...) {
    if (!callback_failed_) spdlog::warn("run {}: stdout line handler failed", request_.run_id);
    callback_failed_ = true;
  }
}

RunOutcome Supervisor::outcome() const {
  RunOutcome outcome;
  outcome.wall = std::chrono::duration_cast<milliseconds>(ended_at_ - started_at_);
  outcome.last_lines = tail_.lines();
  if (wait_status_ && WIFEXITED(*wait_status_)) outcome.exit_code = WEXITSTATUS(*wait_status_);
  if (wait_status_ && WIFSIGNALED(*wait_status_)) outcome.signal = WTERMSIG(*wait_status_);
  switch (stop_cause_) {
    case StopCause::kCancelled:
      outcome.status = RunStatus::kCancelled;
      break;
    case StopCause::kTimedOut:
      outcome.status = RunStatus::kTimedOut;
      break;
    case StopCause::kNone:
      outcome.status = outcome.exit_code == 0 ? RunStatus::kSucceeded : RunStatus::kFailed;
      break;
  }
  outcome.reason = stop_cause_ == StopCause::kNone ? exit_reason() : stop_reason();
  if (outcome.status == RunStatus::kFailed && request_.memory_limit_bytes > 0) {
    outcome.reason +=
        fmt::format(" (memory limit {} MiB)", request_.memory_limit_bytes / kBytesPerMiB);
  }
  return outcome;
}

std::string Supervisor::stop_reason() const {
  if (stop_cause_ == StopCause::kCancelled) {
    std::string reason = fmt::format("cancelled: {}", stop_why_);
    if (escalated_) {
      reason += fmt::format(" (SIGKILL after {} grace)", format_duration(request_.kill_grace));
    }
    return reason;
  }
  if (escalated_) {
    return fmt::format("timed out after {} (SIGTERM, then SIGKILL after {} grace)",
                       format_duration(request_.timeout), format_duration(request_.kill_grace));
  }
  return fmt::format("timed out after {} (SIGTERM)", format_duration(request_.timeout));
}

std::string Supervisor::exit_reason() const {
  if (!wait_status_) return "exit status lost (is SIGCHLD ignored, or the child reaped elsewhere?)";
  if (WIFEXITED(*wait_status_)) {
    return fmt::format("exited with code {}", WEXITSTATUS(*wait_status_));
  }
  if (WIFSIGNALED(*wait_status_)) return describe_signal(WTERMSIG(*wait_status_));
  return fmt::format("ended with wait status {}", *wait_status_);
}

RunOutcome Supervisor::abandon(std::string_view what) {
  shared_.publish_spawned(pid_);
  if (pid_ > 0 && !exited_) {
    signal_group(SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  RunOutcome outcome;
  outcome.status = RunStatus::kFailed;
  outcome.reason = fmt::format("supervisor error: {}", what);
  outcome.last_lines = tail_.lines();
  return outcome;
}

// The handle of a local child; owns the supervising thread.
class LocalRunHandle final : public RunHandle {
 public:
  LocalRunHandle(LaunchRequest request, LineCallback on_stdout_line)
      : request_(std::move(request)), on_stdout_line_(std::move(on_stdout_line)) {}

  ~LocalRunHandle() override {
    if (!poll()) cancel("run handle destroyed");
    if (thread_.joinable()) thread_.join();
  }

  // Starts the supervising thread and returns once the child was started (or could not be).
  // The environment is read here, on the caller's thread.
  void start() {
    std::vector<std::string> envp = child_environment(request_.env);
    shared_.wake.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!shared_.wake.valid()) {
      shared_.outcome = could_not_start(fmt::format("eventfd: {}", ::strerror(errno)));
      shared_.spawned = true;
      return;
    }
    try {
      thread_ =
          std::thread([this, envp = std::move(envp)]() mutable { supervise(std::move(envp)); });
    } catch (const std::system_error& error) {
      shared_.outcome = could_not_start(fmt::format("no supervising thread: {}", error.what()));
      shared_.spawned = true;
      return;
    }
    std::unique_lock lock(shared_.mutex);
    shared_.changed.wait(lock, [this] { return shared_.spawned; });
  }

  void cancel(std::string why) override {
    {
      std::lock_guard lock(shared_.mutex);
      if (shared_.outcome || shared_.cancel_why) return;
      shared_.cancel_why = std::move(why);
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t ignored = ::write(shared_.wake.get(), &one, sizeof one);
  }

  RunOutcome wait() override {
    std::unique_lock lock(shared_.mutex);
    shared_.changed.wait(lock, [this] { return shared_.outcome.has_value(); });
    return *shared_.outcome;
  }

  std::optional<RunOutcome> poll() override {
    std::lock_guard lock(shared_.mutex);
    return shared_.outcome;
  }

  int pid() const override {
    std::lock_guard lock(shared_.mutex);
    return shared_.pid;
  }

 private:
  void supervise(std::vector<std::string> envp) noexcept {
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, nullptr);  // process signals are for the daemon's waiter
    Supervisor supervisor(request_, on_stdout_line_, shared_, std::move(envp));
    RunOutcome outcome;
    try {
      outcome = supervisor.run();
    } catch (const std::exception& error) {
      spdlog::error("run {}: supervisor failed: {}", request_.run_id, error.what());
      outcome = supervisor.abandon(error.what());
    } catch (...) {
      outcome = supervisor.abandon("unknown exception");
    }
    {
      std::lock_guard lock(shared_.mutex);
      shared_.outcome = std::move(outcome);
    }
    shared_.changed.notify_all();
  }

  LaunchRequest request_;
  LineCallback on_stdout_line_;
  SharedState shared_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<RunHandle> LocalProcessLauncher::launch(const LaunchRequest& request,
                                                        LineCallback on_stdout_line) {
  auto handle = std::make_unique<LocalRunHandle>(request, std::move(on_stdout_line));
  handle->start();
  return handle;
}

}  // namespace ctd::training
