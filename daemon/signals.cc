#include "daemon/signals.h"

#include <pthread.h>

#include <cerrno>

namespace ctd {

sigset_t block_shutdown_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int wait_for_shutdown_signal(const sigset_t& signals) {
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  return signal_number;
}

std::optional<int> wait_for_shutdown_signal_until(const sigset_t& signals,
                                                  std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = deadline - std::chrono::steady_clock::now();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(left);
    const auto nanoseconds = std::chrono::duration_cast<std::chrono::nanoseconds>(left - seconds);
    const timespec timeout = left.count() <= 0 ? timespec{0, 0}
                                               : timespec{static_cast<time_t>(seconds.count()),
                                                          static_cast<long>(nanoseconds.count())};
    const int signal_number = sigtimedwait(&signals, nullptr, &timeout);
    if (signal_number > 0) return signal_number;
    if (errno != EINTR) return std::nullopt;  // EAGAIN: the deadline passed
  }
}

}  // namespace ctd
