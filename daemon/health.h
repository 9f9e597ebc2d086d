// Readiness state shared by the daemon's parts and read by /readyz: PostgreSQL reachable,
// schema current, every consumer assigned. The prober refreshes the first two; ingestors are
// asked directly. Thread-safety: all members are atomics or immutable after construction.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ctd {

struct ReadinessCheck {
  std::string name;
  bool ok = false;
  std::string detail;
};

class HealthProber {
 public:
  // Probes PostgreSQL (connect, SELECT 1, schema status) every `interval` on its own thread.
  HealthProber(std::string dsn, std::chrono::milliseconds interval);
  ~HealthProber();
  void start();
  void stop();

  bool postgres_up() const { return postgres_up_.load(); }
  bool schema_current() const { return schema_current_.load(); }
  std::string last_error() const;
  void probe_once();

 private:
  std::string dsn_;
  std::chrono::milliseconds interval_;
  std::atomic<bool> postgres_up_{false};
  std::atomic<bool> schema_current_{false};
  mutable std::mutex mutex_;
  std::string last_error_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ctd
