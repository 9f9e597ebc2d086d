// The conditions behind ops alerts that hold for a while rather than happen once: PostgreSQL
// or Kafka unreachable, a stream's quarantine rate or consumer lag high, a pipeline's production
// model older than the configured age. ConditionTracker is pure: given what the daemon observed at
// the end of each evaluation interval it returns the alerts to send — a firing alert for every
// condition that holds (sent again each interval, ending a few intervals ahead, so Alertmanager
// keeps it active while the daemon is alive), and one resolved alert when a condition clears.
// observe() gathers an Observation from the daemon's metrics and registry.
//
// Thread-safety: ConditionTracker none (one owner); AlertMonitor owns its thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/options.h"
#include "daemon/alerts.h"

namespace ctd::alerts {

struct StreamObservation {
  std::string pipeline, stream;
  double ingested = 0;  // counters since the daemon started
  double quarantined = 0;
  double lag = 0;  // records behind, all partitions
};

struct Observation {
  Clock::time_point at{};
  bool postgres_up = true;
  bool kafka_up = true;
  std::vector<StreamObservation> streams;
  // Per pipeline with a production model: how long ago it was promoted.
  std::map<std::string, std::chrono::seconds> production_age;
};

class ConditionTracker {
 public:
  explicit ConditionTracker(const config::AlertsOptions& options);

  std::vector<Alert> update(const Observation& observation);

  // The quarantine rate of a stream is judged on at least this many records in an interval.
  static constexpr double kMinRecordsForRate = 100;

 private:
  // Firing alerts of this round, by identity (alertname and labels).
  using Firing = std::map<std::string, Alert>;
  void judge_streams(const Observation& observation, Firing& firing);

  config::AlertsOptions options_;
  std::map<std::string, StreamObservation> previous_;  // by pipeline/stream
  Firing active_;
};

// Every `evaluation_interval`, on its own thread: observe(), the tracker, and the alerts it
// returns to the notifier. The first evaluation is one interval after start.
class AlertMonitor {
 public:
  AlertMonitor(const config::AlertsOptions& options, std::function<Observation()> observe,
               Notifier& notifier);
  ~AlertMonitor();  // stops the thread
  AlertMonitor(const AlertMonitor&) = delete;
  AlertMonitor& operator=(const AlertMonitor&) = delete;

 private:
  void run();

  std::chrono::seconds interval_;
  std::function<Observation()> observe_;
  Notifier& notifier_;
  ConditionTracker tracker_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace ctd::alerts
