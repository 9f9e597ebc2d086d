// The daemon's side of systemd's service protocol (sd_notify(3), through libsystemd):
// READY=1 once it serves, STOPPING=1 when it starts draining, STATUS= lines a person reads in
// `systemctl status`, and WATCHDOG=1 keep-alives at half of the WatchdogSec systemd set
// (WATCHDOG_USEC), only while a liveness check passes, so a wedged daemon is restarted.
// Outside systemd (no NOTIFY_SOCKET) every call does nothing; so it is safe everywhere.
//
// Ownership: owns the watchdog thread (stopped by stop_watchdog() or the destructor).
// Thread-safety: all methods may be called from any thread; sd_notify is a datagram send.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace ctd {

class ServiceNotifier {
 public:
  ServiceNotifier();  // reads WATCHDOG_USEC / WATCHDOG_PID (sd_watchdog_enabled)
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  void ready(const std::string& status);     // READY=1 and STATUS=
  void stopping(const std::string& status);  // STOPPING=1 and STATUS=
  void status(const std::string& status);    // STATUS= only

  // The watchdog's period as systemd set it, when it expects keep-alives from this process.
  std::optional<std::chrono::microseconds> watchdog_period() const { return watchdog_; }
  // Starts sending WATCHDOG=1 every period / 2, each only if `alive()` returns true (it runs
  // on the watchdog thread and should answer within the half period). No-op without a watchdog.
  void start_watchdog(std::function<bool()> alive);
  void stop_watchdog();  // idempotent

 private:
  void notify(const std::string& message);

  std::optional<std::chrono::microseconds> watchdog_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ctd
