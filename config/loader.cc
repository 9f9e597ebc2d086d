// Strict, error-collecting reader of ctd's YAML configuration (rendering is in render.cc).
//
// Reading goes through small typed readers over yaml-cpp nodes (read_int, read_string, ...)
// and a MapReader that checks a map's keys once. Every problem is reported into an ErrorSink
// instead of throwing, so one run shows all mistakes in the file. Nothing here keeps state
// between calls.
#include "config/loader.h"

#include <fmt/format.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "config/internal.h"

namespace ctd::config {
namespace {

using internal::kFeatureTypes;
using internal::kLabelKinds;
using internal::kLogFormats;
using internal::kLogLevels;
using internal::lowercase;

constexpr std::size_t kMaxSuggestionDistance = 2;
constexpr std::size_t kMaxPipelineNameLength = 63;
constexpr std::size_t kMaxTopicNameLength = 249;

// ---------------------------------------------------------------------------------------------
// Value ranges and enumerations (documented in config/README.md).

struct Range {
  std::int64_t min;
  std::int64_t max;
};

constexpr Range kBatchMaxRecordsRange{1, 1'000'000};
constexpr Range kBatchMaxWaitMsRange{1, 60'000};
constexpr Range kMaxMessageBytesRange{1'024, 1'073'741'824};
constexpr Range kQuarantineRawMaxBytesRange{0, 1'048'576};
constexpr Range kRetryInitialMsRange{1, 60'000};
constexpr Range kRetryMaxMsRange{1, 3'600'000};
constexpr Range kEmbeddedPartitionsRange{1, 1'024};
constexpr Range kPortRange{0, 65'535};
constexpr Range kNumClassesRange{2, 10'000};
// The enumerations (kFeatureTypes, kLabelKinds, ...) are in config/internal.h.

// Known keys of each map. An empty list means "any key" (kafka.properties).
using KeyList = std::span<const std::string_view>;
constexpr KeyList kAnyKey{};
constexpr std::string_view kRootKeys[] = {"postgres", "kafka", "ingest",
                                          "http",     "log",   "pipelines"};
constexpr std::string_view kPostgresKeys[] = {"dsn"};
constexpr std::string_view kKafkaKeys[] = {"brokers", "group_id", "embedded_partitions",
                                           "properties"};
constexpr std::string_view kIngestKeys[] = {"batch_max_records", "batch_max_wait_ms",
                                            "max_message_bytes", "quarantine_raw_max_bytes",
                                            "retry_initial_ms",  "retry_max_ms"};
constexpr std::string_view kHttpKeys[] = {"listen_address", "port"};
constexpr std::string_view kLogKeys[] = {"level", "format"};
constexpr std::string_view kPipelineKeys[] = {"name", "topics", "features", "label"};
constexpr std::string_view kTopicsKeys[] = {"labels", "inferences", "metrics"};
constexpr std::string_view kFeatureKeys[] = {"name", "type", "required",
                                             "min",  "max",  "allowed_values"};
constexpr std::string_view kLabelKeys[] = {"kind", "num_classes", "min", "max"};

constexpr std::string_view kEnvPostgresDsn = "CTD_POSTGRES_DSN";
constexpr std::string_view kEnvKafkaBrokers = "CTD_KAFKA_BROKERS";
constexpr std::string_view kEnvHttpPort = "CTD_HTTP_PORT";
constexpr std::string_view kEnvLogLevel = "CTD_LOG_LEVEL";

// ---------------------------------------------------------------------------------------------
// Errors and suggestions.

// Collects the errors of one parse; converts yaml-cpp's 0-based marks to 1-based positions.
class ErrorSink {
 public:
  explicit ErrorSink(std::string file) : file_(std::move(file)) {}

  void at(const YAML::Mark& mark, std::string key_path, std::string message) {
    const bool positioned = mark.line >= 0;
    errors_.push_back({file_, positioned ? mark.line + 1 : 0, positioned ? mark.column + 1 : 0,
                       std::move(key_path), std::move(message)});
  }
  void unpositioned(std::string key_path, std::string message) {
    at(YAML::Mark::null_mark(), std::move(key_path), std::move(message));
  }
  bool empty() const { return errors_.empty(); }

  // Errors in file order; those without a position last.
  std::vector<ConfigError> take() && {
    std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
      const auto key = [](const ConfigError& e) {
        return std::pair(e.line == 0 ? INT_MAX : e.line, e.column);
      };
      return key(a) < key(b);
    });
    return std::move(errors_);
  }

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

// Optimal-string-alignment distance: Levenshtein plus transposition of adjacent characters.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// " (did you mean 'x'?)" for the closest candidate within reach, or "".
std::string suggestion(std::string_view word, KeyList candidates) {
  std::optional<std::string_view> best;
  std::size_t best_distance = kMaxSuggestionDistance + 1;
  for (const std::string_view candidate : candidates) {
    const std::size_t distance =
        lowercase(word) == lowercase(candidate) ? 0 : edit_distance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best ? fmt::format(" (did you mean '{}'?)", *best) : std::string();
}

template <typename Choices>
std::vector<std::string_view> choice_names(const Choices& choices) {
  std::vector<std::string_view> names;
  for (const auto& choice : choices) names.push_back(choice.name);
  return names;
}

// ---------------------------------------------------------------------------------------------
// Parsing of scalar text, shared by YAML values and environment variables. Each returns the
// reason the text is not acceptable, or nullopt and stores the value.

std::optional<std::string> int_error(std::string_view text, Range range, std::int64_t& value) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  const bool whole = end == text.data() + text.size();
  if (ec == std::errc() && whole && value >= range.min && value <= range.max) return std::nullopt;
  if ((ec == std::errc() || ec == std::errc::result_out_of_range) && whole) {
    return fmt::format("must be between {} and {}, got {}", range.min, range.max, text);
  }
  return fmt::format("expected an integer, got '{}'", text);
}

std::optional<std::string> number_error(std::string_view text, double& value) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc() && end == text.data() + text.size() && std::isfinite(value)) {
    return std::nullopt;
  }
  return fmt::format("expected a finite number, got '{}'", text);
}

template <typename Choices>
std::optional<std::string> choice_error(std::string_view text, const Choices& choices,
                                        typename Choices::value_type::Value& value) {
  for (const auto& choice : choices) {
    if (choice.name == text) {
      value = choice.value;
      return std::nullopt;
    }
  }
  const std::vector<std::string_view> names = choice_names(choices);
  return fmt::format("invalid value '{}', expected one of: {}{}", text, fmt::join(names, ", "),
                     suggestion(text, names));
}

// ---------------------------------------------------------------------------------------------
// Typed readers of YAML values.

// One value being read: the node, where to report problems with it (the key's position when
// the value is empty, since yaml-cpp then points at the next token) and its key path.
struct Field {
  YAML::Node node;
  YAML::Mark mark;
  std::string path;
};

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return fmt::format("'{}'", node.Scalar());
    default:
      return "an empty value";
  }
}

// The field's scalar text; reports a type error (expecting `what`) when it is not a scalar.
std::optional<std::string> scalar(ErrorSink& errors, const std::optional<Field>& field,
                                  std::string_view what) {
  if (!field) return std::nullopt;
  if (field->node.IsScalar()) return field->node.Scalar();
  errors.at(field->mark, field->path,
            fmt::format("expected {}, got {}", what, describe(field->node)));
  return std::nullopt;
}

// Runs `check(text, value)` on the field's scalar text and reports the message it returns.
template <typename T, typename Check>
std::optional<T> read_checked(ErrorSink& errors, const std::optional<Field>& field,
                              std::string_view what, Check check) {
  const std::optional<std::string> text = scalar(errors, field, what);
  if (!text) return std::nullopt;
  T value{};
  if (std::optional<std::string> error = check(*text, value)) {
    errors.at(field->mark, field->path, std::move(*error));
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> read_string(ErrorSink& errors, const std::optional<Field>& field) {
  return read_checked<std::string>(
      errors, field, "a string", [](const std::string& text, std::string& value) {
        value = text;
        return text.empty() ? std::optional<std::string>("must not be empty") : std::nullopt;
      });
}

std::optional<std::int64_t> read_int(ErrorSink& errors, const std::optional<Field>& field,
                                     Range range) {
  return read_checked<std::int64_t>(errors, field, "an integer",
                                    [range](const std::string& text, std::int64_t& value) {
                                      return int_error(text, range, value);
                                    });
}

std::optional<double> read_number(ErrorSink& errors, const std::optional<Field>& field) {
  return read_checked<double>(errors, field, "a number", number_error);
}

std::optional<bool> read_bool(ErrorSink& errors, const std::optional<Field>& field) {
  return read_checked<bool>(errors, field, "a boolean", [](const std::string& text, bool& value) {
    const std::string lower = lowercase(text);
    value = lower == "true";
    return value || lower == "false"
               ? std::nullopt
               : std::optional(fmt::format("expected a boolean (true or false), got '{}'", text));
  });
}

template <typename Choices>
std::optional<typename Choices::value_type::Value> read_choice(ErrorSink& errors,
                                                               const std::optional<Field>& field,
                                                               const Choices& choices) {
  using Value = typename Choices::value_type::Value;
  return read_checked<Value>(errors, field, "a string",
                             [&choices](const std::string& text, Value& value) {
                               return choice_error(text, choices, value);
                             });
}

// The items of a list; nullopt when absent or not a list (reported). An empty value is [].
std::optional<std::vector<Field>> read_list(ErrorSink& errors, const std::optional<Field>& field) {
  if (!field) return std::nullopt;
  std::vector<Field> items;
  if (field->node.IsNull()) return items;
  if (!field->node.IsSequence()) {
    errors.at(field->mark, field->path,
              fmt::format("expected a list, got {}", describe(field->node)));
    return std::nullopt;
  }
  for (std::size_t index = 0; index < field->node.size(); ++index) {
    const YAML::Node item = field->node[index];
    const YAML::Mark mark = item.IsNull() ? field->mark : item.Mark();
    items.push_back({item, mark, fmt::format("{}[{}]", field->path, index)});
  }
  return items;
}

template <typename T, typename U>
void assign(T& target, const std::optional<U>& value) {
  if (value) target = static_cast<T>(*value);
}

// ---------------------------------------------------------------------------------------------
// Maps.

// A YAML map being read. Construction reports unknown keys (with a suggestion) and duplicate
// keys. An absent or empty value reads as an empty map; a value of another type is reported
// once and then reads as an empty map whose missing keys are not reported again.
class MapReader {
 public:
  struct Entry {
    std::string key;
    YAML::Mark key_mark;
    Field value;
  };

  MapReader(ErrorSink& errors, Field field, KeyList known_keys, bool report_missing = true)
      : errors_(errors), field_(std::move(field)), report_missing_(report_missing) {
    if (field_.node.IsMap()) {
      index(known_keys);
    } else if (!field_.node.IsNull()) {
      errors_.at(field_.mark, field_.path,
                 fmt::format("expected a map, got {}", describe(field_.node)));
      report_missing_ = false;
    }
  }

  ErrorSink& errors() const { return errors_; }
  const std::vector<Entry>& entries() const { return entries_; }

  std::string path_of(std::string_view key) const {
    return field_.path.empty() ? std::string(key) : fmt::format("{}.{}", field_.path, key);
  }

  const Entry* entry(std::string_view key) const {
    const auto it = std::find_if(entries_.begin(), entries_.end(),
                                 [key](const Entry& entry) { return entry.key == key; });
    return it == entries_.end() ? nullptr : &*it;
  }

  std::optional<Field> find(std::string_view key) const {
    const Entry* found = entry(key);
    return found ? std::optional(found->value) : std::nullopt;
  }

  // Like find(), but reports a missing key at this map's position. `hint` is appended.
  std::optional<Field> require(std::string_view key, std::string_view hint = {}) const {
    std::optional<Field> field = find(key);
    if (!field && report_missing_) {
      errors_.at(field_.mark, path_of(key), fmt::format("missing required key '{}'{}", key, hint));
    }
    return field;
  }

  MapReader map(std::string_view key, KeyList known_keys) const {
    std::optional<Field> field = find(key);
    if (!field) field = Field{YAML::Node(), field_.mark, path_of(key)};
    return MapReader(errors_, std::move(*field), known_keys, report_missing_);
  }

  MapReader required_map(std::string_view key, KeyList known_keys) const {
    if (std::optional<Field> field = require(key)) return MapReader(errors_, *field, known_keys);
    return MapReader(errors_, Field{YAML::Node(), field_.mark, path_of(key)}, known_keys, false);
  }

  // Reports `key`, when present, as not allowed here.
  void reject(std::string_view key, std::string_view reason) const {
    if (const Entry* found = entry(key)) {
      errors_.at(found->key_mark, path_of(key), fmt::format("'{}' is {}", key, reason));
    }
  }

 private:
  void index(KeyList known_keys) {
    for (const auto& pair : field_.node) add_entry(pair.first, pair.second, known_keys);
  }

  void add_entry(const YAML::Node& key, const YAML::Node& value, KeyList known_keys) {
    if (!key.IsScalar()) {
      errors_.at(key.Mark(), field_.path,
                 fmt::format("expected a string key, got {}", describe(key)));
      return;
    }
    const std::string name = key.Scalar();
    if (!known_keys.empty() &&
        std::find(known_keys.begin(), known_keys.end(), name) == known_keys.end()) {
      errors_.at(key.Mark(), path_of(name), unknown_key_message(name, known_keys));
    } else if (entry(name) != nullptr) {
      errors_.at(key.Mark(), path_of(name), fmt::format("duplicate key '{}'", name));
    } else {
      const YAML::Mark value_mark = value.IsNull() ? key.Mark() : value.Mark();
      entries_.push_back({name, key.Mark(), Field{value, value_mark, path_of(name)}});
    }
  }

  static std::string unknown_key_message(std::string_view name, KeyList known_keys) {
    std::string hint = suggestion(name, known_keys);
    if (hint.empty()) hint = fmt::format(" (valid keys: {})", fmt::join(known_keys, ", "));
    return fmt::format("unknown key '{}'{}", name, hint);
  }

  ErrorSink& errors_;
  Field field_;
  bool report_missing_;
  std::vector<Entry> entries_;
};

// Reports a second use of a name (pipeline, feature, allowed value, topic) within its scope.
class UniqueNames {
 public:
  explicit UniqueNames(std::string_view what) : what_(what) {}

  void check(ErrorSink& errors, const std::string& name, const Field& field) {
    const auto [it, inserted] = first_.try_emplace(name, field.path, field.mark.line + 1);
    if (!inserted) {
      errors.at(field.mark, field.path,
                fmt::format("duplicate {} '{}' (first used at {}, line {})", what_, name,
                            it->second.first, it->second.second));
    }
  }

 private:
  std::string_view what_;
  std::map<std::string, std::pair<std::string, int>> first_;  // name -> (path, line)
};

// ---------------------------------------------------------------------------------------------
// Sections.

struct ParseContext {
  ErrorSink& errors;
  const Environment& env;
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

void read_http(ParseContext& ctx, const MapReader& root, HttpOptions& out) {
  const MapReader map = root.map("http", kHttpKeys);
  assign(out.listen_address, read_string(ctx.errors, map.find("listen_address")));
  assign(out.port, read_int(ctx.errors, map.find("port"), kPortRange));
}

void read_log(ParseContext& ctx, const MapReader& root, LogOptions& out) {
  const MapReader map = root.map("log", kLogKeys);
  assign(out.level, read_choice(ctx.errors, map.find("level"), kLogLevels));
  assign(out.format, read_choice(ctx.errors, map.find("format"), kLogFormats));
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

bool is_valid_pipeline_name(std::string_view name) {
  return !name.empty() && name.size() <= kMaxPipelineNameLength &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
         });
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

LabelSpec read_label(ErrorSink& errors, const MapReader& pipeline) {
  const MapReader map = pipeline.required_map("label", kLabelKeys);
  LabelSpec label;
  const std::optional<LabelKind> kind = read_choice(errors, map.require("kind"), kLabelKinds);
  if (!kind) return label;  // reported; the kind-specific keys cannot be judged
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
    if (!is_valid_pipeline_name(*name)) {
      ctx.errors.at(name_field->mark, name_field->path,
                    fmt::format("invalid pipeline name '{}': must match [a-z0-9_-]{{1,{}}}", *name,
                                kMaxPipelineNameLength));
    }
    names.check(ctx.errors, *name, *name_field);
    pipeline.name = std::move(*name);
  }
  pipeline.topics = read_topics(ctx, map);
  pipeline.features = read_features(ctx.errors, map);
  pipeline.label = read_label(ctx.errors, map);
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

Options read_options(ErrorSink& errors, const YAML::Node& root, const Environment& env) {
  ParseContext ctx{errors, env};
  const MapReader map(errors, Field{root, root.Mark(), ""}, kRootKeys);
  Options options;
  read_postgres(ctx, map, options.postgres);
  read_kafka(ctx, map, options.kafka);
  read_ingest(ctx, map, options.ingest);
  read_http(ctx, map, options.http);
  read_log(ctx, map, options.log);
  read_pipelines(ctx, map, options.pipelines);
  return options;
}

// ---------------------------------------------------------------------------------------------
// Environment overrides.

struct StringOverride {
  std::string_view variable;
  std::string& (*target)(Options&);
};

constexpr std::array<StringOverride, 4> kStringOverrides{{
    {"CTD_POSTGRES_DSN", [](Options& o) -> std::string& { return o.postgres.dsn; }},
    {"CTD_KAFKA_BROKERS", [](Options& o) -> std::string& { return o.kafka.brokers; }},
    {"CTD_KAFKA_GROUP_ID", [](Options& o) -> std::string& { return o.kafka.group_id; }},
    {"CTD_HTTP_ADDRESS", [](Options& o) -> std::string& { return o.http.listen_address; }},
}};

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
    Options options = read_options(errors, root, env);
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
