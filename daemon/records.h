// Decoded records of one pipeline stream, stored column by column so that a batch of 10k
// records reuses a few vectors instead of allocating per record.
//
// A DecodedBatch is filled by RecordDecoder (record_decoder.h), written by the IngestStore
// (ingest_store.h) and then handed read-only to subscribers. Not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace ctd::ingest {

enum class Stream { kLabels, kInferences, kMetrics };
std::string_view stream_name(Stream stream);  // "labels", "inferences", "metrics"

// Where a record came from.
struct RecordKey {
  std::int32_t partition = 0;
  std::int64_t offset = 0;
};

// Why a record was quarantined. Stable codes: they appear in the database and in metrics.
enum class RejectReason {
  kEmpty,      // zero-length message
  kOversized,  // larger than ingest.max_message_bytes
  kInvalidUtf8,
  kInvalidJson,
  kNotAnObject,       // the document, or "features", is not a JSON object
  kMissingField,      // a required top-level field is absent ("label", "event_time", ...)
  kWrongType,         // a field or feature has the wrong JSON type
  kNonFinite,         // NaN or infinity (e.g. 1e999)
  kLabelOutOfRange,   // not 0/1 (binary), not an integer class in range, outside bounds
  kUnknownFeature,    // a feature that the schema does not declare
  kMissingFeature,    // a required feature is absent
  kDuplicateFeature,  // the same feature twice in one record
  kValueOutOfRange,   // numeric feature outside its declared min/max
  kUnknownCategory,   // categorical value not among allowed_values
  kInvalidEventTime,  // not epoch milliseconds nor an RFC 3339 timestamp, or out of range
  kInvalidWeight,     // not a positive finite number
  kInvalidString,     // a string with a NUL character (PostgreSQL text cannot hold it)
};
inline constexpr int kRejectReasonCount = static_cast<int>(RejectReason::kInvalidString) + 1;
std::string_view reason_code(RejectReason reason);  // e.g. "invalid_json"

inline constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

struct DecodedBatch {
  Stream stream = Stream::kLabels;
  std::size_t numeric_width = 0;      // numeric features per record
  std::size_t categorical_width = 0;  // categorical features per record

  // Every stream.
  std::vector<RecordKey> keys;
  std::vector<std::int64_t> event_time_ms;  // Unix epoch milliseconds
  // Labels and inferences.
  std::vector<std::string> ids;  // "" when the message had no "id"
  std::vector<double> numeric;   // size() * numeric_width; kMissing (NaN) for an absent value
  std::vector<std::string> categorical;       // size() * categorical_width
  std::vector<std::uint8_t> categorical_set;  // 1 where categorical[i] is present
  // Labels.
  std::vector<double> labels;
  std::vector<double> weights;
  // Inferences: kMissing / -1 when absent.
  std::vector<double> predictions;
  std::vector<std::int64_t> model_versions;
  // Metrics.
  std::vector<std::string> metric_models;
  std::vector<std::int64_t> metric_versions;
  std::vector<std::string> metric_names;
  std::vector<double> metric_values;
  std::vector<std::int64_t> metric_counts;  // -1 when absent

  std::size_t size() const { return keys.size(); }
  void clear();  // keeps capacity
};

// A record that failed validation, kept for the quarantine table.
struct QuarantinedRecord {
  RecordKey key;
  RejectReason reason = RejectReason::kInvalidJson;
  std::string detail;
  std::string raw;  // the message bytes, truncated to ingest.quarantine_raw_max_bytes
  std::size_t raw_size = 0;
};

}  // namespace ctd::ingest
