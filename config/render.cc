// Renders config::Options back to YAML for `ctd check-config`, in the layout the loader
// reads (each pipeline's triggers with every resolved setting), with secrets masked: the
// password in the Postgres DSN (URI or key/value form) and librdkafka properties whose names
// mention a password, secret or key. Pure functions.
#include "config/loader.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/internal.h"

namespace ctd::config {
namespace {

using internal::kCompositeModes;
using internal::kCorrections;
using internal::kDatasetRules;
using internal::kDecayCriteria;
using internal::kDecaySignals;
using internal::kDetectorTypes;
using internal::kDriftMetrics;
using internal::kDriftSources;
using internal::kDriftWindowKinds;
using internal::kDropModes;
using internal::kFeatureTypes;
using internal::kLabelKinds;
using internal::kLogFormats;
using internal::kLogOutputs;
using internal::kMetricDirections;
using internal::kRunningTrainingChoices;
using internal::kRunSpecKeys;
using internal::kThresholdPolicies;
using internal::kTriggerKinds;
using internal::lowercase;
using internal::SpecKey;
using internal::SpecValue;

constexpr std::string_view kMask = "*****";

template <typename Choices, typename T>
std::string_view name_of(const Choices& choices, T value) {
  for (const auto& choice : choices) {
    if (choice.value == value) return choice.name;
  }
  return "?";
}

bool is_secret_property(std::string_view name) {
  const std::string lower = lowercase(name);
  return std::ranges::any_of(
      std::array<std::string_view, 3>{"password", "secret", "key"},
      [&lower](std::string_view word) { return lower.find(word) != std::string::npos; });
}

// postgresql://user:password@host/db?password=x: masks the userinfo password and the
// `password` query parameter. Like libpq, the userinfo ends at the first '@' before any '/'.
std::string mask_uri_dsn(std::string dsn) {
  const std::size_t authority = dsn.find("://") + 3;
  const std::size_t stop = dsn.find_first_of("@/", authority);
  if (stop != std::string::npos && dsn[stop] == '@') {
    const std::size_t colon = dsn.find(':', authority);
    if (colon < stop) dsn.replace(colon + 1, stop - colon - 1, kMask);
  }
  const std::size_t query = dsn.find('?');
  for (std::size_t pos = query; pos != std::string::npos; pos = dsn.find('&', pos + 1)) {
    if (dsn.compare(pos + 1, 9, "password=") != 0) continue;
    const std::size_t value = pos + 10;
    const std::size_t end = dsn.find_first_of("&#", value);
    dsn.replace(value, (end == std::string::npos ? dsn.size() : end) - value, kMask);
  }
  return dsn;
}

// Length of the key/value value starting at `pos`: 'quoted with \' escapes' or up to a space.
std::optional<std::size_t> kv_value_length(std::string_view dsn, std::size_t pos) {
  if (pos < dsn.size() && dsn[pos] == '\'') {
    for (std::size_t i = pos + 1; i < dsn.size(); ++i) {
      if (dsn[i] == '\\') {
        ++i;  // skip the escaped character
      } else if (dsn[i] == '\'') {
        return i + 1 - pos;
      }
    }
    return std::nullopt;  // unterminated quote
  }
  std::size_t i = pos;
  while (i < dsn.size() && !std::isspace(static_cast<unsigned char>(dsn[i]))) {
    i += dsn[i] == '\\' ? 2 : 1;
  }
  return std::min(i, dsn.size()) - pos;
}

// host=x password='secret' user=y: masks the password value. A string that cannot be
// tokenized is masked entirely when it mentions a password, to be safe.
std::string mask_keyword_dsn(std::string_view dsn) {
  std::string out;
  std::size_t pos = 0;
  const auto skip_space = [&] {
    while (pos < dsn.size() && std::isspace(static_cast<unsigned char>(dsn[pos]))) {
      out += dsn[pos++];
    }
  };
  for (skip_space(); pos < dsn.size(); skip_space()) {
    const std::size_t keyword_end = dsn.find_first_of("= \t\n\r", pos);
    const std::string_view keyword = dsn.substr(pos, keyword_end - pos);
    out += keyword;
    pos = keyword_end;
    skip_space();
    if (pos >= dsn.size() || dsn[pos] != '=') break;
    out += dsn[pos++];
    skip_space();
    const std::optional<std::size_t> length = kv_value_length(dsn, pos);
    if (!length) break;
    out += keyword == "password" ? kMask : dsn.substr(pos, *length);
    pos += *length;
  }
  if (pos >= dsn.size()) return out;
  return lowercase(dsn).find("password") == std::string::npos ? std::string(dsn)
                                                              : std::string(kMask);
}

std::string mask_dsn(const std::string& dsn) {
  if (dsn.starts_with("postgresql://") || dsn.starts_with("postgres://")) return mask_uri_dsn(dsn);
  return mask_keyword_dsn(dsn);
}

template <typename T>
void emit(YAML::Emitter& out, std::string_view key, const T& value) {
  out << YAML::Key << std::string(key) << YAML::Value << value;
}

// Doubles as their shortest round-trip text (yaml-cpp would print 0.1 as 0.10000000000000001).
std::string shortest(double value) { return fmt::format("{}", value); }

void emit_bound(YAML::Emitter& out, std::string_view key, const std::optional<double>& value) {
  if (value) emit(out, key, shortest(*value));
}

void emit_training(YAML::Emitter& out, const TrainingOptions& training) {
  out << YAML::Key << "training" << YAML::Value << YAML::BeginMap;
  if (!training.trainer.empty()) emit(out, "trainer", training.trainer);
  emit(out, "run_root", training.run_root);
  emit(out, "timeout_s", training.timeout.count());
  emit(out, "kill_grace_s", training.kill_grace.count());
  emit(out, "memory_limit_mb", training.memory_limit_mb);
  emit(out, "max_concurrent_runs", training.max_concurrent_runs);
  emit(out, "retry_abandoned", training.retry_abandoned);
  out << YAML::EndMap;
}

void emit_registry(YAML::Emitter& out, const RegistryOptions& registry) {
  out << YAML::Key << "registry" << YAML::Value << YAML::BeginMap;
  emit(out, "artifact_root", registry.artifact_root);
  if (registry.triton_repository) emit(out, "triton_repository", *registry.triton_repository);
  emit(out, "triton_max_batch_size", registry.triton_max_batch_size);
  emit(out, "watch_interval_s", registry.watch_interval.count());
  out << YAML::EndMap;
}

// Secrets are not in the file, so not here either: a webhook shows the variable it is read from.
void emit_alerts(YAML::Emitter& out, const AlertsOptions& alerts) {
  out << YAML::Key << "alerts" << YAML::Value << YAML::BeginMap;
  if (alerts.alertmanager_url) {
    out << YAML::Key << "alertmanager" << YAML::Value << YAML::BeginMap;
    emit(out, "url", *alerts.alertmanager_url);
    if (alerts.alertmanager_ca_file) emit(out, "ca_file", *alerts.alertmanager_ca_file);
    out << YAML::EndMap;
  }
  if (!alerts.webhooks.empty()) {
    out << YAML::Key << "webhooks" << YAML::Value << YAML::BeginSeq;
    for (const WebhookOptions& webhook : alerts.webhooks) {
      out << YAML::BeginMap;
      emit(out, "name", webhook.name);
      emit(out, "url", webhook.url);
      if (!webhook.secret_env.empty()) emit(out, "secret_env", webhook.secret_env);
      if (webhook.ca_file) emit(out, "ca_file", *webhook.ca_file);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  if (!alerts.labels.empty()) {
    out << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, value] : alerts.labels) emit(out, name, value);
    out << YAML::EndMap;
  }
  emit(out, "queue_size", alerts.queue_size);
  emit(out, "timeout_ms", alerts.timeout.count());
  emit(out, "retry_initial_ms", alerts.retry_initial.count());
  emit(out, "retry_max_ms", alerts.retry_max.count());
  emit(out, "max_attempts", alerts.max_attempts);
  emit(out, "event_ttl_s", alerts.event_ttl.count());
  emit(out, "evaluation_interval_s", alerts.evaluation_interval.count());
  emit(out, "quarantine_rate", shortest(alerts.quarantine_rate));
  emit(out, "consumer_lag", alerts.consumer_lag);
  emit(out, "model_stale_s", alerts.model_stale.count());
  out << YAML::EndMap;
}

// Every key, defaults included, so that the gate's rules can be read off the output; optional
// values and sections only when set.
void emit_promotion(YAML::Emitter& out, const PromotionOptions& promotion) {
  out << YAML::Key << "promotion" << YAML::Value << YAML::BeginMap;
  emit(out, "metric", promotion.metric);
  emit(out, "direction", std::string(name_of(kMetricDirections, promotion.direction)));
  emit_bound(out, "min_value", promotion.min_value);
  emit_bound(out, "max_value", promotion.max_value);
  emit(out, "min_improvement", shortest(promotion.min_improvement));
  emit_bound(out, "min_relative_improvement", promotion.min_relative_improvement);
  emit(out, "holdout_samples", promotion.holdout_samples);
  emit(out, "min_holdout_samples", promotion.min_holdout_samples);
  if (!promotion.slices.empty()) {
    out << YAML::Key << "slices" << YAML::Value << YAML::Flow << promotion.slices;
  }
  emit(out, "max_slice_regression", shortest(promotion.max_slice_regression));
  emit(out, "min_slice_samples", promotion.min_slice_samples);
  if (promotion.canary) {
    out << YAML::Key << "canary" << YAML::Value << YAML::BeginMap;
    emit(out, "samples", promotion.canary->samples);
    out << YAML::EndMap;
  }
  if (promotion.guardrail) {
    out << YAML::Key << "guardrail" << YAML::Value << YAML::BeginMap;
    emit(out, "samples", promotion.guardrail->samples);
    emit(out, "max_drop", shortest(promotion.guardrail->max_drop));
    emit(out, "window_s", promotion.guardrail->window.count());
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

// ---- a pipeline's triggers: every resolved setting of each trigger, defaults included; keys
// that do not apply to a trigger's signal, criterion, window or policy are left out, as the
// loader would reject them.

void emit_trigger(YAML::Emitter& out, const triggers::TriggerSpec& trigger);

void emit_schedule(YAML::Emitter& out, const triggers::ScheduleOptions& schedule) {
  if (!schedule.cron.empty()) {
    emit(out, "cron", schedule.cron);
  } else {
    emit(out, "every_s", schedule.interval.count());
  }
}

void emit_new_data(YAML::Emitter& out, const triggers::NewDataOptions& new_data) {
  if (new_data.min_samples > 0) emit(out, "min_samples", new_data.min_samples);
  if (new_data.min_fraction > 0) {
    emit(out, "min_fraction_of_training_set", shortest(new_data.min_fraction));
  }
}

void emit_detector(YAML::Emitter& out, const triggers::DecayOptions& decay) {
  out << YAML::Key << "detector" << YAML::Value << YAML::BeginMap;
  emit(out, "type", std::string(name_of(kDetectorTypes, decay.criterion)));
  if (decay.criterion == triggers::DecayCriterion::kPageHinkley) {
    emit(out, "min_instances", decay.page_hinkley.min_instances);
    emit(out, "delta", shortest(decay.page_hinkley.delta));
    emit(out, "threshold", shortest(decay.page_hinkley.threshold));
    emit(out, "alpha", shortest(decay.page_hinkley.alpha));
  } else if (decay.criterion == triggers::DecayCriterion::kAdwin) {
    emit(out, "delta", shortest(decay.adwin.delta));
    emit(out, "clock", decay.adwin.clock);
    emit(out, "max_buckets", decay.adwin.max_buckets);
    emit(out, "min_window_length", decay.adwin.min_window_length);
    emit(out, "grace_period", decay.adwin.grace_period);
  } else {
    emit(out, "warm_start", decay.ddm.warm_start);
    emit(out, "warning_threshold", shortest(decay.ddm.warning_threshold));
    emit(out, "drift_threshold", shortest(decay.ddm.drift_threshold));
  }
  out << YAML::EndMap;
}

void emit_window_criterion(YAML::Emitter& out, const triggers::DecayOptions& decay) {
  if (decay.signal == triggers::DecaySignal::kMetric) {
    emit(out, "window_points", decay.window_points);
  } else {
    emit(out, "window_samples", decay.window_samples);
  }
  emit(out, "criterion", std::string(name_of(kDecayCriteria, decay.criterion)));
  switch (decay.criterion) {
    case triggers::DecayCriterion::kStaticThreshold:
      emit(out, "threshold", shortest(decay.threshold));
      break;
    case triggers::DecayCriterion::kBaselineDrop:
      emit(out, "drop", shortest(decay.drop));
      emit(out, "drop_mode", std::string(name_of(kDropModes, decay.drop_mode)));
      if (!decay.baseline_metric.empty()) emit(out, "baseline_metric", decay.baseline_metric);
      break;
    default:  // kQuantile, kRollingAverage
      emit(out, "history", decay.history);
      emit(out, "min_history", decay.min_history);
      if (decay.criterion == triggers::DecayCriterion::kQuantile) {
        emit(out, "quantile", shortest(decay.quantile));
      } else {
        emit(out, "sigmas", shortest(decay.sigmas));
        emit(out, "margin", shortest(decay.margin));
      }
      break;
  }
}

void emit_decay(YAML::Emitter& out, const triggers::DecayOptions& decay) {
  emit(out, "signal", std::string(name_of(kDecaySignals, decay.signal)));
  if (decay.signal == triggers::DecaySignal::kMetric) {
    emit(out, "metric", decay.metric);
    emit(out, "higher_is_better", decay.higher_is_better);
  }
  const bool detector = std::ranges::any_of(
      kDetectorTypes, [&decay](const auto& type) { return type.value == decay.criterion; });
  if (detector) {
    emit_detector(out, decay);
  } else {
    emit_window_criterion(out, decay);
  }
  if (decay.refit_after_samples > 0) emit(out, "refit_after_samples", decay.refit_after_samples);
}

void emit_drift_window(YAML::Emitter& out, const triggers::drift::WindowOptions& window) {
  out << YAML::Key << "window" << YAML::Value << YAML::BeginMap;
  emit(out, "type", std::string(name_of(kDriftWindowKinds, window.kind)));
  if (window.duration.count() > 0) {
    emit(out, "duration_s",
         std::chrono::duration_cast<std::chrono::seconds>(window.duration).count());
  } else {
    emit(out, "rows", window.size);
  }
  if (window.kind == triggers::drift::WindowKind::kSliding) {
    emit(out, "panes", window.panes);
  } else {
    emit(out, "ks_sample", window.ks_sample);
  }
  out << YAML::EndMap;
}

// The deciding metric and its threshold (the default one resolved) of one side, when the trigger
// watches features of that type.
void emit_drift_side(YAML::Emitter& out, std::string_view side, std::size_t watched,
                     triggers::drift::DriftMetric metric, const std::optional<double>& threshold) {
  if (watched == 0) return;
  emit(out, fmt::format("{}_metric", side), std::string(name_of(kDriftMetrics, metric)));
  emit(out, fmt::format("{}_threshold", side),
       shortest(threshold.value_or(triggers::drift::default_threshold(metric))));
}

void emit_drift_decision(YAML::Emitter& out, const triggers::DriftTriggerOptions& drift) {
  const triggers::drift::DecisionOptions& decision = drift.decision;
  const triggers::drift::FeatureColumns watched =
      triggers::drift::FeatureColumns::select(drift.layout, drift.features, nullptr);
  emit_drift_side(out, "numeric", watched.numeric.size(), decision.numeric_metric,
                  decision.numeric_threshold);
  emit_drift_side(out, "categorical", watched.categorical.size(), decision.categorical_metric,
                  decision.categorical_threshold);
  emit(out, "policy", std::string(name_of(kThresholdPolicies, decision.policy)));
  if (decision.policy == triggers::drift::ThresholdPolicy::kDynamicQuantile) {
    emit(out, "quantile", shortest(decision.quantile));
    emit(out, "history", decision.history);
    emit(out, "min_history", decision.min_history);
  }
  emit(out, "rule", std::string(name_of(kDatasetRules, decision.rule)));
  if (decision.rule == triggers::drift::DatasetRule::kShare) {
    emit(out, "drift_share", shortest(decision.drift_share));
  }
  emit(out, "correction", std::string(name_of(kCorrections, decision.correction)));
  emit(out, "min_samples", decision.min_samples);
}

void emit_drift(YAML::Emitter& out, const triggers::DriftTriggerOptions& drift) {
  if (!drift.features.empty()) {
    out << YAML::Key << "features" << YAML::Value << YAML::Flow << drift.features;
  }
  emit(out, "source", std::string(name_of(kDriftSources, drift.source)));
  emit_drift_window(out, drift.window);
  emit_drift_decision(out, drift);
  out << YAML::Key << "reference" << YAML::Value << YAML::BeginMap;
  emit(out, "bins", drift.summary.bins);
  emit(out, "coarse_bins", drift.summary.coarse_bins);
  emit(out, "sample_size", drift.summary.sample_size);
  out << YAML::EndMap;
  if (drift.refit_after_samples > 0) emit(out, "refit_after_samples", drift.refit_after_samples);
}

void emit_composite(YAML::Emitter& out, const triggers::CompositeSpec& composite) {
  emit(out, "mode", std::string(name_of(kCompositeModes, composite.options.mode)));
  if (composite.options.mode == triggers::CompositeMode::kAtLeast) {
    emit(out, "n", composite.options.at_least);
  }
  if (composite.options.window) emit(out, "window_s", composite.options.window->count());
  out << YAML::Key << "of" << YAML::Value << YAML::BeginSeq;
  for (const triggers::TriggerSpec& child : composite.children) emit_trigger(out, child);
  out << YAML::EndSeq;
}

void emit_trigger(YAML::Emitter& out, const triggers::TriggerSpec& trigger) {
  out << YAML::BeginMap;
  emit(out, "name", trigger.name());
  emit(out, "type", std::string(name_of(kTriggerKinds, trigger.kind())));
  std::visit(
      [&out](const auto& options) {
        using Options = std::decay_t<decltype(options)>;
        if constexpr (std::is_same_v<Options, triggers::ScheduleOptions>) {
          emit_schedule(out, options);
        } else if constexpr (std::is_same_v<Options, triggers::NewDataOptions>) {
          emit_new_data(out, options);
        } else if constexpr (std::is_same_v<Options, triggers::DecayOptions>) {
          emit_decay(out, options);
        } else if constexpr (std::is_same_v<Options, triggers::DriftTriggerOptions>) {
          emit_drift(out, options);
        } else if constexpr (std::is_same_v<Options, triggers::CompositeSpec>) {
          emit_composite(out, options);
        }  // a manual trigger has no settings
      },
      trigger.options);
  out << YAML::EndMap;
}

// Left out when the pipeline has no triggers (the loader requires at least one under `rules`).
void emit_triggers(YAML::Emitter& out, const triggers::EngineSpec& engine) {
  if (engine.triggers.empty()) return;
  out << YAML::Key << "triggers" << YAML::Value << YAML::BeginMap;
  emit(out, "cooldown_s", engine.limits.cooldown.count());
  emit(out, "min_interval_s", engine.limits.min_interval.count());
  emit(out, "failure_backoff_s", engine.limits.failure_backoff.count());
  emit(out, "failure_backoff_max_s", engine.limits.failure_backoff_max.count());
  out << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
  for (const triggers::TriggerSpec& trigger : engine.triggers) emit_trigger(out, trigger);
  out << YAML::EndSeq << YAML::EndMap;
}

void emit_dataset(YAML::Emitter& out, const DatasetOptions& dataset) {
  out << YAML::Key << "dataset" << YAML::Value << YAML::BeginMap;
  if (dataset.last_samples) emit(out, "last_samples", *dataset.last_samples);
  if (dataset.last_days) emit(out, "last_days", *dataset.last_days);
  out << YAML::EndMap;
}

// The user-settable keys of `object` (a RunSpec's JSON form), in the order of `keys`. An empty
// path is left out: it means "none" and the loader does not accept an empty string.
void emit_spec_map(YAML::Emitter& out, const nlohmann::json& object,
                   std::span<const SpecKey> keys) {
  out << YAML::BeginMap;
  for (const SpecKey& key : keys) {
    const nlohmann::json& value = object.at(std::string(key.name));
    if (key.value == SpecValue::kPath && value.get<std::string>().empty()) continue;
    out << YAML::Key << std::string(key.name) << YAML::Value;
    switch (key.value) {
      case SpecValue::kInt:
        out << value.get<std::int64_t>();
        break;
      case SpecValue::kSeed:
        out << value.get<std::uint64_t>();
        break;
      case SpecValue::kNumber:
        out << shortest(value.get<double>());
        break;
      case SpecValue::kBool:
        out << value.get<bool>();
        break;
      case SpecValue::kString:
      case SpecValue::kPath:
        out << value.get<std::string>();
        break;
      case SpecValue::kIntList:
        out << YAML::Flow << value.get<std::vector<std::int64_t>>();
        break;
      case SpecValue::kStringList:
        out << YAML::Flow << value.get<std::vector<std::string>>();
        break;
      case SpecValue::kMap:
        emit_spec_map(out, value, key.members);
        break;
    }
  }
  out << YAML::EndMap;
}

void emit_kafka(YAML::Emitter& out, const KafkaOptions& kafka) {
  out << YAML::Key << "kafka" << YAML::Value << YAML::BeginMap;
  emit(out, "brokers", kafka.brokers);
  emit(out, "group_id", kafka.group_id);
  emit(out, "embedded_partitions", kafka.embedded_partitions);
  out << YAML::Key << "properties" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, value] : kafka.properties) {
    emit(out, name, is_secret_property(name) ? std::string(kMask) : value);
  }
  out << YAML::EndMap << YAML::EndMap;
}

void emit_ingest(YAML::Emitter& out, const IngestOptions& ingest) {
  out << YAML::Key << "ingest" << YAML::Value << YAML::BeginMap;
  emit(out, "batch_max_records", ingest.batch_max_records);
  emit(out, "batch_max_wait_ms", ingest.batch_max_wait.count());
  emit(out, "max_message_bytes", ingest.max_message_bytes);
  emit(out, "quarantine_raw_max_bytes", ingest.quarantine_raw_max_bytes);
  emit(out, "retry_initial_ms", ingest.retry_initial.count());
  emit(out, "retry_max_ms", ingest.retry_max.count());
  out << YAML::EndMap;
}

void emit_server_and_log(YAML::Emitter& out, const HttpOptions& http, const LogOptions& log) {
  out << YAML::Key << "http" << YAML::Value << YAML::BeginMap;
  emit(out, "listen_address", http.listen_address);
  emit(out, "port", http.port);
  out << YAML::Key << "auth" << YAML::Value << YAML::BeginMap;
  if (!http.tokens_file.empty()) emit(out, "tokens_file", http.tokens_file);
  emit(out, "protect_health", http.protect_health);
  out << YAML::EndMap;
  if (http.tls) {
    out << YAML::Key << "tls" << YAML::Value << YAML::BeginMap;
    emit(out, "cert_file", http.tls->cert_file);
    emit(out, "key_file", http.tls->key_file);
    if (http.tls->client_ca_file) emit(out, "client_ca_file", *http.tls->client_ca_file);
    emit(out, "handshake_timeout_s", http.tls->handshake_timeout.count());
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  out << YAML::Key << "log" << YAML::Value << YAML::BeginMap;
  emit(out, "level", log.level);
  emit(out, "format", std::string(name_of(kLogFormats, log.format)));
  emit(out, "output", std::string(name_of(kLogOutputs, log.output)));
  out << YAML::EndMap;
}

void emit_shutdown(YAML::Emitter& out, const ShutdownOptions& shutdown) {
  out << YAML::Key << "shutdown" << YAML::Value << YAML::BeginMap;
  emit(out, "drain_timeout_s", shutdown.drain_timeout.count());
  emit(out, "running_training",
       std::string(name_of(kRunningTrainingChoices, shutdown.running_training)));
  out << YAML::EndMap;
}

void emit_feature(YAML::Emitter& out, const FeatureSpec& feature) {
  out << YAML::BeginMap;
  emit(out, "name", feature.name);
  emit(out, "type", std::string(name_of(kFeatureTypes, feature.type)));
  emit(out, "required", feature.required);
  emit_bound(out, "min", feature.min);
  emit_bound(out, "max", feature.max);
  if (!feature.allowed_values.empty()) {
    out << YAML::Key << "allowed_values" << YAML::Value << YAML::Flow << feature.allowed_values;
  }
  out << YAML::EndMap;
}

void emit_pipeline(YAML::Emitter& out, const PipelineOptions& pipeline) {
  out << YAML::BeginMap;
  emit(out, "name", pipeline.name);
  out << YAML::Key << "topics" << YAML::Value << YAML::BeginMap;
  emit(out, "labels", pipeline.topics.labels);
  if (pipeline.topics.inferences) emit(out, "inferences", *pipeline.topics.inferences);
  if (pipeline.topics.metrics) emit(out, "metrics", *pipeline.topics.metrics);
  out << YAML::EndMap << YAML::Key << "features" << YAML::Value << YAML::BeginSeq;
  for (const FeatureSpec& feature : pipeline.features) emit_feature(out, feature);
  out << YAML::EndSeq << YAML::Key << "label" << YAML::Value << YAML::BeginMap;
  emit(out, "kind", std::string(name_of(kLabelKinds, pipeline.label.kind)));
  if (pipeline.label.kind == LabelKind::kMulticlass) {
    emit(out, "num_classes", pipeline.label.num_classes);
  }
  emit_bound(out, "min", pipeline.label.min);
  emit_bound(out, "max", pipeline.label.max);
  out << YAML::EndMap;
  emit_dataset(out, pipeline.dataset);
  out << YAML::Key << "training" << YAML::Value;
  emit_spec_map(out, pipeline.training.to_json(), kRunSpecKeys);
  emit_promotion(out, pipeline.promotion);
  emit_triggers(out, pipeline.triggers);
  out << YAML::EndMap;
}

}  // namespace

std::string render(const Options& options) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "postgres" << YAML::Value << YAML::BeginMap;
  emit(out, "dsn", mask_dsn(options.postgres.dsn));
  out << YAML::EndMap;
  emit_kafka(out, options.kafka);
  emit_ingest(out, options.ingest);
  emit_server_and_log(out, options.http, options.log);
  emit_training(out, options.training);
  emit_registry(out, options.registry);
  emit_alerts(out, options.alerts);
  emit_shutdown(out, options.shutdown);
  out << YAML::Key << "pipelines" << YAML::Value << YAML::BeginSeq;
  for (const PipelineOptions& pipeline : options.pipelines) emit_pipeline(out, pipeline);
  out << YAML::EndSeq << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace ctd::config
