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
#include "triggers/engine_spec.h"

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

// How a candidate model of a pipeline is judged against production (the "promotion" key).
// See registry/gate.h for the exact rules. Metric names are those ctd-train reports:
// binary accuracy, log_loss, roc_auc, macro_f1; multiclass accuracy, log_loss, macro_f1;
// regression mae, rmse.
enum class MetricDirection { kHigherIsBetter, kLowerIsBetter };

struct CanaryOptions {
  // "samples": the candidate waits in `staging` until this many new labeled samples have
  // arrived, then is scored side by side with production on them. 1..100,000,000.
  std::int64_t samples = 0;
};

struct GuardrailOptions {
  // "samples": after a promotion, the new and the previous version are compared on this many
  // newly arriving labeled samples. 1..100,000,000.
  std::int64_t samples = 0;
  // "max_drop": roll back when the new version's metric is worse than the previous one's by
  // more than this (absolute, in the metric's units). >= 0.
  double max_drop = 0.0;
  // "window_s": the guard ends (passed) if `samples` have not arrived within this time.
  // 1..31,536,000; default 7 days.
  std::chrono::seconds window{std::chrono::hours(24 * 7)};
};

struct PromotionOptions {
  std::string metric;  // "metric": default the task's primary metric (trainers::primary_metric)
  MetricDirection direction = MetricDirection::kHigherIsBetter;  // "direction": higher|lower;
                                                                 // default from the metric
  std::optional<double> min_value;  // "min_value": the candidate's metric must be >= this
  std::optional<double> max_value;  // "max_value": ... and <= this
  // "min_improvement": the candidate must beat production by at least this much (absolute, in
  // the better direction; negative tolerates a small loss). Default 0: not worse.
  double min_improvement = 0.0;
  // "min_relative_improvement": ... and by at least this fraction of production's |value|.
  std::optional<double> min_relative_improvement;
  // "holdout_samples": the gate's held-out data are the newest N labeled samples the candidate
  // did not train on; training runs leave them out of their snapshot. 1..100,000,000.
  std::int64_t holdout_samples = 1000;
  // "min_holdout_samples": fewer held-out samples than this fail the gate. 1..holdout_samples.
  std::int64_t min_holdout_samples = 100;
  // "slices": categorical features of the pipeline; no value of one may regress by more than
  // "max_slice_regression" (absolute, >= 0; default 0.05) against production. Slices with
  // fewer than "min_slice_samples" (default 30) held-out samples in either model's
  // evaluation are not judged.
  std::vector<std::string> slices;
  double max_slice_regression = 0.05;
  std::int64_t min_slice_samples = 30;
  std::optional<CanaryOptions> canary;        // "canary" (optional)
  std::optional<GuardrailOptions> guardrail;  // "guardrail" (optional)
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
  PromotionOptions promotion;  // key "promotion" (optional)
  // Key "triggers" (optional): when the pipeline retrains by itself — its rate limits
  // (`cooldown_s`, `min_interval_s`) and its triggers (`rules`), each with its kind's options as
  // triggers/ defines them; triggers::build_triggers (triggers/factory.h) builds the engine's
  // triggers from it. Absent: no triggers. Trigger names are unique within the pipeline (also
  // inside composites) and match [a-z0-9_-]{1,63}; a drift trigger's `layout` is the
  // pipeline's features (numeric and categorical, in configuration order, as ingestion lays
  // out batches).
  triggers::EngineSpec triggers;
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

// "http.tls" (optional): the HTTP port speaks HTTPS only (daemon/tls.h). Paths are absolute;
// the files are read when `ctd run` starts and again on SIGHUP (certificate rotation), not here.
struct TlsOptions {
  std::string cert_file;  // "cert_file": PEM, the server certificate first, then its chain
  std::string key_file;   // "key_file": PEM, the certificate's private key, unencrypted
  // "client_ca_file": when set, every client must present a certificate issued by one of the
  // CAs in this PEM file (mutual TLS); bearer tokens still apply on top.
  std::optional<std::string> client_ca_file;
  // "handshake_timeout_s": a connection that has not completed its TLS handshake within this
  // is closed, 1..300.
  std::chrono::seconds handshake_timeout{10};
};

struct HttpOptions {
  std::string listen_address = "127.0.0.1";  // env override: CTD_HTTP_ADDRESS
  std::uint16_t port = 8080;                 // 0 = pick a free port (logged); env: CTD_HTTP_PORT
  // "auth.tokens_file": the /v1 API's bearer tokens, one "name role token" per line (role read
  // or admin; daemon/api_auth.h). Absolute; "" = no file. Env override: CTD_API_TOKENS_FILE.
  // Without tokens every /v1 request is refused with 401.
  std::string tokens_file;
  // "auth.protect_health": /healthz, /readyz and /metrics require a read token too.
  bool protect_health = false;
  std::optional<TlsOptions> tls;  // "tls": absent = plain HTTP
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
  // "retry_abandoned": how many times the loop starts a trigger event's training again when
  // the daemon supervising it died before it ended (the run is marked failed, "abandoned").
  // 0..10. Runs that fail by themselves are not retried; the triggers re-arm instead.
  int retry_abandoned = 1;
};

// The model registry's files (the "registry" root key, optional).
struct RegistryOptions {
  // "artifact_root": content-addressed model artifacts, <root>/<sha256>/model.pt.
  // Env override: CTD_ARTIFACT_ROOT.
  std::string artifact_root = "/var/lib/ctd/artifacts";
  // "triton_repository": when set, the production model of each pipeline is also published
  // into this Triton Inference Server model repository (<repo>/<pipeline>/<version>/model.pt
  // and <repo>/<pipeline>/config.pbtxt).
  std::optional<std::string> triton_repository;
  int triton_max_batch_size = 256;  // "triton_max_batch_size": 1..1,000,000
  // "watch_interval_s": how often the daemon judges due canaries and guardrails. 1..86400.
  std::chrono::seconds watch_interval{30};
};

// One generic webhook receiver of ops alerts (the "alerts.webhooks" list).
struct WebhookOptions {
  std::string name;  // "name": [a-z0-9_-]{1,63}, unique
  std::string url;   // "url": http[s]://host[:port]/path
  // "ca_file" (https only): the PEM CAs that verify the receiver's certificate instead of the
  // system's store. Absolute.
  std::optional<std::string> ca_file;
  // The HMAC-SHA256 signing key, read from the CTD_* environment variable named by
  // "secret_env" (never from the file); empty: deliveries are not signed.
  std::string secret;
  std::string secret_env;
};

// Ops alerts (the "alerts" root key, optional; see daemon/alerts.h). Without a destination
// nothing is sent.
struct AlertsOptions {
  std::optional<std::string> alertmanager_url;  // "alertmanager.url": POST {url}/api/v2/alerts
  // "alertmanager.ca_file" (https only): as WebhookOptions::ca_file.
  std::optional<std::string> alertmanager_ca_file;
  std::vector<WebhookOptions> webhooks;          // "webhooks"
  std::map<std::string, std::string> labels;     // "labels": added to every alert
  std::size_t queue_size = 1000;                 // "queue_size": per destination, 1..1000000
  std::chrono::milliseconds timeout{5000};       // "timeout_ms": per delivery, 100..60000
  std::chrono::milliseconds retry_initial{500};  // "retry_initial_ms": 10..600000
  std::chrono::milliseconds retry_max{30'000};   // "retry_max_ms": 10..3600000, >= initial
  int max_attempts = 8;                          // "max_attempts": 1..100
  // "event_ttl_s": how long a one-off event (a fire, a promotion) stays active, 60..604800.
  std::chrono::seconds event_ttl{3600};
  // Conditions, judged every "evaluation_interval_s" (5..3600) by the daemon:
  std::chrono::seconds evaluation_interval{30};
  // "quarantine_rate": fraction of a stream's records quarantined within one interval
  // (0..1, 0 disables; at least 100 records in the interval).
  double quarantine_rate = 0.05;
  // "consumer_lag": messages a stream is behind, summed over its partitions (0 disables).
  std::int64_t consumer_lag = 100'000;
  // "model_stale_s": production model older than this (0 disables), 0..31536000.
  std::chrono::seconds model_stale{7 * 24 * 3600};
};

enum class LogFormat { kText, kJson };
enum class LogOutput { kStderr, kStdout };

struct LogOptions {
  std::string level = "info";  // trace|debug|info|warn|error
  LogFormat format = LogFormat::kText;
  // "output": where the log lines go; default stdout for json (the stream log shippers read),
  // stderr for text.
  LogOutput output = LogOutput::kStderr;
};

// What a drain does with a training that is running when SIGTERM or SIGINT arrives.
enum class RunningTrainingOnShutdown {
  kCancel,  // cancel it at once (recorded as cancelled)
  kFinish,  // let it end, and gate its candidate, until the drain deadline; then cancel it
};

// How `ctd run` stops (the "shutdown" root key, optional; see daemon/daemon.h).
struct ShutdownOptions {
  // "drain_timeout_s": how long after the signal the drain may wait for running trainings
  // (with running_training: finish); 1..3600. Keep drain_timeout_s + training.kill_grace_s
  // below systemd's TimeoutStopSec and Kubernetes' terminationGracePeriodSeconds.
  std::chrono::seconds drain_timeout{30};
  RunningTrainingOnShutdown running_training = RunningTrainingOnShutdown::kCancel;
};

struct Options {
  PostgresOptions postgres;
  KafkaOptions kafka;
  IngestOptions ingest;
  HttpOptions http;
  LogOptions log;
  std::vector<PipelineOptions> pipelines;  // at least one
  TrainingOptions training;                // key "training" (optional)
  RegistryOptions registry;                // key "registry" (optional)
  AlertsOptions alerts;                    // key "alerts" (optional)
  ShutdownOptions shutdown;                // key "shutdown" (optional)
};

}  // namespace ctd::config
