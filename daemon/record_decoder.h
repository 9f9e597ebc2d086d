// Validates and decodes one Kafka message of a pipeline stream (labels, inferences or metrics;
// formats in README.md) against the pipeline's schema, appending it to a DecodedBatch or
// returning why it must be quarantined. Pure: no I/O, no logging.
//
// Thread-safety: a decoder holds a reusable JSON parser; use one per thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/options.h"
#include "daemon/records.h"

namespace ctd::ingest {

struct Rejection {
  RejectReason reason;
  std::string detail;  // for people, e.g. "feature 'x1' = 7.5 is above max 5"
};

// Where each feature of a pipeline lives in DecodedBatch::numeric / ::categorical.
struct FeatureLayout {
  explicit FeatureLayout(const config::PipelineOptions& pipeline);
  std::vector<const config::FeatureSpec*> numeric;      // in storage order
  std::vector<const config::FeatureSpec*> categorical;  // in storage order
};

class RecordDecoder {
 public:
  RecordDecoder(const config::PipelineOptions& pipeline, Stream stream,
                std::size_t max_message_bytes);
  ~RecordDecoder();
  RecordDecoder(const RecordDecoder&) = delete;
  RecordDecoder& operator=(const RecordDecoder&) = delete;

  // On success appends the record to `batch` (whose stream and widths must match this
  // decoder's; see prepare()) and returns nullopt. On failure leaves `batch` unchanged.
  std::optional<Rejection> decode(std::string_view payload, RecordKey key, DecodedBatch& batch);

  // Sets the batch's stream and feature widths for this decoder.
  void prepare(DecodedBatch& batch) const;

  const FeatureLayout& layout() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses an RFC 3339 timestamp ("2026-11-22T10:15:30.25+01:00", 'T'/'t'/' ' separator, 'Z'/'z'
// or a numeric offset) into Unix epoch milliseconds; nullopt if malformed.
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text);

}  // namespace ctd::ingest
