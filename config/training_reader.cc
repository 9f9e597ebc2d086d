// Readers of the training configuration (see training_reader.h).
//
// A pipeline's `training` section is read in two steps: a SpecReader walks the YAML with the
// key tables of internal.h, reading each value with the type RunSpec expects (so type errors
// get their own position) into the JSON form of a run spec; trainers::parse_run_spec then
// judges the values (ranges, enum names, required combinations), and each problem it lists is
// reported at the position of the key it names. The loader thus adds no range rules of its own.
#include "config/training_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "config/internal.h"

namespace ctd::config::internal {
namespace {

constexpr Range kTimeoutSecondsRange{1, 604'800};
constexpr Range kKillGraceSecondsRange{1, 600};
constexpr Range kMemoryLimitMbRange{0, 4'194'304};
constexpr std::int64_t kMinMemoryLimitMb = 64;  // smaller limits are taken for unit mistakes
constexpr Range kMaxConcurrentRunsRange{1, 64};
constexpr Range kRetryAbandonedRange{0, 10};
constexpr Range kLastSamplesRange{1, 1'000'000'000};
constexpr Range kLastDaysRange{1, 36'500};
// Run-spec values are judged by trainers::parse_run_spec; these ranges only keep them within
// their C++ types (int, and a seed that must not wrap when read as unsigned).
constexpr Range kSpecIntRange{INT_MIN, INT_MAX};
constexpr Range kSpecSeedRange{0, INT64_MAX};

constexpr std::string_view kTrainingKeys[] = {"trainer",         "run_root",
                                              "timeout_s",       "kill_grace_s",
                                              "memory_limit_mb", "max_concurrent_runs",
                                              "retry_abandoned"};
constexpr std::string_view kDatasetKeys[] = {"last_samples", "last_days"};

// parse_run_spec requires a model path with `init: production`; that model is supplied per
// run by the daemon, so this stands in for it while the defaults are checked.
constexpr std::string_view kProductionModelPlaceholder = "(production model)";
constexpr std::string_view kInitModelPathKey = "init_model_path";
constexpr std::string_view kRunSpecErrorPrefix = "invalid run spec: ";
constexpr std::string_view kProblemSeparator = "; ";

// 0 (no limit) or at least kMinMemoryLimitMb.
std::optional<std::int64_t> read_memory_limit(ErrorSink& errors,
                                              const std::optional<Field>& field) {
  const std::optional<std::int64_t> limit = read_int(errors, field, kMemoryLimitMbRange);
  if (limit && *limit > 0 && *limit < kMinMemoryLimitMb) {
    errors.at(field->mark, field->path,
              fmt::format("must be 0 (no limit) or between {} and {}, got {}", kMinMemoryLimitMb,
                          kMemoryLimitMbRange.max, *limit));
    return std::nullopt;
  }
  return limit;
}

// The path one level up: "a.b[2]" -> "a.b" -> "a"; "" at the top.
std::string parent_path(const std::string& path) {
  const std::size_t cut = path.find_last_of(".[");
  return cut == std::string::npos ? std::string() : path.substr(0, cut);
}

// Reads a `training` section into the JSON form of a run spec, remembering where each key path
// is and which values could not be read (so that parse_run_spec's complaints about them, which
// would repeat the type error, are dropped).
class SpecReader {
 public:
  SpecReader(ErrorSink& errors, const Field& section, const std::filesystem::path& config_dir)
      : errors_(errors), section_(section), config_dir_(config_dir) {}

  ErrorSink& errors() const { return errors_; }
  const Field& section() const { return section_; }

  // The section as a JSON object; absent keys are left out.
  nlohmann::json read() { return read_map(section_, kRunSpecKeys); }

  // Where `path` (a full key path) or its nearest present ancestor is; else the section.
  YAML::Mark mark_of(std::string path) const {
    for (; path.size() > section_.path.size(); path = parent_path(path)) {
      if (const auto it = marks_.find(path); it != marks_.end()) return it->second;
    }
    return section_.mark;
  }

  // Whether `path` or one of its ancestors had a value that could not be read (reported).
  bool failed(std::string path) const {
    for (; !path.empty(); path = parent_path(path)) {
      if (failed_.contains(path)) return true;
    }
    return false;
  }

 private:
  nlohmann::json read_map(const Field& field, std::span<const SpecKey> keys) {
    std::vector<std::string_view> names;
    for (const SpecKey& key : keys) names.push_back(key.name);
    const MapReader map(errors_, field, names);
    if (!field.node.IsMap() && !field.node.IsNull()) failed_.insert(field.path);
    nlohmann::json object = nlohmann::json::object();
    for (const SpecKey& key : keys) {
      const std::optional<Field> value = map.find(key.name);
      if (!value) continue;
      marks_[value->path] = value->mark;
      if (std::optional<nlohmann::json> json = read_value(*value, key)) {
        object[std::string(key.name)] = std::move(*json);
      } else {
        failed_.insert(value->path);
      }
    }
    return object;
  }

  std::optional<nlohmann::json> read_value(const Field& field, const SpecKey& key) {
    switch (key.value) {
      case SpecValue::kInt:
        return to_json(read_int(errors_, field, kSpecIntRange));
      case SpecValue::kSeed:
        return to_json(read_int(errors_, field, kSpecSeedRange),
                       [](std::int64_t seed) { return static_cast<std::uint64_t>(seed); });
      case SpecValue::kNumber:
        return to_json(read_number(errors_, field));
      case SpecValue::kBool:
        return to_json(read_bool(errors_, field));
      case SpecValue::kString:
        return to_json(read_string(errors_, field));
      case SpecValue::kPath:
        return to_json(read_path(errors_, field, config_dir_));
      case SpecValue::kIntList:
        return read_items(field, [this](const Field& item) {
          return to_json(read_int(errors_, item, kSpecIntRange));
        });
      case SpecValue::kStringList:
        return read_items(
            field, [this](const Field& item) { return to_json(read_string(errors_, item)); });
      case SpecValue::kMap: {
        nlohmann::json object = read_map(field, key.members);
        if (failed_.contains(field.path)) return std::nullopt;
        return object;
      }
    }
    return std::nullopt;
  }

  // The value as JSON (after `convert`), or nullopt. Spelled out because nlohmann::json can
  // itself be built from a std::optional, which would turn a missing value into null.
  template <typename T, typename Convert = std::identity>
  static std::optional<nlohmann::json> to_json(const std::optional<T>& value,
                                               Convert convert = {}) {
    if (!value) return std::nullopt;
    return nlohmann::json(convert(*value));
  }

  // A JSON array of the list's items read by `read_item`; nullopt if any could not be read.
  template <typename ReadItem>
  std::optional<nlohmann::json> read_items(const Field& field, ReadItem read_item) {
    const std::optional<std::vector<Field>> items = read_list(errors_, field);
    if (!items) return std::nullopt;
    nlohmann::json array = nlohmann::json::array();
    bool ok = true;
    for (const Field& item : *items) {
      marks_[item.path] = item.mark;
      if (std::optional<nlohmann::json> value = read_item(item)) {
        array.push_back(std::move(*value));
      } else {
        ok = false;
      }
    }
    return ok ? std::optional(std::move(array)) : std::nullopt;
  }

  ErrorSink& errors_;
  Field section_;
  std::filesystem::path config_dir_;
  std::map<std::string, YAML::Mark> marks_;  // full key path -> position of its value
  std::set<std::string> failed_;             // full key paths whose value was not read
};

// Whether `path` ("model.hidden[1]") names a key of `keys` or of their members.
bool is_spec_path(std::string_view path, std::span<const SpecKey> keys) {
  const std::size_t index = path.find('[');
  if (index != std::string_view::npos) path = path.substr(0, index);  // list items
  const std::size_t dot = path.find('.');
  const std::string_view head = path.substr(0, dot);
  return std::any_of(keys.begin(), keys.end(), [&](const SpecKey& key) {
    if (key.name != head) return false;
    return dot == std::string_view::npos || is_spec_path(path.substr(dot + 1), key.members);
  });
}

// Whether `text` starts with a run-spec key path and ": " ("model.hidden[1]: ...").
bool starts_with_key_path(std::string_view text) {
  const std::size_t colon = text.find(": ");
  if (colon == std::string_view::npos) return false;
  const std::string_view path = text.substr(0, colon);
  return path == kInitModelPathKey || is_spec_path(path, kRunSpecKeys);
}

// parse_run_spec's message "invalid run spec: a: m1; b.c: m2" as ("a", "m1"), ("b.c", "m2").
// A "; " inside a message (the user's text is quoted in some) does not start a new problem.
std::vector<std::pair<std::string, std::string>> spec_problems(std::string_view message) {
  if (message.starts_with(kRunSpecErrorPrefix)) message.remove_prefix(kRunSpecErrorPrefix.size());
  std::vector<std::string> parts;
  while (!message.empty()) {
    const std::size_t end = std::min(message.find(kProblemSeparator), message.size());
    const std::string_view part = message.substr(0, end);
    if (parts.empty() || starts_with_key_path(part)) {
      parts.emplace_back(part);
    } else {
      parts.back() += fmt::format("{}{}", kProblemSeparator, part);
    }
    message.remove_prefix(std::min(end + kProblemSeparator.size(), message.size()));
  }
  std::vector<std::pair<std::string, std::string>> problems;
  for (const std::string& part : parts) {
    const std::size_t colon = part.find(": ");
    if (starts_with_key_path(part)) {
      problems.emplace_back(part.substr(0, colon), part.substr(colon + 2));
    } else {
      problems.emplace_back("", part);
    }
  }
  return problems;
}

// Runs parse_run_spec on the section's JSON and reports each problem at its key.
std::optional<trainers::RunSpec> check_run_spec(const SpecReader& reader, nlohmann::json json) {
  const bool from_production = json.value("init", std::string()) == "production";
  if (from_production) json[std::string(kInitModelPathKey)] = kProductionModelPlaceholder;
  try {
    trainers::RunSpec spec = trainers::parse_run_spec(json);
    if (from_production) spec.init_model_path.clear();
    return spec;
  } catch (const std::runtime_error& e) {
    const std::string& section = reader.section().path;
    for (auto& [key, message] : spec_problems(e.what())) {
      const std::string path = key.empty() ? section : fmt::format("{}.{}", section, key);
      if (!reader.failed(path)) reader.errors().at(reader.mark_of(path), path, message);
    }
    return std::nullopt;
  }
}

// " (categorical features: a, b)", or a note that there are none.
std::string list_categorical(KeyList categorical) {
  if (categorical.empty()) return " (the pipeline has no categorical features)";
  return fmt::format(" (categorical features: {})", fmt::join(categorical, ", "));
}

// " (did you mean 'x'?)" for a near miss, else the list of categorical features.
std::string categorical_hint(std::string_view name, KeyList categorical) {
  std::string hint = suggestion(name, categorical);
  return hint.empty() ? list_categorical(categorical) : hint;
}

// Every slice names a categorical feature of the pipeline, once.
void check_slices(const SpecReader& reader, const nlohmann::json& slices,
                  const std::vector<FeatureSpec>& features) {
  UniqueNames unique("slice");
  for (std::size_t index = 0; index < slices.size(); ++index) {
    const std::string path = fmt::format("{}.slices[{}]", reader.section().path, index);
    const Field item{YAML::Node(), reader.mark_of(path), path};
    check_slice_feature(reader.errors(), slices[index].get<std::string>(), item, features, unique);
  }
}

}  // namespace

std::string absolute_path(const std::string& path, const std::filesystem::path& base) {
  const std::filesystem::path given(path);
  return (given.is_absolute() ? given : base / given).lexically_normal().string();
}

std::optional<std::string> read_path(ErrorSink& errors, const std::optional<Field>& field,
                                     const std::filesystem::path& base) {
  std::optional<std::string> path = read_string(errors, field);
  if (path) *path = absolute_path(*path, base);
  return path;
}

void check_slice_feature(ErrorSink& errors, const std::string& name, const Field& item,
                         const std::vector<FeatureSpec>& features, UniqueNames& unique) {
  std::vector<std::string_view> categorical;
  for (const FeatureSpec& feature : features) {
    if (feature.type == FeatureType::kCategorical) categorical.push_back(feature.name);
  }
  unique.check(errors, name, item);
  const auto feature = std::find_if(features.begin(), features.end(),
                                    [&name](const FeatureSpec& f) { return f.name == name; });
  if (feature == features.end()) {
    errors.at(item.mark, item.path,
              fmt::format("unknown feature '{}'{}", name, categorical_hint(name, categorical)));
  } else if (feature->type != FeatureType::kCategorical) {
    errors.at(item.mark, item.path,
              fmt::format("feature '{}' is numeric; slices must name categorical features{}", name,
                          list_categorical(categorical)));
  }
}

TrainingOptions read_training_options(const MapReader& root,
                                      const std::filesystem::path& config_dir) {
  const MapReader map = root.map("training", kTrainingKeys);
  ErrorSink& errors = map.errors();
  TrainingOptions out;
  assign(out.trainer, read_path(errors, map.find("trainer"), config_dir));
  assign(out.run_root, read_path(errors, map.find("run_root"), config_dir));
  assign(out.timeout, read_int(errors, map.find("timeout_s"), kTimeoutSecondsRange));
  assign(out.kill_grace, read_int(errors, map.find("kill_grace_s"), kKillGraceSecondsRange));
  assign(out.memory_limit_mb, read_memory_limit(errors, map.find("memory_limit_mb")));
  assign(out.max_concurrent_runs,
         read_int(errors, map.find("max_concurrent_runs"), kMaxConcurrentRunsRange));
  assign(out.retry_abandoned, read_int(errors, map.find("retry_abandoned"), kRetryAbandonedRange));
  return out;
}

DatasetOptions read_dataset(const MapReader& pipeline) {
  const MapReader map = pipeline.map("dataset", kDatasetKeys);
  DatasetOptions out;
  out.last_samples = read_int(map.errors(), map.find("last_samples"), kLastSamplesRange);
  out.last_days = read_int(map.errors(), map.find("last_days"), kLastDaysRange);
  return out;
}

trainers::RunSpec read_run_defaults(const MapReader& pipeline,
                                    const std::vector<FeatureSpec>& features,
                                    const std::filesystem::path& config_dir) {
  const std::optional<Field> section = pipeline.find("training");
  if (!section) return {};
  SpecReader reader(pipeline.errors(), *section, config_dir);
  const nlohmann::json json = reader.read();
  if (reader.failed(section->path)) return {};
  if (json.contains("slices")) check_slices(reader, json.at("slices"), features);
  return check_run_spec(reader, json).value_or(trainers::RunSpec());
}

}  // namespace ctd::config::internal
