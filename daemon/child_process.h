// Starting one child process safely from a multi-threaded daemon: the fork/exec half of
// `LocalProcessLauncher` (daemon/launcher.h), plus the small helpers it needs (an owning file
// descriptor, the child's environment and executable lookup).
//
// The forked child calls only async-signal-safe functions before exec (other threads may hold
// locks at the moment of fork); everything it needs is prepared by the parent. Exec failure
// comes back to the parent through a close-on-exec pipe.
//
// Thread-safety: free functions, safe to call concurrently. `FileDescriptor` is owned by one
// thread at a time.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ctd::training {

// Owns one file descriptor and closes it on destruction. Move-only.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// What the child becomes. All paths and strings are final (no lookups after fork).
struct ChildSpec {
  std::string executable;                // path passed to execve
  std::vector<std::string> argv;         // argv[0] as the child sees it
  std::vector<std::string> envp;         // "NAME=value" entries
  std::string work_dir;                  // chdir target
  std::uint64_t memory_limit_bytes = 0;  // RLIMIT_AS; 0 = unchanged
  bool allow_core_dumps = false;         // false: RLIMIT_CORE 0
  int stdout_fd = -1;  // write end for the child's stdout (left open in the parent)
  int stderr_fd = -1;  // write end for the child's stderr (left open in the parent)
};

// A started child (pid > 0, error empty), or why it could not start (pid -1; any forked
// child has already been reaped).
struct SpawnResult {
  pid_t pid = -1;
  std::string error;
};

// Forks and execs `spec`. The child: leads a new process group, has default signal
// dispositions and an empty signal mask, PR_SET_PDEATHSIG SIGKILL tied to the calling thread
// (so call this from a thread that outlives the child), stdin from /dev/null, no file
// descriptors beyond 0-2 across exec, the rlimits asked for. Returns once the child has
// exec'd or failed to.
SpawnResult spawn_child(const ChildSpec& spec);

// A pidfd for `pid` (readable once the process has exited), or -1 with errno set (e.g. ENOSYS
// before Linux 5.3). A direct syscall: glibc 2.36's <sys/pidfd.h> lacks C linkage for C++.
int open_pidfd(pid_t pid);

// The daemon's environment with `overrides` added or replacing entries, as "NAME=value".
std::vector<std::string> child_environment(const std::map<std::string, std::string>& overrides);

// `name` itself if it contains a '/'; else the first executable `dir/name` for dir in the PATH
// entry of `envp` (the default search path when there is none); `name` if nothing matches
// (exec will then report ENOENT).
std::string resolve_executable(const std::string& name, const std::vector<std::string>& envp);

}  // namespace ctd::training
