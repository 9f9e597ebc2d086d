// Graceful-shutdown signals (SIGTERM, SIGINT) taken synchronously: the process blocks them and
// one thread waits for them with sigwait, instead of installing an asynchronous handler.
//
// Usage: call block_shutdown_signals() on the main thread before starting any other thread, so
// that every thread inherits the blocked mask and no signal is delivered to a thread that would
// act on it; later call wait_for_shutdown_signal() with the returned set. Thread-safety: both
// act on the calling thread's signal mask only.
#pragma once

#include <signal.h>

#include <chrono>
#include <optional>

namespace ctd {

// Blocks SIGTERM and SIGINT in the calling thread (threads started afterwards inherit this)
// and returns that set.
sigset_t block_shutdown_signals();

// Waits until one of `signals` (as returned by block_shutdown_signals) is pending and takes it;
// returns the signal number. REQUIRES: `signals` is blocked in every thread of the process.
int wait_for_shutdown_signal(const sigset_t& signals);

// The same, but gives up at `deadline`: the signal number, or nullopt once the deadline has
// passed with none pending (at once if it has already passed).
std::optional<int> wait_for_shutdown_signal_until(const sigset_t& signals,
                                                  std::chrono::steady_clock::time_point deadline);

}  // namespace ctd
