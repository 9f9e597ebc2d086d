// Private to config/: the strict, error-collecting YAML reading machinery shared by the
// section readers (loader.cc, training_reader.cc, promotion_reader.cc, trigger_reader.cc): an
// ErrorSink that collects every problem with its position, small typed readers of scalar values
// (read_int, read_string, read_number_in, ...), a MapReader that checks a map's keys once
// (unknown keys with a "did you mean" suggestion, duplicates, missing required keys) and
// helpers for maps whose keys depend on their `type`. Not part of the module's API.
//
// Thread-safety: no shared state; an ErrorSink and the readers over it belong to one parse.
#pragma once

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/loader.h"

namespace ctd::config::internal {

// An inclusive range of accepted integers.
struct Range {
  std::int64_t min;
  std::int64_t max;
};

// Known keys of a map. An empty list means "any key" (kafka.properties).
using KeyList = std::span<const std::string_view>;
inline constexpr KeyList kAnyKey{};

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
  std::size_t count() const { return errors_.size(); }

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

// One value being read: the node, where to report problems with it (the key's position when
// the value is empty, since yaml-cpp then points at the next token) and its key path.
struct Field {
  YAML::Node node;
  YAML::Mark mark;
  std::string path;
};

// Names of things a user refers to later (pipelines, triggers): [a-z0-9_-]{1,kMaxNameLength}.
inline constexpr std::size_t kMaxNameLength = 63;
bool is_valid_name(std::string_view name);

// " (did you mean 'x'?)" for the closest candidate within reach, or "".
std::string suggestion(std::string_view word, KeyList candidates);

template <typename Choices>
std::vector<std::string_view> choice_names(const Choices& choices) {
  std::vector<std::string_view> names;
  for (const auto& choice : choices) names.push_back(choice.name);
  return names;
}

// Parsing of scalar text, shared by YAML values and environment variables. Each returns the
// reason the text is not acceptable, or nullopt and stores the value.
std::optional<std::string> int_error(std::string_view text, Range range, std::int64_t& value);
std::optional<std::string> number_error(std::string_view text, double& value);

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

// "a map", "a list", "'text'" or "an empty value", for type errors.
std::string describe(const YAML::Node& node);

// The field's scalar text; reports a type error (expecting `what`) when it is not a scalar.
std::optional<std::string> scalar(ErrorSink& errors, const std::optional<Field>& field,
                                  std::string_view what);

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

// Typed readers: nullopt when the field is absent or its value is not acceptable (reported).
std::optional<std::string> read_string(ErrorSink& errors, const std::optional<Field>& field);
std::optional<std::int64_t> read_int(ErrorSink& errors, const std::optional<Field>& field,
                                     Range range);
std::optional<double> read_number(ErrorSink& errors, const std::optional<Field>& field);
std::optional<bool> read_bool(ErrorSink& errors, const std::optional<Field>& field);

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
std::optional<std::vector<Field>> read_list(ErrorSink& errors, const std::optional<Field>& field);

template <typename T, typename U>
void assign(T& target, const std::optional<U>& value) {
  if (value) target = static_cast<T>(*value);
}

// Whether a key that was present was also read cleanly (an absent key counts as clean): rules
// between keys are judged only on clean values, so that one mistake is reported once.
template <typename T>
bool read_cleanly(const std::optional<Field>& field, const std::optional<T>& value) {
  return field.has_value() == value.has_value();
}

// An interval of accepted numbers; infinite ends are open.
struct Interval {
  double low = -std::numeric_limits<double>::infinity();
  double high = std::numeric_limits<double>::infinity();
  bool low_open = false;
  bool high_open = false;

  bool contains(double value) const {
    return (low_open ? value > low : value >= low) && (high_open ? value < high : value <= high);
  }
  std::string describe() const;  // "> 0", ">= 0", "in (0, 1]", ...
};

inline constexpr double kInfinity = std::numeric_limits<double>::infinity();
inline constexpr Interval kPositive{0, kInfinity, true, false};
inline constexpr Interval kNonNegative{0, kInfinity, false, false};
inline constexpr Interval kOpenUnit{0, 1, true, true};
inline constexpr Interval kClosedUnit{0, 1, false, false};
inline constexpr Interval kUpperClosedUnit{0, 1, true, false};

// A finite number within `interval`; nullopt when absent or not acceptable (reported).
std::optional<double> read_number_in(ErrorSink& errors, const std::optional<Field>& field,
                                     Interval interval);

// Whether the map `field` has `key`.
bool has_key(const Field& field, std::string_view key);

// The `type` of the map `field`, looked at without reporting anything, for maps whose other
// keys depend on their type: MapReader needs the keys before `type` is read (and reported)
// through it. nullopt when absent or not one of `choices`.
template <typename Choices>
std::optional<typename Choices::value_type::Value> peek_type(const Field& field,
                                                             const Choices& choices) {
  if (!field.node.IsMap()) return std::nullopt;
  const YAML::Node type = field.node["type"];  // a missing key's node throws unless checked
  if (!type.IsDefined() || !type.IsScalar()) return std::nullopt;
  typename Choices::value_type::Value value{};
  if (choice_error(type.Scalar(), choices, value)) return std::nullopt;
  return value;
}

// Every key of several key lists, once: the keys a map accepts while its type is unknown, so
// that an unreadable type is the only error reported about it.
std::vector<std::string_view> union_of(std::initializer_list<KeyList> lists);

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
  const Field& field() const { return field_; }
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

// Reports a map that has both of two exclusive keys (at the second), or neither when it needs
// one of them (`what` names the map: "a schedule trigger").
void require_one_of(const MapReader& map, std::string_view first, std::string_view second,
                    std::string_view what);

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

}  // namespace ctd::config::internal
