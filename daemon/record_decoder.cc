#include "daemon/record_decoder.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_map>

#include <fmt/format.h>

namespace ctd::ingest {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// Event times outside [1970, 10000) are rejected: they are typos (seconds for milliseconds,
// microseconds) far more often than real data.
constexpr std::int64_t kMaxEventTimeMs = 253402300799999;  // 9999-12-31T23:59:59.999Z

struct Slot {
  const config::FeatureSpec* spec;
  std::size_t index;  // within numeric or categorical
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

Rejection reject(RejectReason reason, std::string detail) { return {reason, std::move(detail)}; }

// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool read_digits(std::string_view text, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > text.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// Message text echoed in a detail: at most `max_bytes`, cut on a UTF-8 character boundary, NUL
// written as "\0". The detail is stored as PostgreSQL text, which rejects NUL and invalid UTF-8,
// and a quarantine write that fails is retried forever, stalling the stream.
std::string quote_input(std::string_view text, std::size_t max_bytes = 64) {
  if (text.size() > max_bytes) {
    std::size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut);
  }
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\0') {
      out += "\\0";
    } else {
      out += c;
    }
  }
  return out;
}

std::string type_name(element_type type) {
  switch (type) {
    case element_type::ARRAY:
      return "an array";
    case element_type::OBJECT:
      return "an object";
    case element_type::STRING:
      return "a string";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return "a number";
    case element_type::BOOL:
      return "a boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

bool is_number(element_type type) {
  return type == element_type::INT64 || type == element_type::UINT64 ||
         type == element_type::DOUBLE;
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text) {
  int year, month, day, hour, minute, second;
  if (text.size() < 20 || !read_digits(text, 0, 4, year) || text[4] != '-' ||
      !read_digits(text, 5, 2, month) || text[7] != '-' || !read_digits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !read_digits(text, 11, 2, hour) ||
      text[13] != ':' || !read_digits(text, 14, 2, minute) || text[16] != ':' ||
      !read_digits(text, 17, 2, second)) {
    return std::nullopt;
  }
  static constexpr int kDaysInMonth[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || day < 1 || day > kDaysInMonth[month - 1] ||
      (month == 2 && day == 29 && !leap) || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    std::size_t digits = 0;
    for (++pos; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos, ++digits) {
      if (digits < 3) millis = millis * 10 + (text[pos] - '0');
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 3; ++digits) millis *= 10;
  }
  std::int64_t offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int oh, om;
    if (!read_digits(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !read_digits(text, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = (text[pos] == '+' ? 1 : -1) * (oh * 60 + om);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  const std::int64_t days = days_from_civil(year, month, day);
  const std::int64_t seconds =
      days * 86400 + hour * 3600 + minute * 60 + std::min(second, 59) - offset_minutes * 60;
  return seconds * 1000 + millis;
}

FeatureLayout::FeatureLayout(const config::PipelineOptions& pipeline) {
  for (const config::FeatureSpec& f : pipeline.features) {
    (f.type == config::FeatureType::kNumeric ? numeric : categorical).push_back(&f);
  }
}

struct RecordDecoder::Impl {
  Impl(const config::PipelineOptions& p, Stream s, std::size_t max_bytes)
      : pipeline(p), stream(s), max_message_bytes(max_bytes), layout(p) {
    for (std::size_t i = 0; i < layout.numeric.size(); ++i) {
      slots.emplace(layout.numeric[i]->name, Slot{layout.numeric[i], i});
    }
    for (std::size_t i = 0; i < layout.categorical.size(); ++i) {
      slots.emplace(layout.categorical[i]->name, Slot{layout.categorical[i], i});
    }
  }

  std::optional<Rejection> parse(std::string_view payload, element& doc);
  std::optional<Rejection> read_event_time(const object& obj, std::int64_t& out);
  std::optional<Rejection> read_features(const object& obj);
  std::optional<Rejection> read_numeric(const Slot& slot, element value);
  std::optional<Rejection> read_categorical(const Slot& slot, element value);
  std::optional<Rejection> read_label(const object& obj, double& label, double& weight);
  std::optional<Rejection> read_inference(const object& obj, double& prediction,
                                          std::int64_t& version);
  std::optional<Rejection> decode_metric(const object& obj, RecordKey key, DecodedBatch& batch);
  std::optional<Rejection> decode_featured(const object& obj, RecordKey key, DecodedBatch& batch);

  const config::PipelineOptions& pipeline;
  Stream stream;
  std::size_t max_message_bytes;
  FeatureLayout layout;
  std::unordered_map<std::string, Slot, StringHash, std::equal_to<>> slots;
  simdjson::dom::parser parser;
  // Scratch for one record's features, committed to the batch only if the record is valid.
  std::vector<double> numeric;
  std::vector<std::string_view> categorical;
  std::vector<std::uint8_t> seen;
};

std::optional<Rejection> RecordDecoder::Impl::parse(std::string_view payload, element& doc) {
  if (payload.empty()) return reject(RejectReason::kEmpty, "empty message");
  if (payload.size() > max_message_bytes) {
    return reject(RejectReason::kOversized, fmt::format("message of {} bytes exceeds {} bytes",
                                                        payload.size(), max_message_bytes));
  }
  simdjson::error_code error = parser.parse(payload.data(), payload.size(), true).get(doc);
  if (error == simdjson::UTF8_ERROR) {
    return reject(RejectReason::kInvalidUtf8, "message is not valid UTF-8");
  }
  if (error == simdjson::NUMBER_ERROR) {
    return reject(RejectReason::kNonFinite, "a number is out of double range or malformed");
  }
  if (error) return reject(RejectReason::kInvalidJson, simdjson::error_message(error));
  if (doc.type() != element_type::OBJECT) {
    return reject(RejectReason::kNotAnObject,
                  "message is " + type_name(doc.type()) + ", expected a JSON object");
  }
  return std::nullopt;
}

std::optional<Rejection> RecordDecoder::Impl::read_event_time(const object& obj,
                                                              std::int64_t& out) {
  element value;
  if (obj["event_time"].get(value)) {
    return reject(RejectReason::kMissingField, "missing 'event_time'");
  }
  if (value.type() == element_type::INT64 || value.type() == element_type::UINT64) {
    const std::int64_t ms = value.type() == element_type::INT64
                                ? value.get_int64().value_unsafe()
                                : static_cast<std::int64_t>(std::min<std::uint64_t>(
                                      value.get_uint64().value_unsafe(), kMaxEventTimeMs + 1));
    if (ms < 0 || ms > kMaxEventTimeMs) {
      return reject(RejectReason::kInvalidEventTime,
                    fmt::format("event_time {} is outside 1970..9999 in epoch milliseconds", ms));
    }
    out = ms;
    return std::nullopt;
  }
  if (value.type() == element_type::STRING) {
    const std::string_view text = value.get_string().value_unsafe();
    const std::optional<std::int64_t> ms = parse_rfc3339_ms(text);
    if (!ms || *ms < 0 || *ms > kMaxEventTimeMs) {
      return reject(RejectReason::kInvalidEventTime,
                    fmt::format("event_time '{}' is not an RFC 3339 timestamp from 1970 on",
                                quote_input(text)));
    }
    out = *ms;
    return std::nullopt;
  }
  return reject(RejectReason::kInvalidEventTime,
                "event_time is " + type_name(value.type()) +
                    ", expected epoch milliseconds (integer) or an RFC 3339 string");
}

std::optional<Rejection> RecordDecoder::Impl::read_numeric(const Slot& slot, element value) {
  if (!is_number(value.type())) {
    return reject(RejectReason::kWrongType, fmt::format("feature '{}' is {}, expected a number",
                                                        slot.spec->name, type_name(value.type())));
  }
  const double v = value.get_double().value_unsafe();
  if (!std::isfinite(v)) {
    return reject(RejectReason::kNonFinite,
                  fmt::format("feature '{}' is not finite", slot.spec->name));
  }
  if (slot.spec->min && v < *slot.spec->min) {
    return reject(RejectReason::kValueOutOfRange, fmt::format("feature '{}' = {} is below min {}",
                                                              slot.spec->name, v, *slot.spec->min));
  }
  if (slot.spec->max && v > *slot.spec->max) {
    return reject(RejectReason::kValueOutOfRange, fmt::format("feature '{}' = {} is above max {}",
                                                              slot.spec->name, v, *slot.spec->max));
  }
  numeric[slot.index] = v;
  return std::nullopt;
}

std::optional<Rejection> RecordDecoder::Impl::read_categorical(const Slot& slot, element value) {
  if (value.type() != element_type::STRING) {
    return reject(RejectReason::kWrongType, fmt::format("feature '{}' is {}, expected a string",
                                                        slot.spec->name, type_name(value.type())));
  }
  const std::string_view v = value.get_string().value_unsafe();
  if (has_nul(v)) {
    return reject(RejectReason::kInvalidString,
                  fmt::format("feature '{}' contains a NUL character", slot.spec->name));
  }
  const auto& allowed = slot.spec->allowed_values;
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
    return reject(RejectReason::kUnknownCategory,
                  fmt::format("feature '{}' = '{}' is not an allowed value", slot.spec->name,
                              quote_input(v)));
  }
  categorical[slot.index] = v;
  return std::nullopt;
}

std::optional<Rejection> RecordDecoder::Impl::read_features(const object& obj) {
  element features_element;
  if (obj["features"].get(features_element)) {
    return reject(RejectReason::kMissingField, "missing 'features'");
  }
  object features;
  if (features_element.get(features)) {
    return reject(RejectReason::kNotAnObject,
                  "'features' is " + type_name(features_element.type()) + ", expected an object");
  }
  numeric.assign(layout.numeric.size(), kMissing);
  categorical.assign(layout.categorical.size(), std::string_view());
  seen.assign(slots.size(), 0);
  for (auto field : features) {
    auto it = slots.find(field.key);
    if (it == slots.end()) {
      return reject(RejectReason::kUnknownFeature,
                    fmt::format("unknown feature '{}'", quote_input(field.key)));
    }
    const Slot& slot = it->second;
    const bool is_numeric = slot.spec->type == config::FeatureType::kNumeric;
    const std::size_t seen_index = is_numeric ? slot.index : layout.numeric.size() + slot.index;
    if (seen[seen_index]) {
      return reject(RejectReason::kDuplicateFeature,
                    fmt::format("feature '{}' appears twice", slot.spec->name));
    }
    seen[seen_index] = 1;
    if (field.value.type() == element_type::NULL_VALUE) continue;  // absent, checked below
    auto problem =
        is_numeric ? read_numeric(slot, field.value) : read_categorical(slot, field.value);
    if (problem) return problem;
  }
  for (const auto& [name, slot] : slots) {
    if (!slot.spec->required) continue;
    const bool present = slot.spec->type == config::FeatureType::kNumeric
                             ? !std::isnan(numeric[slot.index])
                             : categorical[slot.index].data() != nullptr;
    if (!present) {
      return reject(RejectReason::kMissingFeature,
                    fmt::format("required feature '{}' is missing", name));
    }
  }
  return std::nullopt;
}

std::optional<Rejection> RecordDecoder::Impl::read_label(const object& obj, double& label,
                                                         double& weight) {
  element value;
  if (obj["label"].get(value) || value.type() == element_type::NULL_VALUE) {
    return reject(RejectReason::kMissingField, "missing 'label'");
  }
  if (!is_number(value.type())) {
    return reject(RejectReason::kWrongType,
                  "'label' is " + type_name(value.type()) + ", expected a number");
  }
  label = value.get_double().value_unsafe();
  if (!std::isfinite(label)) return reject(RejectReason::kNonFinite, "'label' is not finite");
  const config::LabelSpec& spec = pipeline.label;
  switch (spec.kind) {
    case config::LabelKind::kBinary:
      if (label != 0.0 && label != 1.0) {
        return reject(RejectReason::kLabelOutOfRange,
                      fmt::format("binary label must be 0 or 1, got {}", label));
      }
      break;
    case config::LabelKind::kMulticlass:
      if (label < 0 || label >= spec.num_classes || label != std::floor(label)) {
        return reject(RejectReason::kLabelOutOfRange,
                      fmt::format("multiclass label must be an integer in [0, {}), got {}",
                                  spec.num_classes, label));
      }
      break;
    case config::LabelKind::kRegression:
      if ((spec.min && label < *spec.min) || (spec.max && label > *spec.max)) {
        return reject(RejectReason::kLabelOutOfRange,
                      fmt::format("label {} is outside its declared bounds", label));
      }
      break;
  }
  weight = 1.0;
  if (!obj["weight"].get(value) && value.type() != element_type::NULL_VALUE) {
    if (!is_number(value.type())) {
      return reject(RejectReason::kInvalidWeight,
                    "'weight' is " + type_name(value.type()) + ", expected a positive number");
    }
    weight = value.get_double().value_unsafe();
    if (!std::isfinite(weight) || weight <= 0) {
      return reject(RejectReason::kInvalidWeight,
                    fmt::format("'weight' must be a positive finite number, got {}", weight));
    }
  }
  return std::nullopt;
}

std::optional<Rejection> RecordDecoder::Impl::read_inference(const object& obj, double& prediction,
                                                             std::int64_t& version) {
  element value;
  prediction = kMissing;
  version = -1;
  if (!obj["prediction"].get(value) && value.type() != element_type::NULL_VALUE) {
    if (!is_number(value.type())) {
      return reject(RejectReason::kWrongType,
                    "'prediction' is " + type_name(value.type()) + ", expected a number");
    }
    prediction = value.get_double().value_unsafe();
    if (!std::isfinite(prediction)) {
      return reject(RejectReason::kNonFinite, "'prediction' is not finite");
    }
  }
  if (!obj["model_version"].get(value) && value.type() != element_type::NULL_VALUE) {
    if (value.type() != element_type::INT64 || value.get_int64().value_unsafe() < 0) {
      return reject(RejectReason::kWrongType, "'model_version' must be a non-negative integer");
    }
    version = value.get_int64().value_unsafe();
  }
  return std::nullopt;
}

std::optional<Rejection> RecordDecoder::Impl::decode_featured(const object& obj, RecordKey key,
                                                              DecodedBatch& batch) {
  std::int64_t event_time = 0;
  double label = 0, weight = 1, prediction = kMissing;
  std::int64_t version = -1;
  std::string_view id;
  element value;
  if (!obj["id"].get(value) && value.type() != element_type::NULL_VALUE) {
    if (value.type() != element_type::STRING) {
      return reject(RejectReason::kWrongType,
                    "'id' is " + type_name(value.type()) + ", expected a string");
    }
    id = value.get_string().value_unsafe();
    if (has_nul(id)) return reject(RejectReason::kInvalidString, "'id' contains a NUL character");
  }
  if (auto problem = read_event_time(obj, event_time)) return problem;
  if (stream == Stream::kLabels) {
    if (auto problem = read_label(obj, label, weight)) return problem;
  } else if (auto problem = read_inference(obj, prediction, version)) {
    return problem;
  }
  if (auto problem = read_features(obj)) return problem;

  batch.keys.push_back(key);
  batch.event_time_ms.push_back(event_time);
  batch.ids.emplace_back(id);
  batch.numeric.insert(batch.numeric.end(), numeric.begin(), numeric.end());
  for (std::string_view v : categorical) {
    batch.categorical.emplace_back(v);
    batch.categorical_set.push_back(v.data() != nullptr);
  }
  if (stream == Stream::kLabels) {
    batch.labels.push_back(label);
    batch.weights.push_back(weight);
  } else {
    batch.predictions.push_back(prediction);
    batch.model_versions.push_back(version);
  }
  return std::nullopt;
}

std::optional<Rejection> RecordDecoder::Impl::decode_metric(const object& obj, RecordKey key,
                                                            DecodedBatch& batch) {
  element value;
  std::string_view model, metric;
  for (auto [field, out] : {std::pair{"model", &model}, std::pair{"metric", &metric}}) {
    if (obj[field].get(value)) {
      return reject(RejectReason::kMissingField, fmt::format("missing '{}'", field));
    }
    if (value.type() != element_type::STRING) {
      return reject(RejectReason::kWrongType,
                    fmt::format("'{}' is {}, expected a string", field, type_name(value.type())));
    }
    *out = value.get_string().value_unsafe();
    if (has_nul(*out)) {
      return reject(RejectReason::kInvalidString, fmt::format("'{}' contains NUL", field));
    }
  }
  if (obj["version"].get(value)) return reject(RejectReason::kMissingField, "missing 'version'");
  if (value.type() != element_type::INT64 || value.get_int64().value_unsafe() < 0) {
    return reject(RejectReason::kWrongType, "'version' must be a non-negative integer");
  }
  const std::int64_t version = value.get_int64().value_unsafe();
  if (obj["value"].get(value)) return reject(RejectReason::kMissingField, "missing 'value'");
  if (!is_number(value.type())) {
    return reject(RejectReason::kWrongType,
                  "'value' is " + type_name(value.type()) + ", expected a number");
  }
  const double metric_value = value.get_double().value_unsafe();
  if (!std::isfinite(metric_value)) return reject(RejectReason::kNonFinite, "'value' not finite");
  std::int64_t count = -1;
  if (!obj["count"].get(value) && value.type() != element_type::NULL_VALUE) {
    if (value.type() != element_type::INT64 || value.get_int64().value_unsafe() < 0) {
      return reject(RejectReason::kWrongType, "'count' must be a non-negative integer");
    }
    count = value.get_int64().value_unsafe();
  }
  std::int64_t event_time = 0;
  if (auto problem = read_event_time(obj, event_time)) return problem;

  batch.keys.push_back(key);
  batch.event_time_ms.push_back(event_time);
  batch.metric_models.emplace_back(model);
  batch.metric_versions.push_back(version);
  batch.metric_names.emplace_back(metric);
  batch.metric_values.push_back(metric_value);
  batch.metric_counts.push_back(count);
  return std::nullopt;
}

RecordDecoder::RecordDecoder(const config::PipelineOptions& pipeline, Stream stream,
                             std::size_t max_message_bytes)
    : impl_(std::make_unique<Impl>(pipeline, stream, max_message_bytes)) {}

RecordDecoder::~RecordDecoder() = default;

const FeatureLayout& RecordDecoder::layout() const { return impl_->layout; }

void RecordDecoder::prepare(DecodedBatch& batch) const {
  batch.stream = impl_->stream;
  const bool featured = impl_->stream != Stream::kMetrics;
  batch.numeric_width = featured ? impl_->layout.numeric.size() : 0;
  batch.categorical_width = featured ? impl_->layout.categorical.size() : 0;
}

std::optional<Rejection> RecordDecoder::decode(std::string_view payload, RecordKey key,
                                               DecodedBatch& batch) {
  element doc;
  if (auto problem = impl_->parse(payload, doc)) return problem;
  const object obj = doc.get_object().value_unsafe();
  return impl_->stream == Stream::kMetrics ? impl_->decode_metric(obj, key, batch)
                                           : impl_->decode_featured(obj, key, batch);
}

}  // namespace ctd::ingest
