// The non-template parts of the YAML reading machinery declared in config/reader.h.
#include "config/reader.h"

#include <charconv>
#include <cmath>

#include "config/internal.h"

namespace ctd::config::internal {
namespace {

constexpr std::size_t kMaxSuggestionDistance = 2;

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

}  // namespace

bool is_valid_name(std::string_view name) {
  return !name.empty() && name.size() <= kMaxNameLength &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
         });
}

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

std::string Interval::describe() const {
  if (std::isinf(high)) return fmt::format("{} {}", low_open ? ">" : ">=", low);
  return fmt::format("in {}{}, {}{}", low_open ? "(" : "[", low, high, high_open ? ")" : "]");
}

std::optional<double> read_number_in(ErrorSink& errors, const std::optional<Field>& field,
                                     Interval interval) {
  const std::optional<double> value = read_number(errors, field);
  if (value && !interval.contains(*value)) {
    errors.at(field->mark, field->path,
              fmt::format("must be {}, got {}", interval.describe(), *value));
    return std::nullopt;
  }
  return value;
}

bool has_key(const Field& field, std::string_view key) {
  return field.node.IsMap() && field.node[std::string(key)].IsDefined();
}

std::vector<std::string_view> union_of(std::initializer_list<KeyList> lists) {
  std::vector<std::string_view> keys;
  for (const KeyList list : lists) {
    for (const std::string_view key : list) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  return keys;
}

void require_one_of(const MapReader& map, std::string_view first, std::string_view second,
                    std::string_view what) {
  const MapReader::Entry* a = map.entry(first);
  const MapReader::Entry* b = map.entry(second);
  if (a != nullptr && b != nullptr) {
    map.errors().at(b->key_mark, map.path_of(second),
                    fmt::format("'{}' and '{}' are exclusive: set one of them", first, second));
  } else if (a == nullptr && b == nullptr) {
    map.errors().at(map.field().mark, map.field().path,
                    fmt::format("{} needs '{}' or '{}'", what, first, second));
  }
}

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

}  // namespace ctd::config::internal
