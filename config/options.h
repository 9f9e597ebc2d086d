// Typed, validated configuration of a ctd daemon.
//
// An Options value is produced once by config::load() (loader.h) from a YAML file plus
// environment overrides, is immutable afterwards and is passed by const reference to every
// module. Nothing here does I/O. Thread-safety: immutable, so safe to share.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "trainers/run_spec.h"

namespace ctd::config {

enum class FeatureType { kNumeric, kCategorical };

// One input feature of a pipeline's schema.
struct FeatureSpec {
  std::string name;
  FeatureType type = FeatureType::kNumeric;
  bool required = true;
  // Numeric only: inclusive bounds; a value outside them is quarantined.
  std::optional<double> min;
  std::optional<double> max;
  // Categorical only: when non-empty, any other value is quarantined.
  std::vector<std::string> allowed_values;
};

enum class LabelKind { kBinary, kMulticlass, kRegression };

struct LabelSpec {
  LabelKind kind = LabelKind::kBinary;
  // Multiclass only: labels are integers in [0, num_classes). Binary labels are 0 or 1.
  int num_classes = 2;
  // Regression only: optional inclusive bounds.
  std::optional<double> min;
  std::optional<double> max;
};

struct TopicsSpec {
  std::string labels;                     // required
  std::optional<std::string> inferences;  // optional
  std::optional<std::string> metrics;     // optional
};

// Which stored samples a training run of a pipeline uses. Both limits may be set; a sample
// must then pass both. Unset means no limit.
struct DatasetOptions {
  std::optional<std::int64_t> last_samples;  // "last_samples": the newest N samples, 1..1e9
  // "last_days": only samples whose event_time is within the last D days, 1..36500
  std::optional<std::int64_t> last_days;
};

// One model's pipeline. Names are unique within a daemon and match [a-z0-9_-]{1,63}.
struct PipelineOptions {
  std::string name;
  TopicsSpec topics;
  std::vector<FeatureSpec> features;  // at least one, unique names
  LabelSpec label;
  DatasetOptions dataset;  // key "dataset" (optional)
  // Key "training" (optional): the defaults of every training run of this pipeline. Only the
  // keys a user may set are read; run_id, pipeline, snapshot, init_model_path and
  // code_version stay empty here and are set per run by the daemon. model.script_path is
  // absolute (a relative `model.path` is resolved against the config file's directory).
  trainers::RunSpec training;
};

struct KafkaOptions {
  // Comma-separated bootstrap servers, or "embedded" to run librdkafka's mock cluster
  // inside the daemon. Env override: CTD_KAFKA_BROKERS.
  std::string brokers;
  std::string group_id = "ctd";                   // env override: CTD_KAFKA_GROUP_ID
  int embedded_partitions = 4;                    // partitions per topic when embedded, 1..1024
  std::map<std::string, std::string> properties;  // passed through to librdkafka verbatim
};

struct PostgresOptions {
  // libpq connection string or URI. Env override: CTD_POSTGRES_DSN. Secret: masked on print.
  std::string dsn;
};

struct IngestOptions {
  int batch_max_records = 10000;                  // 1..1,000,000
  std::chrono::milliseconds batch_max_wait{100};  // 1 ms..60 s
  std::size_t max_message_bytes = 1 << 20;        // larger messages are quarantined
  std::size_t quarantine_raw_max_bytes = 4096;    // raw bytes kept per quarantined record
  std::chrono::milliseconds retry_initial{100};   // Postgres retry backoff, first delay
  std::chrono::milliseconds retry_max{10000};     // ... and its cap
};

struct HttpOptions {
  std::string listen_address = "127.0.0.1";  // env override: CTD_HTTP_ADDRESS
  std::uint16_t port = 8080;                 // 0 = pick a free port (logged); env: CTD_HTTP_PORT
};

// How training runs are executed: each run is a ctd-train child process in its own directory.
// Paths are absolute: relative ones in the file are resolved against the config file's
// directory, relative ones from the environment against the working directory.
struct TrainingOptions {
  // "trainer": path of ctd-train; "" = the ctd-train beside the running ctd executable.
  // Env override: CTD_TRAINER.
  std::string trainer;
  // "run_root": one directory per training run. Env override: CTD_TRAINING_RUN_ROOT.
  std::string run_root = "/var/lib/ctd/runs";
  std::chrono::seconds timeout{3600};   // "timeout_s": per run, 1..604800
  std::chrono::seconds kill_grace{10};  // "kill_grace_s": SIGTERM, then SIGKILL after this, 1..600
  // "memory_limit_mb": address-space limit of a trainer; 0 = none, else 64..4194304.
  std::uint64_t memory_limit_mb = 0;
  int max_concurrent_runs = 2;  // "max_concurrent_runs": across all pipelines, 1..64
};

enum class LogFormat { kText, kJson };

struct LogOptions {
  std::string level = "info";  // trace|debug|info|warn|error
  LogFormat format = LogFormat::kText;
};

struct Options {
  PostgresOptions postgres;
  KafkaOptions kafka;
  IngestOptions ingest;
  HttpOptions http;
  LogOptions log;
  std::vector<PipelineOptions> pipelines;  // at least one
  TrainingOptions training;                // key "training" (optional)
};

}  // namespace ctd::config
