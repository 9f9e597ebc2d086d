#include "daemon/child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string_view>

#include <fmt/format.h>

extern char** environ;

namespace ctd::training {

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

int FileDescriptor::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void FileDescriptor::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

namespace {

// The step of the child's set-up that failed, sent to the parent with errno.
enum class ChildStep : int { kStdio, kSignals, kDeathSignal, kCloseFds, kChdir, kLimits, kExec };

struct ChildFailure {
  ChildStep step;
  int error;
};

constexpr int kExitSetupFailed = 127;
constexpr char kDefaultPath[] = "/usr/local/bin:/usr/bin:/bin";

// --- In the forked child: async-signal-safe calls only. ---

[[noreturn]] void fail_in_child(int report_fd, ChildStep step) {
  const ChildFailure failure{step, errno};
  [[maybe_unused]] const ssize_t ignored = ::write(report_fd, &failure, sizeof failure);
  _exit(kExitSetupFailed);
}

// Handlers installed by the daemon are reset by exec anyway, but ignored signals (SIGPIPE,
// often) would stay ignored; reset everything while all signals are still blocked.
void reset_signal_dispositions() {
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    if (signal_number == SIGKILL || signal_number == SIGSTOP) continue;
    ::sigaction(signal_number, &default_action, nullptr);  // fails harmlessly for reserved ones
  }
}

// Moves `fd` to a number >= 3 (so dup2 onto 0-2 never clobbers another of our fds).
int move_above_stdio(int fd) { return ::fcntl(fd, F_DUPFD_CLOEXEC, 3); }

bool redirect_stdio(int stdin_fd, int stdout_fd, int stderr_fd) {
  const int in = move_above_stdio(stdin_fd);
  const int out = move_above_stdio(stdout_fd);
  const int err = move_above_stdio(stderr_fd);
  if (in < 0 || out < 0 || err < 0) return false;
  return ::dup2(in, STDIN_FILENO) >= 0 && ::dup2(out, STDOUT_FILENO) >= 0 &&
         ::dup2(err, STDERR_FILENO) >= 0;
}

// Every descriptor above stderr closes on exec (the failure pipe must stay open until then).
bool close_inherited_fds_on_exec() {
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return true;
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  const rlim_t highest = limit.rlim_cur == RLIM_INFINITY ? 1 << 20 : limit.rlim_cur;
  for (rlim_t fd = 3; fd < highest; ++fd) ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
  return true;
}

bool apply_limits(std::uint64_t memory_limit_bytes, bool allow_core_dumps) {
  if (memory_limit_bytes > 0) {
    const struct rlimit memory { memory_limit_bytes, memory_limit_bytes };
    if (::setrlimit(RLIMIT_AS, &memory) != 0) return false;
  }
  if (!allow_core_dumps) {
    const struct rlimit no_core { 0, 0 };
    if (::setrlimit(RLIMIT_CORE, &no_core) != 0) return false;
  }
  return true;
}

struct PreparedExec {
  const ChildSpec* spec;
  char* const* argv;
  char* const* envp;
  int stdin_fd;
  int report_fd;
  pid_t parent;
};

[[noreturn]] void run_child(const PreparedExec& exec) {
  const ChildSpec& spec = *exec.spec;
  ::setpgid(0, 0);  // the parent does the same, whichever runs first
  reset_signal_dispositions();
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
    fail_in_child(exec.report_fd, ChildStep::kDeathSignal);
  if (::getppid() != exec.parent) _exit(kExitSetupFailed);  // the parent died before prctl
  if (!redirect_stdio(exec.stdin_fd, spec.stdout_fd, spec.stderr_fd)) {
    fail_in_child(exec.report_fd, ChildStep::kStdio);
  }
  if (!close_inherited_fds_on_exec()) fail_in_child(exec.report_fd, ChildStep::kCloseFds);
  if (::chdir(spec.work_dir.c_str()) != 0) fail_in_child(exec.report_fd, ChildStep::kChdir);
  if (!apply_limits(spec.memory_limit_bytes, spec.allow_core_dumps)) {
    fail_in_child(exec.report_fd, ChildStep::kLimits);
  }
  sigset_t empty;
  sigemptyset(&empty);
  if (::sigprocmask(SIG_SETMASK, &empty, nullptr) != 0) {
    fail_in_child(exec.report_fd, ChildStep::kSignals);
  }
  ::execve(spec.executable.c_str(), exec.argv, exec.envp);
  fail_in_child(exec.report_fd, ChildStep::kExec);
}

// --- In the parent. ---

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

std::string describe_failure(const ChildSpec& spec, const ChildFailure& failure) {
  const std::string error = ::strerror(failure.error);
  switch (failure.step) {
    case ChildStep::kExec:
      return fmt::format("{}: {}", spec.executable, error);
    case ChildStep::kChdir:
      return fmt::format("chdir {}: {}", spec.work_dir, error);
    case ChildStep::kLimits:
      return fmt::format("setrlimit: {}", error);
    case ChildStep::kStdio:
      return fmt::format("redirecting stdio: {}", error);
    case ChildStep::kSignals:
      return fmt::format("resetting the signal mask: {}", error);
    case ChildStep::kDeathSignal:
      return fmt::format("prctl(PR_SET_PDEATHSIG): {}", error);
    case ChildStep::kCloseFds:
      return fmt::format("closing inherited descriptors: {}", error);
  }
  return error;
}

void reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

// Reads the child's failure report; false at EOF (exec succeeded).
bool read_failure(int report_fd, ChildFailure& failure) {
  ssize_t got;
  do {
    got = ::read(report_fd, &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  return got == static_cast<ssize_t>(sizeof failure);
}

std::string errno_text(std::string_view what) {
  return fmt::format("{}: {}", what, ::strerror(errno));
}

}  // namespace

SpawnResult spawn_child(const ChildSpec& spec) {
  FileDescriptor dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null.valid()) return {-1, errno_text("open /dev/null")};
  int report_pipe[2];
  if (::pipe2(report_pipe, O_CLOEXEC) != 0) return {-1, errno_text("pipe")};
  FileDescriptor report_read(report_pipe[0]);
  FileDescriptor report_write(report_pipe[1]);

  std::vector<char*> argv = c_strings(spec.argv);
  std::vector<char*> envp = c_strings(spec.envp);
  const PreparedExec exec{&spec,          argv.data(),        envp.data(),
                          dev_null.get(), report_write.get(), ::getpid()};

  // All signals blocked across fork, so no daemon handler runs in the child before the reset.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  const pid_t pid = ::fork();
  if (pid == 0) run_child(exec);
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  report_write.reset();
  if (pid < 0) return {-1, fmt::format("fork: {}", ::strerror(fork_errno))};

  ::setpgid(pid, pid);  // fails harmlessly if the child already exec'd (it did it itself)
  ChildFailure failure{};
  if (read_failure(report_read.get(), failure)) {
    reap(pid);
    return {-1, describe_failure(spec, failure)};
  }
  return {pid, {}};
}

int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

std::vector<std::string> child_environment(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> envp;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view variable(*entry);
    const std::string name(variable.substr(0, variable.find('=')));
    if (!overrides.contains(name)) envp.emplace_back(variable);
  }
  for (const auto& [name, value] : overrides) envp.push_back(name + "=" + value);
  return envp;
}

std::string resolve_executable(const std::string& name, const std::vector<std::string>& envp) {
  if (name.empty() || name.find('/') != std::string::npos) return name;
  std::string_view search_path = kDefaultPath;
  for (const std::string& entry : envp) {
    if (entry.starts_with("PATH=")) search_path = std::string_view(entry).substr(5);
  }
  while (true) {
    const std::size_t colon = search_path.find(':');
    const std::string_view dir = search_path.substr(0, colon);
    const std::string candidate = (dir.empty() ? std::string(".") : std::string(dir)) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) return name;
    search_path.remove_prefix(colon + 1);
  }
}

}  // namespace ctd::training
