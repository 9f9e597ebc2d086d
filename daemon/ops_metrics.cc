#include "daemon/ops_metrics.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <vector>

#include "daemon/kafka_config.h"
#include "daemon/pg.h"

namespace ctd {
namespace {

constexpr int kKafkaTimeoutMs = 5000;
constexpr int kConnectTimeoutS = 5;

const std::vector<std::string> kFinishedRunStatuses = {"succeeded", "failed", "cancelled"};
const std::vector<std::string> kUnfinishedRunStatuses = {"queued", "running"};
const std::vector<std::string> kTriggerKinds = {"manual", "schedule", "new_data",
                                                "decay",  "drift",    "composite"};
// The registry's actions (registry/registry.cc); others (canary_*, guardrail_*) appear when seen.
const std::vector<std::string> kRegistryActions = {
    "registered", "promoted", "staged", "rejected", "failed", "archived", "rolled_back"};
const std::vector<std::string> kProductionChangeKinds = {"promotion", "rollback"};

using Counts = std::map<metrics::LabelValues, double>;

// A counter set to a total read from the database: it only moves up (a smaller total, after
// rows were deleted, leaves it where it is).
void set_total(metrics::Family<metrics::Counter>& family, const metrics::LabelValues& labels,
               double total) {
  metrics::Counter& counter = family.with(labels);
  const double delta = total - counter.value();
  if (delta > 0) counter.inc(delta);
}

// Zeros for every (configured pipeline, known value), so that a first occurrence is an
// increase from 0 that rate() and increase() see.
Counts zeros(const std::set<std::string>& pipelines, const std::vector<std::string>& values) {
  Counts counts;
  for (const std::string& p : pipelines)
    for (const std::string& v : values) counts[{p, v}] = 0;
  return counts;
}

// Rows of (pipeline name, label value, count) added to `counts` for configured pipelines.
void add_rows(const pg::PgResult& result, const std::set<std::string>& pipelines, Counts& counts) {
  for (int i = 0; i < result.rows(); ++i) {
    std::string pipeline(result.text(i, 0));
    if (!pipelines.count(pipeline)) continue;
    counts[{std::move(pipeline), std::string(result.text(i, 1))}] +=
        static_cast<double>(result.integer(i, 2));
  }
}

}  // namespace

struct OpsMetrics::Impl {
  Impl(const config::Options& options, metrics::Registry& registry);
  ~Impl() {
    if (kafka) rd_kafka_destroy(kafka);
  }

  void probe_kafka();
  void read_database();

  std::string dsn;
  std::set<std::string> pipelines;
  rd_kafka_t* kafka = nullptr;
  std::unique_ptr<pg::PgConnection> connection;
  std::optional<bool> kafka_was_up, database_was_up;  // for logging changes only

  metrics::Family<metrics::Gauge>& kafka_up;
  metrics::Family<metrics::Gauge>& ops_up;
  metrics::Family<metrics::Counter>& runs_total;
  metrics::Family<metrics::Gauge>& runs_unfinished;
  metrics::Family<metrics::Counter>& trigger_events;
  metrics::Family<metrics::Counter>& registry_actions;
  metrics::Family<metrics::Counter>& production_changes;
  metrics::Family<metrics::Gauge>& production_version;
  metrics::Family<metrics::Gauge>& production_age;
};

OpsMetrics::Impl::Impl(const config::Options& options, metrics::Registry& registry)
    : dsn(pg::with_liveness_checks(options.postgres.dsn, kConnectTimeoutS)),
      kafka_up(registry.gauge("ctd_kafka_up",
                              "1 if the Kafka brokers answered the last metadata request.")),
      ops_up(registry.gauge("ctd_ops_metrics_up",
                            "1 if the last read of the database-derived metrics succeeded.")),
      runs_total(registry.counter(
          "ctd_training_runs_total",
          "Finished training runs by final status (succeeded, failed, cancelled); read from "
          "PostgreSQL, the same on every replica.",
          {"pipeline", "status"})),
      runs_unfinished(registry.gauge("ctd_training_runs_unfinished",
                                     "Training runs queued or running now (from PostgreSQL).",
                                     {"pipeline", "status"})),
      trigger_events(registry.counter(
          "ctd_trigger_events_total",
          "Trigger fires the engine acted on (trigger_events rows), by trigger kind; read from "
          "PostgreSQL.",
          {"pipeline", "kind"})),
      registry_actions(registry.counter(
          "ctd_registry_actions_total",
          "Registry state changes (registry_audit rows) by action: registered, promoted, "
          "staged, rejected, failed, archived, rolled_back, canary_*, guardrail_*.",
          {"pipeline", "action"})),
      production_changes(registry.counter(
          "ctd_production_changes_total",
          "Moves of the production alias (alias_history) by kind: promotion or rollback.",
          {"pipeline", "kind"})),
      production_version(registry.gauge("ctd_production_model_version",
                                        "The production version in the registry; 0 when none.",
                                        {"pipeline"})),
      production_age(registry.gauge(
          "ctd_production_model_age_seconds",
          "Seconds since the production version was registered; 0 when there is none.",
          {"pipeline"})) {
  for (const auto& p : options.pipelines) pipelines.insert(p.name);
  char error[512];
  rd_kafka_conf_t* conf =
      kafka::make_client_config(options.kafka, {{"client.id", "ctd-probe"}}, {});
  kafka = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  if (!kafka) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("cannot create the Kafka probe: ") + error);
  }
}

