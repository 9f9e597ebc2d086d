// Strict, error-collecting reader of ctd's YAML configuration (rendering is in render.cc).
//
// Reading goes through small typed readers over yaml-cpp nodes (read_int, read_string, ...)
// and a MapReader that checks a map's keys once (config/reader.h). Every problem is reported
// into an ErrorSink instead of throwing, so one run shows all mistakes in the file. The
// training sections are read by training_reader.cc, the promotion and registry sections by
// promotion_reader.cc, the triggers sections by trigger_reader.cc. Nothing here keeps state
// between calls.
#include "config/loader.h"

#include <fmt/format.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string_view>
#include <utility>

#include "config/alerts_reader.h"
#include "config/internal.h"
#include "config/promotion_reader.h"
#include "config/reader.h"
#include "config/training_reader.h"
#include "config/trigger_reader.h"

namespace ctd::config {
namespace {

using internal::absolute_path;
using internal::assign;
using internal::choice_error;
using internal::ErrorSink;
using internal::Field;
using internal::int_error;
using internal::kAnyKey;
using internal::kFeatureTypes;
using internal::kLabelKinds;
using internal::kLogFormats;
using internal::kLogLevels;
using internal::kLogOutputs;
using internal::kRunningTrainingChoices;
using internal::MapReader;
using internal::Range;
using internal::read_bool;
using internal::read_choice;
using internal::read_dataset;
using internal::read_int;
using internal::read_list;
using internal::read_number;
using internal::read_path;
using internal::read_promotion;
using internal::read_registry_options;
using internal::read_run_defaults;
using internal::read_string;
using internal::read_training_options;
using internal::read_triggers;
using internal::scalar;
using internal::UniqueNames;

constexpr std::size_t kMaxTopicNameLength = 249;

// ---------------------------------------------------------------------------------------------
// Value ranges and known keys (documented in config/README.md).

constexpr Range kBatchMaxRecordsRange{1, 1'000'000};
constexpr Range kBatchMaxWaitMsRange{1, 60'000};
constexpr Range kMaxMessageBytesRange{1'024, 1'073'741'824};
constexpr Range kQuarantineRawMaxBytesRange{0, 1'048'576};
constexpr Range kRetryInitialMsRange{1, 60'000};
constexpr Range kRetryMaxMsRange{1, 3'600'000};
constexpr Range kEmbeddedPartitionsRange{1, 1'024};
constexpr Range kPortRange{0, 65'535};
constexpr Range kHandshakeTimeoutRange{1, 300};
constexpr Range kNumClassesRange{2, 10'000};
constexpr Range kDrainTimeoutSecondsRange{1, 3'600};
// The enumerations (kFeatureTypes, kLabelKinds, ...) are in config/internal.h.

// Known keys of each map.
constexpr std::string_view kRootKeys[] = {"postgres", "kafka",    "ingest",   "http",
                                          "log",      "training", "registry", "pipelines",
                                          "alerts",   "shutdown"};
constexpr std::string_view kPostgresKeys[] = {"dsn"};
constexpr std::string_view kKafkaKeys[] = {"brokers", "group_id", "embedded_partitions",
                                           "properties"};
constexpr std::string_view kIngestKeys[] = {"batch_max_records", "batch_max_wait_ms",
                                            "max_message_bytes", "quarantine_raw_max_bytes",
                                            "retry_initial_ms",  "retry_max_ms"};
constexpr std::string_view kHttpKeys[] = {"listen_address", "port", "auth", "tls"};
constexpr std::string_view kHttpAuthKeys[] = {"tokens_file", "protect_health"};
constexpr std::string_view kHttpTlsKeys[] = {"cert_file", "key_file", "client_ca_file",
                                             "handshake_timeout_s"};
constexpr std::string_view kLogKeys[] = {"level", "format", "output"};
constexpr std::string_view kShutdownKeys[] = {"drain_timeout_s", "running_training"};
constexpr std::string_view kPipelineKeys[] = {"name",    "topics",   "features",  "label",
                                              "dataset", "training", "promotion", "triggers"};
constexpr std::string_view kTopicsKeys[] = {"labels", "inferences", "metrics"};
constexpr std::string_view kFeatureKeys[] = {"name", "type", "required",
                                             "min",  "max",  "allowed_values"};
constexpr std::string_view kLabelKeys[] = {"kind", "num_classes", "min", "max"};

constexpr std::string_view kEnvPostgresDsn = "CTD_POSTGRES_DSN";
constexpr std::string_view kEnvKafkaBrokers = "CTD_KAFKA_BROKERS";
constexpr std::string_view kEnvHttpPort = "CTD_HTTP_PORT";
constexpr std::string_view kEnvLogLevel = "CTD_LOG_LEVEL";
constexpr std::string_view kEnvTrainer = "CTD_TRAINER";
constexpr std::string_view kEnvTrainingRunRoot = "CTD_TRAINING_RUN_ROOT";
constexpr std::string_view kEnvArtifactRoot = "CTD_ARTIFACT_ROOT";
constexpr std::string_view kEnvApiTokensFile = "CTD_API_TOKENS_FILE";

// ---------------------------------------------------------------------------------------------
// Sections.

struct ParseContext {
  ErrorSink& errors;
  const Environment& env;
  std::filesystem::path config_dir;  // absolute; relative paths in the file are resolved to it
  UniqueNames topics{"topic"};
};

// The key is required unless the environment variable `variable` overrides it.
std::optional<Field> required_unless_env(const ParseContext& ctx, const MapReader& map,
                                         std::string_view key, std::string_view variable) {
  if (ctx.env.contains(std::string(variable))) return map.find(key);
  return map.require(key, fmt::format(" (or set {})", variable));
}

void read_postgres(ParseContext& ctx, const MapReader& root, PostgresOptions& out) {
  const MapReader map = root.map("postgres", kPostgresKeys);
  assign(out.dsn, read_string(ctx.errors, required_unless_env(ctx, map, "dsn", kEnvPostgresDsn)));
}

void read_kafka_properties(const MapReader& kafka, std::map<std::string, std::string>& out) {
  const MapReader map = kafka.map("properties", kAnyKey);
  for (const MapReader::Entry& entry : map.entries()) {
    assign(out[entry.key], scalar(map.errors(), entry.value, "a scalar value"));
  }
}

void read_kafka(ParseContext& ctx, const MapReader& root, KafkaOptions& out) {
  const MapReader map = root.map("kafka", kKafkaKeys);
  assign(out.brokers,
         read_string(ctx.errors, required_unless_env(ctx, map, "brokers", kEnvKafkaBrokers)));
  assign(out.group_id, read_string(ctx.errors, map.find("group_id")));
  assign(out.embedded_partitions,
         read_int(ctx.errors, map.find("embedded_partitions"), kEmbeddedPartitionsRange));
  read_kafka_properties(map, out.properties);
}

// The retry backoff must not start above its cap. Checked only when both values read cleanly.
void check_retry_order(const MapReader& map, const IngestOptions& ingest, bool read_ok) {
  if (!read_ok || ingest.retry_initial <= ingest.retry_max) return;
  // One of the two keys is present, since the defaults are in order.
  const std::optional<Field> where = map.find("retry_initial_ms");
  map.errors().at(where ? where->mark : map.find("retry_max_ms")->mark,
                  map.path_of("retry_initial_ms"),
                  fmt::format("retry_initial_ms ({}) must not be greater than retry_max_ms ({})",
                              ingest.retry_initial.count(), ingest.retry_max.count()));
}

void read_ingest(ParseContext& ctx, const MapReader& root, IngestOptions& out) {
  const MapReader map = root.map("ingest", kIngestKeys);
  ErrorSink& errors = ctx.errors;
  assign(out.batch_max_records,
         read_int(errors, map.find("batch_max_records"), kBatchMaxRecordsRange));
  assign(out.batch_max_wait, read_int(errors, map.find("batch_max_wait_ms"), kBatchMaxWaitMsRange));
  assign(out.max_message_bytes,
         read_int(errors, map.find("max_message_bytes"), kMaxMessageBytesRange));
  assign(out.quarantine_raw_max_bytes,
         read_int(errors, map.find("quarantine_raw_max_bytes"), kQuarantineRawMaxBytesRange));
  const std::optional<Field> initial_field = map.find("retry_initial_ms");
  const std::optional<Field> max_field = map.find("retry_max_ms");
  const std::optional<std::int64_t> initial = read_int(errors, initial_field, kRetryInitialMsRange);
  const std::optional<std::int64_t> max = read_int(errors, max_field, kRetryMaxMsRange);
  assign(out.retry_initial, initial);
  assign(out.retry_max, max);
  check_retry_order(
      map, out,
      initial.has_value() == initial_field.has_value() && max.has_value() == max_field.has_value());
}

// `http.tls`, present: the certificate and key are required (a `tls:` without them is an
// error, never plain HTTP by accident). Whether the files exist is judged when they are loaded.
TlsOptions read_tls(ParseContext& ctx, const MapReader& http) {
  const MapReader map = http.map("tls", kHttpTlsKeys);
  TlsOptions tls;
  assign(tls.cert_file, read_path(ctx.errors, map.require("cert_file"), ctx.config_dir));
  assign(tls.key_file, read_path(ctx.errors, map.require("key_file"), ctx.config_dir));
  tls.client_ca_file = read_path(ctx.errors, map.find("client_ca_file"), ctx.config_dir);
  assign(tls.handshake_timeout,
         read_int(ctx.errors, map.find("handshake_timeout_s"), kHandshakeTimeoutRange));
  return tls;
}

void read_http(ParseContext& ctx, const MapReader& root, HttpOptions& out) {
  const MapReader map = root.map("http", kHttpKeys);
  assign(out.listen_address, read_string(ctx.errors, map.find("listen_address")));
  assign(out.port, read_int(ctx.errors, map.find("port"), kPortRange));
  const MapReader auth = map.map("auth", kHttpAuthKeys);
  std::optional<std::string> tokens_file = read_string(ctx.errors, auth.find("tokens_file"));
  if (tokens_file) out.tokens_file = absolute_path(*tokens_file, ctx.config_dir);
  assign(out.protect_health, read_bool(ctx.errors, auth.find("protect_health")));
  if (map.find("tls")) out.tls = read_tls(ctx, map);
}

void read_log(ParseContext& ctx, const MapReader& root, LogOptions& out) {
  const MapReader map = root.map("log", kLogKeys);
  assign(out.level, read_choice(ctx.errors, map.find("level"), kLogLevels));
  assign(out.format, read_choice(ctx.errors, map.find("format"), kLogFormats));
  // JSON lines are for log shippers, which read standard output; text stays on stderr.
  out.output = out.format == LogFormat::kJson ? LogOutput::kStdout : LogOutput::kStderr;
  assign(out.output, read_choice(ctx.errors, map.find("output"), kLogOutputs));
}

void read_shutdown(ParseContext& ctx, const MapReader& root, ShutdownOptions& out) {
  const MapReader map = root.map("shutdown", kShutdownKeys);
  assign(out.drain_timeout,
         read_int(ctx.errors, map.find("drain_timeout_s"), kDrainTimeoutSecondsRange));
  assign(out.running_training,
         read_choice(ctx.errors, map.find("running_training"), kRunningTrainingChoices));
}

// Reads optional `min` and `max` and checks that min <= max.
void read_bounds(const MapReader& map, std::optional<double>& min, std::optional<double>& max) {
  min = read_number(map.errors(), map.find("min"));
  max = read_number(map.errors(), map.find("max"));
  if (min && max && *min > *max) {
    map.errors().at(map.find("min")->mark, map.path_of("min"),
                    fmt::format("min ({}) must not be greater than max ({})", *min, *max));
  }
}

bool is_valid_topic_name(std::string_view name) {
  return !name.empty() && name.size() <= kMaxTopicNameLength && name != "." && name != ".." &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '.' || c == '_' || c == '-';
         });
}

std::optional<std::string> read_topic(ParseContext& ctx, const std::optional<Field>& field) {
  std::optional<std::string> topic = read_string(ctx.errors, field);
  if (!topic) return std::nullopt;
  if (!is_valid_topic_name(*topic)) {
    ctx.errors.at(field->mark, field->path,
                  fmt::format("invalid topic name '{}': must match [a-zA-Z0-9._-]{{1,{}}}", *topic,
                              kMaxTopicNameLength));
    return std::nullopt;
  }
  ctx.topics.check(ctx.errors, *topic, *field);
  return topic;
}

TopicsSpec read_topics(ParseContext& ctx, const MapReader& pipeline) {
  const MapReader map = pipeline.required_map("topics", kTopicsKeys);
  TopicsSpec topics;
  assign(topics.labels, read_topic(ctx, map.require("labels")));
  topics.inferences = read_topic(ctx, map.find("inferences"));
  topics.metrics = read_topic(ctx, map.find("metrics"));
  return topics;
}

std::vector<std::string> read_allowed_values(ErrorSink& errors, const MapReader& feature) {
  std::vector<std::string> values;
  UniqueNames unique("allowed value");
  for (const Field& item :
       read_list(errors, feature.find("allowed_values")).value_or(std::vector<Field>())) {
    if (std::optional<std::string> value = read_string(errors, item)) {
      unique.check(errors, *value, item);
      values.push_back(std::move(*value));
    }
  }
  return values;
}

FeatureSpec read_feature(ErrorSink& errors, const Field& item, UniqueNames& names) {
  const MapReader map(errors, item, kFeatureKeys);
  FeatureSpec feature;
  if (std::optional<std::string> name = read_string(errors, map.require("name"))) {
    names.check(errors, *name, *map.find("name"));
    feature.name = std::move(*name);
  }
  assign(feature.required, read_bool(errors, map.find("required")));
  const std::optional<Field> type_field = map.find("type");
  const std::optional<FeatureType> type = read_choice(errors, type_field, kFeatureTypes);
  if (type_field && !type) return feature;  // reported; the type-specific keys cannot be judged
  assign(feature.type, type);
  if (feature.type == FeatureType::kNumeric) {
    read_bounds(map, feature.min, feature.max);
    map.reject("allowed_values", "only allowed on categorical features");
  } else {
    map.reject("min", "only allowed on numeric features");
    map.reject("max", "only allowed on numeric features");
    feature.allowed_values = read_allowed_values(errors, map);
  }
  return feature;
}

std::vector<FeatureSpec> read_features(ErrorSink& errors, const MapReader& pipeline) {
  const std::optional<Field> field = pipeline.require("features");
  const std::optional<std::vector<Field>> items = read_list(errors, field);
  if (!items) return {};
  if (items->empty()) {
    errors.at(field->mark, field->path, "features list is empty; at least one feature is required");
  }
  std::vector<FeatureSpec> features;
  UniqueNames names("feature name");
  for (const Field& item : *items) features.push_back(read_feature(errors, item, names));
  return features;
}

// nullopt when the kind could not be read (reported): the keys that depend on it, here and in
// the pipeline's promotion section, cannot be judged.
std::optional<LabelSpec> read_label(ErrorSink& errors, const MapReader& pipeline) {
  const MapReader map = pipeline.required_map("label", kLabelKeys);
  LabelSpec label;
  const std::optional<LabelKind> kind = read_choice(errors, map.require("kind"), kLabelKinds);
  if (!kind) return std::nullopt;
  label.kind = *kind;
  if (label.kind == LabelKind::kMulticlass) {
    assign(label.num_classes, read_int(errors, map.require("num_classes"), kNumClassesRange));
  } else {
    map.reject("num_classes", "only allowed when kind is multiclass");
  }
  if (label.kind == LabelKind::kRegression) {
    read_bounds(map, label.min, label.max);
  } else {
    map.reject("min", "only allowed when kind is regression");
    map.reject("max", "only allowed when kind is regression");
  }
  return label;
}

PipelineOptions read_pipeline(ParseContext& ctx, const Field& item, UniqueNames& names) {
  const MapReader map(ctx.errors, item, kPipelineKeys);
  PipelineOptions pipeline;
  const std::optional<Field> name_field = map.require("name");
  if (std::optional<std::string> name = read_string(ctx.errors, name_field)) {
    if (!internal::is_valid_name(*name)) {
      ctx.errors.at(name_field->mark, name_field->path,
                    fmt::format("invalid pipeline name '{}': must match [a-z0-9_-]{{1,{}}}", *name,
                                internal::kMaxNameLength));
    }
    names.check(ctx.errors, *name, *name_field);
    pipeline.name = std::move(*name);
  }
  pipeline.topics = read_topics(ctx, map);
  pipeline.features = read_features(ctx.errors, map);
  const std::optional<LabelSpec> label = read_label(ctx.errors, map);
  pipeline.label = label.value_or(LabelSpec());
  pipeline.dataset = read_dataset(map);
  pipeline.training = read_run_defaults(map, pipeline.features, ctx.config_dir);
  pipeline.promotion =
      read_promotion(map, pipeline.features, label ? std::optional(label->kind) : std::nullopt);
  pipeline.triggers = read_triggers(map, pipeline.features, pipeline.topics);
  return pipeline;
}

void read_pipelines(ParseContext& ctx, const MapReader& root, std::vector<PipelineOptions>& out) {
  const std::optional<Field> field = root.require("pipelines");
  const std::optional<std::vector<Field>> items = read_list(ctx.errors, field);
  if (!items) return;
  if (items->empty()) {
    ctx.errors.at(field->mark, field->path, "at least one pipeline is required");
  }
  UniqueNames names("pipeline name");
  for (const Field& item : *items) out.push_back(read_pipeline(ctx, item, names));
}

Options read_options(ErrorSink& errors, const YAML::Node& root, const Environment& env,
                     const std::filesystem::path& config_dir) {
  ParseContext ctx{errors, env, config_dir};
  const MapReader map(errors, Field{root, root.Mark(), ""}, kRootKeys);
  Options options;
  read_postgres(ctx, map, options.postgres);
  read_kafka(ctx, map, options.kafka);
  read_ingest(ctx, map, options.ingest);
  read_http(ctx, map, options.http);
  read_log(ctx, map, options.log);
  options.training = read_training_options(map, ctx.config_dir);
  options.registry = read_registry_options(map, ctx.config_dir);
  options.alerts = internal::read_alerts(map, ctx.env, ctx.config_dir);
  read_shutdown(ctx, map, options.shutdown);
  read_pipelines(ctx, map, options.pipelines);
  return options;
}

// ---------------------------------------------------------------------------------------------
// Environment overrides.

struct StringOverride {
  std::string_view variable;
  std::string& (*target)(Options&);
};

constexpr std::array<StringOverride, 8> kStringOverrides{{
    {"CTD_POSTGRES_DSN", [](Options& o) -> std::string& { return o.postgres.dsn; }},
    {"CTD_KAFKA_BROKERS", [](Options& o) -> std::string& { return o.kafka.brokers; }},
    {"CTD_KAFKA_GROUP_ID", [](Options& o) -> std::string& { return o.kafka.group_id; }},
    {"CTD_HTTP_ADDRESS", [](Options& o) -> std::string& { return o.http.listen_address; }},
    {kEnvTrainer, [](Options& o) -> std::string& { return o.training.trainer; }},
    {kEnvTrainingRunRoot, [](Options& o) -> std::string& { return o.training.run_root; }},
    {kEnvArtifactRoot, [](Options& o) -> std::string& { return o.registry.artifact_root; }},
    {kEnvApiTokensFile, [](Options& o) -> std::string& { return o.http.tokens_file; }},
}};

// Path overrides are made absolute against the working directory, like paths in the file are
// against the file's directory, so that every path in Options is absolute.
constexpr std::array<std::string_view, 4> kPathOverrides{kEnvTrainer, kEnvTrainingRunRoot,
                                                         kEnvArtifactRoot, kEnvApiTokensFile};

std::filesystem::path working_directory() {
  std::error_code ec;
  std::filesystem::path cwd = std::filesystem::current_path(ec);
  return ec ? std::filesystem::path("/") : cwd;
}

// The absolute directory of the config file `file`, against which its relative paths resolve.
std::filesystem::path config_directory(const std::string& file) {
  const std::filesystem::path directory = std::filesystem::path(file).parent_path();
  return directory.is_absolute() ? directory : working_directory() / directory;
}

const std::string* env_value(const Environment& env, std::string_view variable) {
  const auto it = env.find(std::string(variable));
  return it == env.end() ? nullptr : &it->second;
}

void apply_environment(const Environment& env, Options& options, ErrorSink& errors) {
  const auto report = [&errors](std::string_view variable, std::string message) {
    errors.unpositioned(fmt::format("env {}", variable), std::move(message));
  };
  for (const StringOverride& override : kStringOverrides) {
    if (const std::string* value = env_value(env, override.variable)) {
      if (value->empty()) report(override.variable, "must not be empty");
      override.target(options) = *value;
      if (!value->empty() &&
          std::ranges::find(kPathOverrides, override.variable) != kPathOverrides.end()) {
        override.target(options) = absolute_path(*value, working_directory());
      }
    }
  }
  if (const std::string* value = env_value(env, kEnvHttpPort)) {
    std::int64_t port = 0;
    if (std::optional<std::string> error = int_error(*value, kPortRange, port)) {
      report(kEnvHttpPort, std::move(*error));
    }
    options.http.port = static_cast<std::uint16_t>(port);
  }
  if (const std::string* value = env_value(env, kEnvLogLevel)) {
    std::string_view level;
    if (std::optional<std::string> error = choice_error(*value, kLogLevels, level)) {
      report(kEnvLogLevel, std::move(*error));
    }
    options.log.level = level;
  }
}

std::optional<std::string> read_file(const std::string& path, std::string& text) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return "cannot read file: is a directory";
  std::ifstream in(path, std::ios::binary);
  if (!in) return fmt::format("cannot read file: {}", std::strerror(errno));
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return fmt::format("cannot read file: {}", std::strerror(errno));
  return std::nullopt;
}

}  // namespace

std::string ConfigError::to_string() const {
  const std::string path = key_path.empty() ? std::string() : key_path + ": ";
  if (line == 0) return fmt::format("{}: {}{}", file, path, message);
  return fmt::format("{}:{}:{}: {}{}", file, line, column, path, message);
}

Environment process_environment() {
  Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const std::size_t equals = text.find('=');
    if (!text.starts_with("CTD_") || equals == std::string_view::npos) continue;
    env.emplace(text.substr(0, equals), text.substr(equals + 1));
  }
  return env;
}

std::variant<Options, std::vector<ConfigError>> parse(const std::string& yaml_text,
                                                      const std::string& file,
                                                      const Environment& env) {
  ErrorSink errors(file);
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    if (root.IsNull()) {
      errors.unpositioned("", "the configuration file is empty");
      return std::move(errors).take();
    }
    Options options = read_options(errors, root, env, config_directory(file));
    apply_environment(env, options, errors);
    if (errors.empty()) return options;
  } catch (const YAML::ParserException& e) {
    errors.at(e.mark, "", fmt::format("YAML syntax error: {}", e.msg));
  } catch (const YAML::Exception& e) {
    errors.at(e.mark, "", fmt::format("cannot read YAML: {}", e.msg));
  }
  return std::move(errors).take();
}

std::variant<Options, std::vector<ConfigError>> load(const std::string& path,
                                                     const Environment& env) {
  std::string text;
  if (std::optional<std::string> error = read_file(path, text)) {
    return std::vector<ConfigError>{{path, 0, 0, "", std::move(*error)}};
  }
  return parse(text, path, env);
}

}  // namespace ctd::config
