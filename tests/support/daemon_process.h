// Runs the real `ctd` binary as a child process for integration tests: a config file written
// from YAML text, extra environment, output captured to a log file, and helpers to wait for
// readiness over HTTP, signal it and reap it.
//
// Thread-safety: owned by one test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace ctd::testing {

// GET http://127.0.0.1:port/path with a raw socket; the status code and body, or nullopt if
// the connection failed.
struct HttpReply {
  int status = 0;
  std::string body;
};
std::optional<HttpReply> http_get(int port, const std::string& path);

// The value of the sample `series` (name{labels} exactly as rendered) in a Prometheus text
// exposition; nullopt when there is no such sample.
std::optional<double> metric_sample(const std::string& text, const std::string& series);

// True if something accepts TCP connections on 127.0.0.1:port.
bool accepts_connections(int port);

// A free TCP port on 127.0.0.1 (bound once and released).
int free_port();

class DaemonProcess {
 public:
  // Where the child's standard output goes: into the log with stderr, or a file of its own.
  enum class Stdout { kInLog, kSeparate };

  // Writes `config_yaml` to a temporary file and starts `ctd run -c FILE [extra_args...]`
  // with `env` added to the environment and CTD_HTTP_PORT set to a free port.
  DaemonProcess(const std::string& config_yaml, std::map<std::string, std::string> env,
                std::vector<std::string> extra_args = {}, Stdout stdout_to = Stdout::kInLog);
  ~DaemonProcess();  // SIGKILLs the child if still running; removes the files

  // Polls /readyz until 200 or the timeout; false if the child exited or time ran out.
  bool wait_ready(std::chrono::seconds timeout);
  void signal(int signal_number);
  // Waits for exit; returns the exit status (or 128 + signal), nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::seconds timeout);
  bool running();
  int http_port() const { return http_port_; }
  pid_t pid() const { return pid_; }
  // The child's stderr so far, and its stdout (after the stderr with Stdout::kSeparate).
  std::string log() const;
  // With Stdout::kSeparate: the child's stdout so far, alone.
  std::string standard_output() const;
  // Polls the log until it contains `text`; false if the timeout passed first.
  bool wait_for_log(const std::string& text, std::chrono::seconds timeout) const;
  // The configuration file it was started with (rewrite it and send SIGHUP to reload).
  std::string config_path() const { return dir_.path() + "/ctd.yaml"; }

 private:
  TempDir dir_;  // the config file and the log; destroyed after the child is reaped
  pid_t pid_ = -1;
  int http_port_ = 0;
  std::optional<int> exit_status_;
};

}  // namespace ctd::testing
