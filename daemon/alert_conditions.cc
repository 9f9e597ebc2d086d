#include "daemon/alert_conditions.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ctd::alerts {
namespace {

std::string identity(const Alert& alert) {
  std::string key;
  for (const auto& [name, value] : alert.labels) key += name + "=" + value + ",";
  return key;
}

}  // namespace

ConditionTracker::ConditionTracker(const config::AlertsOptions& options) : options_(options) {}

void ConditionTracker::judge_streams(const Observation& now, Firing& firing) {
  // Firing alerts end this far ahead unless re-sent: a daemon that dies lets them lapse.
  const auto ttl = 4 * options_.evaluation_interval;
  const auto add = [&](std::string name, std::string severity,
                       std::map<std::string, std::string> labels, std::string summary) {
    Alert alert = event(std::move(name), std::move(severity), std::move(labels), std::move(summary),
                        "", now.at, ttl);
    firing.emplace(identity(alert), std::move(alert));
  };
  for (const StreamObservation& s : now.streams) {
    const std::string key = s.pipeline + "/" + s.stream;
    const std::map<std::string, std::string> labels{{"pipeline", s.pipeline}, {"stream", s.stream}};
    if (options_.consumer_lag > 0 && s.lag >= static_cast<double>(options_.consumer_lag)) {
      add("CtdConsumerLagHigh", "warning", labels,
          fmt::format("{} {} is {:.0f} records behind (threshold {})", s.pipeline, s.stream, s.lag,
                      options_.consumer_lag));
    }
    const auto before = previous_.find(key);
    if (options_.quarantine_rate > 0 && before != previous_.end()) {
      const double quarantined = s.quarantined - before->second.quarantined;
      const double total = quarantined + s.ingested - before->second.ingested;
      if (total >= kMinRecordsForRate && quarantined / total >= options_.quarantine_rate) {
        add("CtdQuarantineRateHigh", "warning", labels,
            fmt::format("{:.1f}% of {} {}'s last {:.0f} records were quarantined (threshold "
                        "{:.1f}%)",
                        100 * quarantined / total, s.pipeline, s.stream, total,
                        100 * options_.quarantine_rate));
      }
    }
    previous_[key] = s;
  }
}

std::vector<Alert> ConditionTracker::update(const Observation& now) {
  Firing firing;
  const auto ttl = 4 * options_.evaluation_interval;
  if (!now.postgres_up) {
    Alert alert =
        event("CtdPostgresUnreachable", "critical", {},
              "PostgreSQL does not answer: ingestion and training are paused", "", now.at, ttl);
    firing.emplace(identity(alert), std::move(alert));
  }
  if (!now.kafka_up) {
    Alert alert =
        event("CtdKafkaUnreachable", "critical", {},
              "the Kafka brokers do not answer: nothing new is ingested", "", now.at, ttl);
    firing.emplace(identity(alert), std::move(alert));
  }
  judge_streams(now, firing);
  if (options_.model_stale.count() > 0) {
    for (const auto& [pipeline, age] : now.production_age) {
      if (age < options_.model_stale) continue;
      Alert alert =
          event("CtdModelStale", "warning", {{"pipeline", pipeline}},
                fmt::format("the production model of {} was promoted {} h ago (limit "
                            "{} h)",
                            pipeline, age.count() / 3600, options_.model_stale.count() / 3600),
                "", now.at, ttl);
      firing.emplace(identity(alert), std::move(alert));
    }
  }

  std::vector<Alert> out;
  for (auto& [key, alert] : active_) {
    if (firing.contains(key)) continue;
    alert.resolved = true;
    alert.ends_at = now.at;
    out.push_back(alert);
  }
  for (auto& [key, alert] : firing) {
    // A condition that went on holding keeps its first start time.
    if (const auto held = active_.find(key); held != active_.end())
      alert.starts_at = held->second.starts_at;
    out.push_back(alert);
  }
  active_ = std::move(firing);
  return out;
}

AlertMonitor::AlertMonitor(const config::AlertsOptions& options,
                           std::function<Observation()> observe, Notifier& notifier)
    : interval_(options.evaluation_interval),
      observe_(std::move(observe)),
      notifier_(notifier),
      tracker_(options),
      thread_([this] { run(); }) {}

AlertMonitor::~AlertMonitor() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void AlertMonitor::run() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval_, [this] { return stop_; })) {
    lock.unlock();
    try {
      for (const Alert& alert : tracker_.update(observe_())) notifier_.notify(alert);
    } catch (const std::exception& e) {
      spdlog::warn("alert conditions could not be judged: {}", e.what());
    }
    lock.lock();
  }
}

}  // namespace ctd::alerts
