// Renders config::Options back to YAML for `ctd check-config`, in the layout the loader
// reads, with secrets masked: the password in the Postgres DSN (URI or key/value form) and
// librdkafka properties whose names mention a password, secret or key. Pure functions.
#include "config/loader.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/internal.h"

namespace ctd::config {
namespace {

using internal::kFeatureTypes;
using internal::kLabelKinds;
using internal::kLogFormats;
using internal::kMetricDirections;
using internal::kRunSpecKeys;
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
  out << YAML::EndMap;
  out << YAML::Key << "log" << YAML::Value << YAML::BeginMap;
  emit(out, "level", log.level);
  emit(out, "format", std::string(name_of(kLogFormats, log.format)));
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
  out << YAML::Key << "pipelines" << YAML::Value << YAML::BeginSeq;
  for (const PipelineOptions& pipeline : options.pipelines) emit_pipeline(out, pipeline);
  out << YAML::EndSeq << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace ctd::config