void OpsMetrics::Impl::probe_kafka() {
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(kafka, 0, nullptr, &metadata, kKafkaTimeoutMs);
  const bool up = err == RD_KAFKA_RESP_ERR_NO_ERROR && metadata && metadata->broker_cnt > 0;
  if (metadata) rd_kafka_metadata_destroy(metadata);
  kafka_up.get().set(up ? 1 : 0);
  if (kafka_was_up != up) {
    if (up)
      spdlog::info("Kafka brokers reachable");
    else
      spdlog::warn("Kafka brokers unreachable: {}", rd_kafka_err2str(err));
    kafka_was_up = up;
  }
}

void OpsMetrics::Impl::read_database() {
  if (!connection || !connection->healthy()) {
    connection.reset();
    connection = std::make_unique<pg::PgConnection>(dsn);
    connection->exec("SET statement_timeout = '5s'");
  }
  pg::PgConnection& c = *connection;
  Counts finished = zeros(pipelines, kFinishedRunStatuses);
  Counts unfinished = zeros(pipelines, kUnfinishedRunStatuses);
  {
    Counts all;
    add_rows(c.exec("SELECT p.name, r.status, count(*) FROM training_runs r "
                    "JOIN pipelines p USING (pipeline_id) GROUP BY 1, 2"),
             pipelines, all);
    for (const auto& [labels, n] : all)
      (finished.count(labels) ? finished : unfinished)[labels] = n;
  }
  Counts events = zeros(pipelines, kTriggerKinds);
  add_rows(c.exec("SELECT p.name, e.kind, count(*) FROM trigger_events e "
                  "JOIN pipelines p USING (pipeline_id) GROUP BY 1, 2"),
           pipelines, events);
  Counts actions = zeros(pipelines, kRegistryActions);
  add_rows(
      c.exec("SELECT p.name, a.action, count(*) FROM registry_audit a "
             "JOIN models m USING (model_id) JOIN pipelines p ON p.pipeline_id = m.pipeline_id "
             "GROUP BY 1, 2"),
      pipelines, actions);
  Counts changes = zeros(pipelines, kProductionChangeKinds);
  add_rows(
      c.exec("SELECT p.name, h.kind, count(*) FROM alias_history h "
             "JOIN models m USING (model_id) JOIN pipelines p ON p.pipeline_id = m.pipeline_id "
             "WHERE h.alias = 'production' AND h.to_version IS NOT NULL GROUP BY 1, 2"),
      pipelines, changes);
  const pg::PgResult production = c.exec(
      "SELECT p.name, v.version, extract(epoch FROM now() - v.created_at)::bigint "
      "FROM model_versions v JOIN models m USING (model_id) "
      "JOIN pipelines p ON p.pipeline_id = m.pipeline_id WHERE v.status = 'production'");

  // Everything read: publish.
  for (const auto& [labels, n] : finished) set_total(runs_total, labels, n);
  for (const auto& [labels, n] : unfinished) runs_unfinished.with(labels).set(n);
  for (const auto& [labels, n] : events) set_total(trigger_events, labels, n);
  for (const auto& [labels, n] : actions) set_total(registry_actions, labels, n);
  for (const auto& [labels, n] : changes) set_total(production_changes, labels, n);
  std::map<std::string, std::pair<double, double>> current;  // version, age
  for (const std::string& p : pipelines) current[p] = {0, 0};
  for (int i = 0; i < production.rows(); ++i) {
    const std::string name(production.text(i, 0));
    if (pipelines.count(name))
      current[name] = {static_cast<double>(production.integer(i, 1)),
                       static_cast<double>(std::max(0LL, production.integer(i, 2)))};
  }
  for (const auto& [name, value] : current) {
    production_version.with({name}).set(value.first);
    production_age.with({name}).set(value.second);
  }
}

bool OpsMetrics::kafka_up() const {
  bool up = true;
  impl_->kafka_up.for_each([&](const auto&, const metrics::Gauge& g) { up = g.value() != 0; });
  return up;
}

std::map<std::string, std::chrono::seconds> OpsMetrics::production_ages() const {
  std::map<std::string, double> versions;
  impl_->production_version.for_each(
      [&](const metrics::LabelValues& labels, const metrics::Gauge& g) {
        versions[labels.at(0)] = g.value();
      });
  std::map<std::string, std::chrono::seconds> ages;
  impl_->production_age.for_each([&](const metrics::LabelValues& labels, const metrics::Gauge& g) {
    if (versions[labels.at(0)] > 0)
      ages[labels.at(0)] = std::chrono::seconds(static_cast<std::int64_t>(g.value()));
  });
  return ages;
}

OpsMetrics::OpsMetrics(const config::Options& options, metrics::Registry& registry,
                       std::chrono::milliseconds interval)
    : impl_(std::make_unique<Impl>(options, registry)), interval_(interval) {}

OpsMetrics::~OpsMetrics() { stop(); }

void OpsMetrics::poll_once() {
  impl_->probe_kafka();
  bool up = false;
  try {
    impl_->read_database();
    up = true;
  } catch (const std::exception& e) {
    impl_->connection.reset();
    if (impl_->database_was_up != false)
      spdlog::warn("cannot read the database-derived metrics: {}", e.what());
  }
  impl_->ops_up.get().set(up ? 1 : 0);
  impl_->database_was_up = up;
}

void OpsMetrics::start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      lock.unlock();
      poll_once();
      lock.lock();
      wake_.wait_for(lock, interval_, [this] { return stop_; });
    }
  });
}

void OpsMetrics::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ctd
