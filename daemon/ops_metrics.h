// Operational metrics that are not counted inside the process but read from outside it, for
// dashboards and the alert rules in deploy/prometheus/alerts.yml:
//   - Kafka reachability: a broker metadata request, with ctd's own client configuration;
//   - the loop's history in PostgreSQL: training runs by status, trigger events by kind,
//     registry actions (registered, promoted, rejected, rolled_back, ...), production changes
//     (promotions and rollbacks) and the production model's version and age.
// The database families are counts of append-mostly rows, so they are the cluster's truth:
// every replica reports the same values and a restart does not reset them (alerts aggregate
// with max by (pipeline)).
//
// Ownership: OpsMetrics registers its families in the metrics::Registry given at construction
// (which must outlive it), owns one PostgreSQL connection (reopened after a failure) and one
// librdkafka handle, and a polling thread between start() and stop() (or destruction).
// Thread-safety: poll_once() must not run concurrently with itself (the thread calls it);
// the families are safe to render from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/options.h"
#include "daemon/metrics.h"

namespace ctd {

class OpsMetrics {
 public:
  // REQUIRES: options.kafka resolvable (for "embedded", the embedded broker already started).
  OpsMetrics(const config::Options& options, metrics::Registry& registry,
             std::chrono::milliseconds interval);
  ~OpsMetrics();
  OpsMetrics(const OpsMetrics&) = delete;
  OpsMetrics& operator=(const OpsMetrics&) = delete;

  void start();  // polls every `interval` on its own thread (the first poll at once)
  void stop();   // idempotent; waits for a poll in progress (each is bounded by timeouts)
  // One round: the Kafka probe and the database queries. Errors are logged (once per change
  // of state) and reflected in ctd_kafka_up / ctd_ops_metrics_up, never thrown.
  void poll_once();

  // What the last poll saw, for the daemon's own alert conditions (daemon/alert_conditions.h):
  // whether Kafka answered the last probe, and the age of each pipeline's
  // production model (pipelines without one are left out). Safe from any thread.
  bool kafka_up() const;
  std::map<std::string, std::chrono::seconds> production_ages() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ctd
