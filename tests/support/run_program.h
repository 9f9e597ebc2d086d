// Runs a program as a child process for a test: its exit status and everything it printed.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace ctd::testing {

struct RunResult {
  int exit_code = -1;  // the exit status, or 128 + signal number when killed by a signal
  std::string output;  // stdout and stderr, interleaved as written
  bool timed_out = false;
};

// Runs argv (argv[0] a path) with the parent's environment minus CTD_* variables (so the
// developer's settings cannot leak into a test) plus `env`; stdin is /dev/null. Kills the
// child if it has not exited within `timeout`.
RunResult run_program(const std::vector<std::string>& argv,
                      const std::map<std::string, std::string>& env,
                      std::chrono::milliseconds timeout);

}  // namespace ctd::testing
