#include "daemon/record_decoder.h"

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace ctd::ingest {
namespace {

using config::FeatureSpec;
using config::FeatureType;
using config::LabelKind;
using config::LabelSpec;
using config::PipelineOptions;

constexpr std::size_t kLargeLimit = 1 << 20;

FeatureSpec numeric_feature(std::string name, bool required, std::optional<double> min,
                            std::optional<double> max) {
  FeatureSpec spec;
  spec.name = std::move(name);
  spec.type = FeatureType::kNumeric;
  spec.required = required;
  spec.min = min;
  spec.max = max;
  return spec;
}

FeatureSpec categorical_feature(std::string name, bool required,
                                std::vector<std::string> allowed_values) {
  FeatureSpec spec;
  spec.name = std::move(name);
  spec.type = FeatureType::kCategorical;
  spec.required = required;
  spec.allowed_values = std::move(allowed_values);
  return spec;
}

// Declaration order interleaves the kinds, so storage order is
// numeric = [age, score], categorical = [country, device].
PipelineOptions make_pipeline(LabelSpec label = {}) {
  PipelineOptions pipeline;
  pipeline.name = "churn";
  pipeline.topics.labels = "churn-labels";
  pipeline.features = {
      numeric_feature("age", /*required=*/true, 0.0, 150.0),
      categorical_feature("country", /*required=*/true, {"de", "fr", "us"}),
      numeric_feature("score", /*required=*/false, std::nullopt, std::nullopt),
      categorical_feature("device", /*required=*/false, {}),
  };
  pipeline.label = label;
  return pipeline;
}

LabelSpec multiclass_label(int num_classes) {
  LabelSpec label;
  label.kind = LabelKind::kMulticlass;
  label.num_classes = num_classes;
  return label;
}

LabelSpec regression_label(double min, double max) {
  LabelSpec label;
  label.kind = LabelKind::kRegression;
  label.min = min;
  label.max = max;
  return label;
}

// A labels record: `features` and `extra` are JSON object members without braces.
std::string labels_record(std::string_view features = R"("age":30,"country":"de")",
                          std::string_view extra = R"("event_time":1700000000000,"label":1)") {
  return fmt::format(R"({{{},"features":{{{}}}}})", extra, features);
}

testing::AssertionResult accepted(const std::optional<Rejection>& rejection) {
  if (!rejection) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << "rejected as " << reason_code(rejection->reason) << ": " << rejection->detail;
}

// Every column's length, to show that a rejected record left the batch untouched.
std::vector<std::size_t> column_sizes(const DecodedBatch& batch) {
  return {batch.keys.size(),           batch.event_time_ms.size(), batch.ids.size(),
          batch.numeric.size(),        batch.categorical.size(),   batch.categorical_set.size(),
          batch.labels.size(),         batch.weights.size(),       batch.predictions.size(),
          batch.model_versions.size(), batch.metric_models.size(), batch.metric_versions.size(),
          batch.metric_names.size(),   batch.metric_values.size(), batch.metric_counts.size()};
}

// Decodes into a batch that already holds one valid record, so that "unchanged" is checked
// against a non-empty batch.
class DecoderHarness {
 public:
  DecoderHarness(const PipelineOptions& pipeline, Stream stream,
                 std::size_t max_message_bytes = kLargeLimit)
      : pipeline_(pipeline), decoder_(pipeline_, stream, max_message_bytes) {
    decoder_.prepare(batch_);
  }

  std::optional<Rejection> decode(std::string_view payload) {
    return decoder_.decode(payload, RecordKey{0, next_offset_++}, batch_);
  }

  void expect_rejected(std::string_view payload, RejectReason reason, std::string_view detail) {
    SCOPED_TRACE(testing::Message() << "payload: " << payload);
    const std::vector<std::size_t> before = column_sizes(batch_);
    const std::optional<Rejection> rejection = decode(payload);
    ASSERT_TRUE(rejection.has_value());
    EXPECT_EQ(reason_code(rejection->reason), reason_code(reason));
    EXPECT_EQ(rejection->detail, detail);
    EXPECT_EQ(column_sizes(batch_), before);
  }

  DecodedBatch& batch() { return batch_; }
  RecordDecoder& decoder() { return decoder_; }

 private:
  PipelineOptions pipeline_;
  RecordDecoder decoder_;
  DecodedBatch batch_;
  std::int64_t next_offset_ = 0;
};

class LabelsDecoderTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(accepted(harness_.decode(labels_record())));
    ASSERT_EQ(harness_.batch().size(), 1u);
  }

  void expect_rejected(std::string_view payload, RejectReason reason, std::string_view detail) {
    harness_.expect_rejected(payload, reason, detail);
  }

  DecoderHarness harness_{make_pipeline(), Stream::kLabels};
};

TEST(RecordDecoderTest, LayoutKeepsDeclarationOrderWithinEachKind) {
  const PipelineOptions pipeline = make_pipeline();
  RecordDecoder decoder(pipeline, Stream::kLabels, kLargeLimit);

  const FeatureLayout& layout = decoder.layout();
  ASSERT_EQ(layout.numeric.size(), 2u);
  ASSERT_EQ(layout.categorical.size(), 2u);
  EXPECT_EQ(layout.numeric[0]->name, "age");
  EXPECT_EQ(layout.numeric[1]->name, "score");
  EXPECT_EQ(layout.categorical[0]->name, "country");
  EXPECT_EQ(layout.categorical[1]->name, "device");
}

TEST(RecordDecoderTest, PrepareSetsStreamAndWidths) {
  const PipelineOptions pipeline = make_pipeline();
  DecodedBatch batch;

  RecordDecoder(pipeline, Stream::kInferences, kLargeLimit).prepare(batch);
  EXPECT_EQ(batch.stream, Stream::kInferences);
  EXPECT_EQ(batch.numeric_width, 2u);
  EXPECT_EQ(batch.categorical_width, 2u);

  RecordDecoder(pipeline, Stream::kMetrics, kLargeLimit).prepare(batch);
  EXPECT_EQ(batch.stream, Stream::kMetrics);
  EXPECT_EQ(batch.numeric_width, 0u);
  EXPECT_EQ(batch.categorical_width, 0u);
}

TEST(RecordDecoderTest, ValidLabelsRecordsFillEveryLabelsColumn) {
  const PipelineOptions pipeline = make_pipeline();
  RecordDecoder decoder(pipeline, Stream::kLabels, kLargeLimit);
  DecodedBatch batch;
  decoder.prepare(batch);

  ASSERT_TRUE(accepted(decoder.decode(R"({"id":"r1","event_time":1700000000123,
                              "features":{"age":42.5,"country":"fr","score":-3,"device":"ios"},
                              "label":1,"weight":2.5})",
                                      RecordKey{3, 77}, batch)));
  // No id, optional features absent or null, no weight.
  ASSERT_TRUE(accepted(decoder.decode(R"({"event_time":1700000000124,"label":0,
                              "features":{"country":"de","age":0,"device":null}})",
                                      RecordKey{4, 9}, batch)));
  // Explicit null weight and id count as absent; an empty device string is present.
  ASSERT_TRUE(accepted(decoder.decode(R"({"id":null,"event_time":0,"label":1,"weight":null,
                              "features":{"score":null,"age":150,"country":"us","device":""}})",
                                      RecordKey{4, 10}, batch)));

  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch.keys[0].partition, 3);
  EXPECT_EQ(batch.keys[0].offset, 77);
  EXPECT_EQ(batch.keys[1].partition, 4);
  EXPECT_EQ(batch.keys[1].offset, 9);
  EXPECT_EQ(batch.keys[2].offset, 10);
  EXPECT_EQ(batch.event_time_ms, (std::vector<std::int64_t>{1700000000123, 1700000000124, 0}));
  EXPECT_EQ(batch.ids, (std::vector<std::string>{"r1", "", ""}));

  ASSERT_EQ(batch.numeric.size(), 6u);
  EXPECT_EQ(batch.numeric[0], 42.5);  // age
  EXPECT_EQ(batch.numeric[1], -3.0);  // score
  EXPECT_EQ(batch.numeric[2], 0.0);
  EXPECT_TRUE(std::isnan(batch.numeric[3]));
  EXPECT_EQ(batch.numeric[4], 150.0);
  EXPECT_TRUE(std::isnan(batch.numeric[5]));

  EXPECT_EQ(batch.categorical, (std::vector<std::string>{"fr", "ios", "de", "", "us", ""}));
  EXPECT_EQ(batch.categorical_set, (std::vector<std::uint8_t>{1, 1, 1, 0, 1, 1}));
  EXPECT_EQ(batch.labels, (std::vector<double>{1, 0, 1}));
  EXPECT_EQ(batch.weights, (std::vector<double>{2.5, 1, 1}));

  EXPECT_TRUE(batch.predictions.empty());
  EXPECT_TRUE(batch.model_versions.empty());
  EXPECT_TRUE(batch.metric_models.empty());
  EXPECT_TRUE(batch.metric_versions.empty());
  EXPECT_TRUE(batch.metric_names.empty());
  EXPECT_TRUE(batch.metric_values.empty());
  EXPECT_TRUE(batch.metric_counts.empty());
}

TEST(RecordDecoderTest, RfcEventTimesDecodeToEpochMilliseconds) {
  // Expected values from `date -u -d TEXT +%s%3N`.
  const std::vector<std::pair<std::string, std::int64_t>> cases = {
      {"1970-01-01T00:00:00Z", 0},
      {"2000-01-01T00:00:00Z", 946684800000},
      {"2024-02-29T12:34:56Z", 1709210096000},
      {"2024-02-29t12:34:56z", 1709210096000},
      {"2024-02-29 12:34:56Z", 1709210096000},
      {"2026-11-22T10:15:30.25+01:00", 1795338930250},
      {"2026-11-22T10:15:30.123456-05:30", 1795362330123},  // digits past ms are dropped
      {"2021-06-01T00:00:00.5+14:00", 1622455200500},
      {"1970-01-01T00:59:59-01:00", 7199000},
      {"9999-12-31T23:59:59.999Z", 253402300799999},
  };
  DecoderHarness harness(make_pipeline(), Stream::kLabels);
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    const std::string payload = labels_record(R"("age":1,"country":"de")",
                                              fmt::format(R"("event_time":"{}","label":0)", text));
    ASSERT_TRUE(accepted(harness.decode(payload)));
    EXPECT_EQ(harness.batch().event_time_ms.back(), expected);
  }
  EXPECT_EQ(harness.batch().size(), cases.size());
}

TEST(RecordDecoderTest, EpochMillisecondBoundsAreInclusive) {
  DecoderHarness harness(make_pipeline(), Stream::kLabels);
  ASSERT_TRUE(accepted(
      harness.decode(labels_record(R"("age":1,"country":"de")", R"("event_time":0,"label":0)"))));
  ASSERT_TRUE(accepted(harness.decode(
      labels_record(R"("age":1,"country":"de")", R"("event_time":253402300799999,"label":0)"))));
  EXPECT_EQ(harness.batch().event_time_ms, (std::vector<std::int64_t>{0, 253402300799999}));
}

TEST_F(LabelsDecoderTest, EmptyMessage) {
  expect_rejected("", RejectReason::kEmpty, "empty message");
}

TEST(RecordDecoderTest, OversizedMessageIsRejectedBeforeParsing) {
  const std::string fits = labels_record();
  DecoderHarness harness(make_pipeline(), Stream::kLabels, fits.size());
  EXPECT_TRUE(accepted(harness.decode(fits)));
  // One byte more, even though it is only whitespace, and even if it is not JSON.
  harness.expect_rejected(
      fits + " ", RejectReason::kOversized,
      fmt::format("message of {} bytes exceeds {} bytes", fits.size() + 1, fits.size()));
  harness.expect_rejected(
      std::string(fits.size() + 5, 'x'), RejectReason::kOversized,
      fmt::format("message of {} bytes exceeds {} bytes", fits.size() + 5, fits.size()));
  EXPECT_EQ(harness.batch().size(), 1u);
}

TEST_F(LabelsDecoderTest, InvalidUtf8) {
  expect_rejected(labels_record("\"age\":1,\"country\":\"d\xff\""), RejectReason::kInvalidUtf8,
                  "message is not valid UTF-8");
  expect_rejected(
      labels_record("\"age\":1,\"country\":\"de\"", "\"id\":\"\xc3\",\"event_time\":1,\"label\":1"),
      RejectReason::kInvalidUtf8, "message is not valid UTF-8");
}

TEST_F(LabelsDecoderTest, InvalidJson) {
  for (const std::string_view payload :
       {std::string_view(R"({"event_time":1,"label":1)"),
        std::string_view(R"({"event_time":1,"label":1,"features":{"age":NaN,"country":"de"}})"),
        std::string_view(R"({"event_time":1} trailing)"),
        std::string_view(R"({"event_time":1,"id":"\ud800","label":1})"),  // lone surrogate
        std::string_view("   ")}) {
    SCOPED_TRACE(payload);
    const std::vector<std::size_t> before = column_sizes(harness_.batch());
    const std::optional<Rejection> rejection = harness_.decode(payload);
    ASSERT_TRUE(rejection.has_value());
    EXPECT_EQ(reason_code(rejection->reason), "invalid_json");
    EXPECT_FALSE(rejection->detail.empty());  // simdjson's message
    EXPECT_EQ(column_sizes(harness_.batch()), before);
  }
}

TEST_F(LabelsDecoderTest, NotAnObject) {
  expect_rejected(R"([{"event_time":1,"label":1,"features":{}}])", RejectReason::kNotAnObject,
                  "message is an array, expected a JSON object");
  expect_rejected(R"("hello")", RejectReason::kNotAnObject,
                  "message is a string, expected a JSON object");
  expect_rejected("42", RejectReason::kNotAnObject, "message is a number, expected a JSON object");
  expect_rejected("null", RejectReason::kNotAnObject, "message is null, expected a JSON object");
  expect_rejected(R"({"event_time":1,"label":1,"features":[{"age":1}]})",
                  RejectReason::kNotAnObject, "'features' is an array, expected an object");
  expect_rejected(R"({"event_time":1,"label":1,"features":null})", RejectReason::kNotAnObject,
                  "'features' is null, expected an object");
}

TEST_F(LabelsDecoderTest, MissingField) {
  expect_rejected(labels_record(R"("age":1,"country":"de")", R"("event_time":1)"),
                  RejectReason::kMissingField, "missing 'label'");
  expect_rejected(labels_record(R"("age":1,"country":"de")", R"("event_time":1,"label":null)"),
                  RejectReason::kMissingField, "missing 'label'");
  expect_rejected(labels_record(R"("age":1,"country":"de")", R"("label":1)"),
                  RejectReason::kMissingField, "missing 'event_time'");
  expect_rejected(R"({"event_time":1,"label":1})", RejectReason::kMissingField,
                  "missing 'features'");
}

TEST_F(LabelsDecoderTest, WrongType) {
  expect_rejected(labels_record(R"("age":"42","country":"de")"), RejectReason::kWrongType,
                  "feature 'age' is a string, expected a number");
  expect_rejected(labels_record(R"("age":true,"country":"de")"), RejectReason::kWrongType,
                  "feature 'age' is a boolean, expected a number");
  expect_rejected(labels_record(R"("age":1,"country":7)"), RejectReason::kWrongType,
                  "feature 'country' is a number, expected a string");
  expect_rejected(labels_record(R"("age":1,"country":["de"])"), RejectReason::kWrongType,
                  "feature 'country' is an array, expected a string");
  expect_rejected(labels_record(R"("age":1,"country":"de")", R"("id":5,"event_time":1,"label":1)"),
                  RejectReason::kWrongType, "'id' is a number, expected a string");
  expect_rejected(labels_record(R"("age":1,"country":"de")", R"("event_time":1,"label":"1")"),
                  RejectReason::kWrongType, "'label' is a string, expected a number");
}

TEST_F(LabelsDecoderTest, NonFinite) {
  expect_rejected(labels_record(R"("age":1e999,"country":"de")"), RejectReason::kNonFinite,
                  "a number is out of double range or malformed");
  expect_rejected(labels_record(R"("age":1,"country":"de")", R"("event_time":1,"label":-1e999)"),
                  RejectReason::kNonFinite, "a number is out of double range or malformed");
}

TEST(RecordDecoderTest, BinaryLabelMustBeZeroOrOne) {
  DecoderHarness harness(make_pipeline(), Stream::kLabels);
  for (const char* label : {"0", "1", "1.0", "0e3"}) {
    SCOPED_TRACE(label);
    EXPECT_TRUE(accepted(harness.decode(labels_record(
        R"("age":1,"country":"de")", fmt::format(R"("event_time":1,"label":{})", label)))));
  }
  EXPECT_EQ(harness.batch().labels, (std::vector<double>{0, 1, 1, 0}));
  harness.expect_rejected(labels_record(R"("age":1,"country":"de")", R"("event_time":1,"label":2)"),
                          RejectReason::kLabelOutOfRange, "binary label must be 0 or 1, got 2");
  harness.expect_rejected(
      labels_record(R"("age":1,"country":"de")", R"("event_time":1,"label":0.5)"),
      RejectReason::kLabelOutOfRange, "binary label must be 0 or 1, got 0.5");
  harness.expect_rejected(
      labels_record(R"("age":1,"country":"de")", R"("event_time":1,"label":-1)"),
      RejectReason::kLabelOutOfRange, "binary label must be 0 or 1, got -1");
}

TEST(RecordDecoderTest, MulticlassLabelMustBeAnIntegerClass) {
  DecoderHarness harness(make_pipeline(multiclass_label(3)), Stream::kLabels);
  for (const char* label : {"0", "1", "2", "2.0"}) {
    SCOPED_TRACE(label);
    EXPECT_TRUE(accepted(harness.decode(labels_record(
        R"("age":1,"country":"de")", fmt::format(R"("event_time":1,"label":{})", label)))));
  }
  EXPECT_EQ(harness.batch().labels, (std::vector<double>{0, 1, 2, 2}));
  harness.expect_rejected(labels_record(R"("age":1,"country":"de")", R"("event_time":1,"label":3)"),
                          RejectReason::kLabelOutOfRange,
                          "multiclass label must be an integer in [0, 3), got 3");
  harness.expect_rejected(
      labels_record(R"("age":1,"country":"de")", R"("event_time":1,"label":1.5)"),
      RejectReason::kLabelOutOfRange, "multiclass label must be an integer in [0, 3), got 1.5");
  harness.expect_rejected(
      labels_record(R"("age":1,"country":"de")", R"("event_time":1,"label":-1)"),
      RejectReason::kLabelOutOfRange, "multiclass label must be an integer in [0, 3), got -1");
}

TEST(RecordDecoderTest, RegressionLabelMustBeWithinInclusiveBounds) {
  DecoderHarness harness(make_pipeline(regression_label(-10, 10)), Stream::kLabels);
  for (const char* label : {"-10", "0.125", "10"}) {
    SCOPED_TRACE(label);
    EXPECT_TRUE(accepted(harness.decode(labels_record(
        R"("age":1,"country":"de")", fmt::format(R"("event_time":1,"label":{})", label)))));
  }
  EXPECT_EQ(harness.batch().labels, (std::vector<double>{-10, 0.125, 10}));
  harness.expect_rejected(
      labels_record(R"("age":1,"country":"de")", R"("event_time":1,"label":10.5)"),
      RejectReason::kLabelOutOfRange, "label 10.5 is outside its declared bounds");
  harness.expect_rejected(
      labels_record(R"("age":1,"country":"de")", R"("event_time":1,"label":-11)"),
      RejectReason::kLabelOutOfRange, "label -11 is outside its declared bounds");
}

TEST(RecordDecoderTest, UnboundedRegressionLabelAcceptsAnyFiniteNumber) {
  LabelSpec label;
  label.kind = LabelKind::kRegression;
  DecoderHarness harness(make_pipeline(label), Stream::kLabels);
  EXPECT_TRUE(accepted(harness.decode(
      labels_record(R"("age":1,"country":"de")", R"("event_time":1,"label":-1e300)"))));
  EXPECT_EQ(harness.batch().labels, (std::vector<double>{-1e300}));
}

TEST_F(LabelsDecoderTest, UnknownFeature) {
  expect_rejected(labels_record(R"("age":1,"country":"de","height":180)"),
                  RejectReason::kUnknownFeature, "unknown feature 'height'");
  // Names are case-sensitive.
  expect_rejected(labels_record(R"("Age":1,"age":1,"country":"de")"), RejectReason::kUnknownFeature,
                  "unknown feature 'Age'");
}

TEST_F(LabelsDecoderTest, MissingFeature) {
  expect_rejected(labels_record(R"("country":"de")"), RejectReason::kMissingFeature,
                  "required feature 'age' is missing");
  expect_rejected(labels_record(R"("age":null,"country":"de")"), RejectReason::kMissingFeature,
                  "required feature 'age' is missing");
  expect_rejected(labels_record(R"("age":1)"), RejectReason::kMissingFeature,
                  "required feature 'country' is missing");
  expect_rejected(labels_record(R"("age":1,"country":null)"), RejectReason::kMissingFeature,
                  "required feature 'country' is missing");
}

TEST_F(LabelsDecoderTest, DuplicateFeature) {
  expect_rejected(labels_record(R"("age":1,"country":"de","age":2)"),
                  RejectReason::kDuplicateFeature, "feature 'age' appears twice");
  expect_rejected(labels_record(R"("age":1,"device":null,"country":"de","device":"ios")"),
                  RejectReason::kDuplicateFeature, "feature 'device' appears twice");
}

TEST_F(LabelsDecoderTest, ValueOutOfRange) {
  expect_rejected(labels_record(R"("age":-0.5,"country":"de")"), RejectReason::kValueOutOfRange,
                  "feature 'age' = -0.5 is below min 0");
  expect_rejected(labels_record(R"("age":150.5,"country":"de")"), RejectReason::kValueOutOfRange,
                  "feature 'age' = 150.5 is above max 150");
}

TEST_F(LabelsDecoderTest, UnknownCategory) {
  expect_rejected(labels_record(R"("age":1,"country":"es")"), RejectReason::kUnknownCategory,
                  "feature 'country' = 'es' is not an allowed value");
  // Values are compared exactly.
  expect_rejected(labels_record(R"("age":1,"country":"DE")"), RejectReason::kUnknownCategory,
                  "feature 'country' = 'DE' is not an allowed value");
  expect_rejected(labels_record(R"("age":1,"country":"")"), RejectReason::kUnknownCategory,
                  "feature 'country' = '' is not an allowed value");
}

TEST_F(LabelsDecoderTest, InvalidEventTime) {
  const auto record = [](std::string_view event_time) {
    return labels_record(R"("age":1,"country":"de")",
                         fmt::format(R"("event_time":{},"label":1)", event_time));
  };
  expect_rejected(record("-1"), RejectReason::kInvalidEventTime,
                  "event_time -1 is outside 1970..9999 in epoch milliseconds");
  expect_rejected(record("253402300800000"), RejectReason::kInvalidEventTime,
                  "event_time 253402300800000 is outside 1970..9999 in epoch milliseconds");
  // Microseconds: above int64, parsed as uint64 and reported at the clamp.
  expect_rejected(record("18446744073709551615"), RejectReason::kInvalidEventTime,
                  "event_time 253402300800000 is outside 1970..9999 in epoch milliseconds");
  // 1e15 and 1700000000000.0 are JSON doubles, never epoch milliseconds, whatever their value.
  expect_rejected(record("1e15"), RejectReason::kInvalidEventTime,
                  "event_time is a number, expected epoch milliseconds (integer) or an RFC 3339 "
                  "string");
  expect_rejected(record("1700000000000.0"), RejectReason::kInvalidEventTime,
                  "event_time is a number, expected epoch milliseconds (integer) or an RFC 3339 "
                  "string");
  expect_rejected(record("true"), RejectReason::kInvalidEventTime,
                  "event_time is a boolean, expected epoch milliseconds (integer) or an RFC 3339 "
                  "string");
  expect_rejected(record("null"), RejectReason::kInvalidEventTime,
                  "event_time is null, expected epoch milliseconds (integer) or an RFC 3339 "
                  "string");
  expect_rejected(record(R"("yesterday")"), RejectReason::kInvalidEventTime,
                  "event_time 'yesterday' is not an RFC 3339 timestamp from 1970 on");
  expect_rejected(record(R"("1700000000000")"), RejectReason::kInvalidEventTime,
                  "event_time '1700000000000' is not an RFC 3339 timestamp from 1970 on");
  expect_rejected(record(R"("1969-12-31T23:59:59.999Z")"), RejectReason::kInvalidEventTime,
                  "event_time '1969-12-31T23:59:59.999Z' is not an RFC 3339 timestamp from 1970 "
                  "on");
  expect_rejected(record(R"("2023-02-29T00:00:00Z")"), RejectReason::kInvalidEventTime,
                  "event_time '2023-02-29T00:00:00Z' is not an RFC 3339 timestamp from 1970 on");
}

TEST_F(LabelsDecoderTest, InvalidWeight) {
  const auto record = [](std::string_view weight) {
    return labels_record(R"("age":1,"country":"de")",
                         fmt::format(R"("event_time":1,"label":1,"weight":{})", weight));
  };
  expect_rejected(record("0"), RejectReason::kInvalidWeight,
                  "'weight' must be a positive finite number, got 0");
  expect_rejected(record("-1.5"), RejectReason::kInvalidWeight,
                  "'weight' must be a positive finite number, got -1.5");
  expect_rejected(record(R"("2")"), RejectReason::kInvalidWeight,
                  "'weight' is a string, expected a positive number");
  expect_rejected(record("false"), RejectReason::kInvalidWeight,
                  "'weight' is a boolean, expected a positive number");
}

TEST_F(LabelsDecoderTest, InvalidString) {
  expect_rejected(labels_record(R"("age":1,"country":"de","device":"io\u0000s")"),
                  RejectReason::kInvalidString, "feature 'device' contains a NUL character");
  expect_rejected(labels_record(R"("age":1,"country":"\u0000")"), RejectReason::kInvalidString,
                  "feature 'country' contains a NUL character");
  expect_rejected(
      labels_record(R"("age":1,"country":"de")", R"("id":"a\u0000","event_time":1,"label":1)"),
      RejectReason::kInvalidString, "'id' contains a NUL character");
}

// Details are stored as PostgreSQL text, which holds neither NUL nor invalid UTF-8; message text
// echoed in them must be made safe.
TEST_F(LabelsDecoderTest, DetailsEscapeNulAndCutOnCharacterBoundaries) {
  expect_rejected(labels_record(R"("age":1,"country":"de","a\u0000b":1)"),
                  RejectReason::kUnknownFeature, "unknown feature 'a\\0b'");
  expect_rejected(
      labels_record(R"("age":1,"country":"de")", R"("event_time":"\u00002024","label":1)"),
      RejectReason::kInvalidEventTime,
      "event_time '\\02024' is not an RFC 3339 timestamp from 1970 on");

  // 63 ASCII bytes then a two-byte "é": a 64-byte cut would split the character.
  const std::string long_value = std::string(63, 'x') + "\xc3\xa9";
  expect_rejected(
      labels_record(fmt::format(R"("age":1,"country":"{}")", long_value)),
      RejectReason::kUnknownCategory,
      fmt::format("feature 'country' = '{}' is not an allowed value", std::string(63, 'x')));
  const std::string long_name = std::string(62, 'y') + "\xc3\xa9z";
  expect_rejected(labels_record(fmt::format(R"("age":1,"country":"de","{}":1)", long_name)),
                  RejectReason::kUnknownFeature,
                  fmt::format("unknown feature '{}\xc3\xa9'", std::string(62, 'y')));
}

TEST(RecordDecoderTest, InferencesCarryPredictionAndModelVersion) {
  const PipelineOptions pipeline = make_pipeline();
  RecordDecoder decoder(pipeline, Stream::kInferences, kLargeLimit);
  DecodedBatch batch;
  decoder.prepare(batch);

  ASSERT_TRUE(accepted(decoder.decode(R"({"id":"i1","event_time":"2026-11-22T10:15:30.25+01:00",
                              "features":{"age":7,"country":"us","score":0.5},
                              "model_version":7,"prediction":0.83})",
                                      RecordKey{1, 100}, batch)));
  ASSERT_TRUE(accepted(decoder.decode(R"({"event_time":5,"features":{"age":8,"country":"de"}})",
                                      RecordKey{1, 101}, batch)));
  ASSERT_TRUE(accepted(decoder.decode(R"({"event_time":6,"features":{"age":9,"country":"fr"},
                              "model_version":null,"prediction":null})",
                                      RecordKey{1, 102}, batch)));

  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch.event_time_ms, (std::vector<std::int64_t>{1795338930250, 5, 6}));
  EXPECT_EQ(batch.ids, (std::vector<std::string>{"i1", "", ""}));
  ASSERT_EQ(batch.predictions.size(), 3u);
  EXPECT_EQ(batch.predictions[0], 0.83);
  EXPECT_TRUE(std::isnan(batch.predictions[1]));
  EXPECT_TRUE(std::isnan(batch.predictions[2]));
  EXPECT_EQ(batch.model_versions, (std::vector<std::int64_t>{7, -1, -1}));
  ASSERT_EQ(batch.numeric.size(), 6u);
  EXPECT_EQ(batch.numeric[0], 7.0);
  EXPECT_EQ(batch.numeric[1], 0.5);
  EXPECT_TRUE(std::isnan(batch.numeric[3]));
  EXPECT_EQ(batch.categorical, (std::vector<std::string>{"us", "", "de", "", "fr", ""}));
  EXPECT_EQ(batch.categorical_set, (std::vector<std::uint8_t>{1, 0, 1, 0, 1, 0}));
  EXPECT_TRUE(batch.labels.empty());
  EXPECT_TRUE(batch.weights.empty());
  EXPECT_TRUE(batch.metric_models.empty());
}

TEST(RecordDecoderTest, InferencesRejectBadPredictionOrModelVersion) {
  DecoderHarness harness(make_pipeline(), Stream::kInferences);
  const auto record = [](std::string_view extra) {
    return labels_record(R"("age":1,"country":"de")", fmt::format(R"("event_time":1,{})", extra));
  };
  ASSERT_TRUE(accepted(harness.decode(record(R"("model_version":0)"))));
  harness.expect_rejected(record(R"("model_version":-1)"), RejectReason::kWrongType,
                          "'model_version' must be a non-negative integer");
  harness.expect_rejected(record(R"("model_version":1.5)"), RejectReason::kWrongType,
                          "'model_version' must be a non-negative integer");
  harness.expect_rejected(record(R"("model_version":"3")"), RejectReason::kWrongType,
                          "'model_version' must be a non-negative integer");
  harness.expect_rejected(record(R"("prediction":"0.5")"), RejectReason::kWrongType,
                          "'prediction' is a string, expected a number");
  harness.expect_rejected(record(R"("prediction":1e999)"), RejectReason::kNonFinite,
                          "a number is out of double range or malformed");
  // Features are validated for inferences as for labels.
  harness.expect_rejected(labels_record(R"("age":1,"country":"es")", R"("event_time":1)"),
                          RejectReason::kUnknownCategory,
                          "feature 'country' = 'es' is not an allowed value");
}

TEST(RecordDecoderTest, MetricsCarryEveryField) {
  const PipelineOptions pipeline = make_pipeline();
  RecordDecoder decoder(pipeline, Stream::kMetrics, kLargeLimit);
  DecodedBatch batch;
  decoder.prepare(batch);

  ASSERT_TRUE(accepted(decoder.decode(R"({"model":"churn","version":3,"metric":"auc","value":0.91,
                              "event_time":1700000000000,"count":1200})",
                                      RecordKey{2, 5}, batch)));
  ASSERT_TRUE(
      accepted(decoder.decode(R"({"model":"churn","version":0,"metric":"log_loss","value":-2,
                              "event_time":"2024-02-29T12:34:56Z"})",
                              RecordKey{2, 6}, batch)));
  ASSERT_TRUE(accepted(decoder.decode(R"({"model":"m","version":1,"metric":"n","value":1,
                              "event_time":1,"count":null})",
                                      RecordKey{2, 7}, batch)));

  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch.keys[0].partition, 2);
  EXPECT_EQ(batch.keys[1].offset, 6);
  EXPECT_EQ(batch.event_time_ms, (std::vector<std::int64_t>{1700000000000, 1709210096000, 1}));
  EXPECT_EQ(batch.metric_models, (std::vector<std::string>{"churn", "churn", "m"}));
  EXPECT_EQ(batch.metric_versions, (std::vector<std::int64_t>{3, 0, 1}));
  EXPECT_EQ(batch.metric_names, (std::vector<std::string>{"auc", "log_loss", "n"}));
  EXPECT_EQ(batch.metric_values, (std::vector<double>{0.91, -2, 1}));
  EXPECT_EQ(batch.metric_counts, (std::vector<std::int64_t>{1200, -1, -1}));
  EXPECT_TRUE(batch.ids.empty());
  EXPECT_TRUE(batch.numeric.empty());
  EXPECT_TRUE(batch.categorical.empty());
  EXPECT_TRUE(batch.labels.empty());
  EXPECT_TRUE(batch.predictions.empty());
}

TEST(RecordDecoderTest, MetricsRejectMissingOrMistypedFields) {
  DecoderHarness harness(make_pipeline(), Stream::kMetrics);
  ASSERT_TRUE(accepted(
      harness.decode(R"({"model":"m","version":1,"metric":"auc","value":0.5,"event_time":1})")));
  harness.expect_rejected(R"({"model":"m","version":1,"value":0.5,"event_time":1})",
                          RejectReason::kMissingField, "missing 'metric'");
  harness.expect_rejected(R"({"version":1,"metric":"auc","value":0.5,"event_time":1})",
                          RejectReason::kMissingField, "missing 'model'");
  harness.expect_rejected(R"({"model":"m","metric":"auc","value":0.5,"event_time":1})",
                          RejectReason::kMissingField, "missing 'version'");
  harness.expect_rejected(R"({"model":"m","version":1,"metric":"auc","event_time":1})",
                          RejectReason::kMissingField, "missing 'value'");
  harness.expect_rejected(R"({"model":"m","version":1,"metric":"auc","value":0.5})",
                          RejectReason::kMissingField, "missing 'event_time'");
  harness.expect_rejected(R"({"model":"m","version":1,"metric":5,"value":0.5,"event_time":1})",
                          RejectReason::kWrongType, "'metric' is a number, expected a string");
  harness.expect_rejected(R"({"model":"m","version":"1","metric":"a","value":0.5,"event_time":1})",
                          RejectReason::kWrongType, "'version' must be a non-negative integer");
  harness.expect_rejected(R"({"model":"m","version":-1,"metric":"a","value":0.5,"event_time":1})",
                          RejectReason::kWrongType, "'version' must be a non-negative integer");
  harness.expect_rejected(R"({"model":"m","version":1,"metric":"a","value":"x","event_time":1})",
                          RejectReason::kWrongType, "'value' is a string, expected a number");
  harness.expect_rejected(
      R"({"model":"m","version":1,"metric":"a","value":1,"event_time":1,"count":2.5})",
      RejectReason::kWrongType, "'count' must be a non-negative integer");
  harness.expect_rejected(
      R"({"model":"m\u0000","version":1,"metric":"a","value":1,"event_time":1})",
      RejectReason::kInvalidString, "'model' contains NUL");
  harness.expect_rejected(R"({"model":"m","version":1,"metric":"a","value":1,"event_time":-5})",
                          RejectReason::kInvalidEventTime,
                          "event_time -5 is outside 1970..9999 in epoch milliseconds");
}

// Rejected records are interleaved with valid ones; a rejected record fills the decoder's
// scratch ("score" 99) before failing, which must not leak into the next record.
TEST(RecordDecoderTest, ManyRecordsKeepColumnsAligned) {
  constexpr int kRecords = 1000;
  DecoderHarness harness(make_pipeline(regression_label(-1e9, 1e9)), Stream::kLabels);
  const std::vector<std::string> countries = {"de", "fr", "us"};
  std::vector<int> accepted_indices;
  for (int i = 0; i < kRecords; ++i) {
    std::string features = fmt::format(R"("age":{},"country":"{}")", i % 151, countries[i % 3]);
    if (i % 2 == 0) features += fmt::format(R"(,"score":{})", i * 0.5);
    if (i % 5 == 0) features += fmt::format(R"(,"device":"d{}")", i);
    const std::string extra = fmt::format(R"("id":"r{}","event_time":{},"label":{}{})", i,
                                          1700000000000 + i, -i, i % 4 == 0 ? "" : ",\"weight\":3");
    if (i % 7 == 0) {
      const std::string bad = std::string(R"("score":99,"device":"bad","age":-1,"country":"de")");
      ASSERT_TRUE(harness.decode(labels_record(bad, extra)).has_value());
    }
    ASSERT_TRUE(accepted(harness.decode(labels_record(features, extra)))) << i;
    accepted_indices.push_back(i);
  }

  const DecodedBatch& batch = harness.batch();
  ASSERT_EQ(batch.size(), accepted_indices.size());
  EXPECT_EQ(batch.event_time_ms.size(), batch.size());
  EXPECT_EQ(batch.ids.size(), batch.size());
  ASSERT_EQ(batch.numeric.size(), batch.size() * 2);
  ASSERT_EQ(batch.categorical.size(), batch.size() * 2);
  ASSERT_EQ(batch.categorical_set.size(), batch.size() * 2);
  ASSERT_EQ(batch.labels.size(), batch.size());
  ASSERT_EQ(batch.weights.size(), batch.size());
  for (std::size_t row = 0; row < batch.size(); ++row) {
    const int i = accepted_indices[row];
    SCOPED_TRACE(i);
    EXPECT_EQ(batch.ids[row], fmt::format("r{}", i));
    EXPECT_EQ(batch.event_time_ms[row], 1700000000000 + i);
    EXPECT_EQ(batch.numeric[row * 2], i % 151);
    if (i % 2 == 0) {
      EXPECT_EQ(batch.numeric[row * 2 + 1], i * 0.5);
    } else {
      EXPECT_TRUE(std::isnan(batch.numeric[row * 2 + 1]));
    }
    EXPECT_EQ(batch.categorical[row * 2], countries[i % 3]);
    EXPECT_EQ(batch.categorical_set[row * 2], 1);
    EXPECT_EQ(batch.categorical[row * 2 + 1], i % 5 == 0 ? fmt::format("d{}", i) : "");
    EXPECT_EQ(batch.categorical_set[row * 2 + 1], i % 5 == 0 ? 1 : 0);
    EXPECT_EQ(batch.labels[row], -i);
    EXPECT_EQ(batch.weights[row], i % 4 == 0 ? 1.0 : 3.0);
  }
}

TEST(ParseRfc3339Test, AcceptsValidTimestamps) {
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:00.001Z"), 1);
  EXPECT_EQ(parse_rfc3339_ms("1969-12-31T23:59:59.999Z"), -1);  // the decoder rejects it
  EXPECT_EQ(parse_rfc3339_ms("2024-02-29T12:34:56Z"), 1709210096000);
  EXPECT_EQ(parse_rfc3339_ms("2024-02-29T23:59:59.999Z"), 1709251199999);
  EXPECT_EQ(parse_rfc3339_ms("2000-02-29T00:00:00Z"), 951782400000);  // divisible by 400
  EXPECT_EQ(parse_rfc3339_ms("2024-03-01T00:30:00+01:00"), 1709249400000);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22T10:15:30.25+01:00"), 1795338930250);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22T10:15:30.123456-05:30"), 1795362330123);
  EXPECT_EQ(parse_rfc3339_ms("2024-01-01T00:00:00-00:00"), 1704067200000);
  // A leap second counts as the second before it.
  EXPECT_EQ(parse_rfc3339_ms("2016-12-31T23:59:60Z"), 1483228799000);
}

TEST(ParseRfc3339Test, RejectsMalformedTimestamps) {
  for (const std::string_view text : {
           "",
           "2023-02-29T00:00:00Z",       // not a leap year
           "1900-02-29T00:00:00Z",       // century, not divisible by 400
           "2024-04-31T00:00:00Z",       // April has 30 days
           "2024-13-01T00:00:00Z",       // month 13
           "2024-00-01T00:00:00Z",       // month 0
           "2024-01-00T00:00:00Z",       // day 0
           "2024-01-01T24:00:00Z",       // hour 24
           "2024-01-01T00:60:00Z",       // minute 60
           "2024-01-01T00:00:61Z",       // second 61
           "2024-01-01T00:00:00",        // no zone
           "2024-01-01T00:00:00.123",    // no zone after a fraction
           "2024-01-01T00:00:00.Z",      // empty fraction
           "2024-01-01T00:00:00+0100",   // offset without colon
           "2024-01-01T00:00:00+01",     // offset without minutes
           "2024-01-01T00:00:00+24:00",  // offset hour 24
           "2024-01-01T00:00:00+01:60",  // offset minute 60
           "2024-01-01T00:00:00Z ",      // trailing text
           "2024-01-01T00:00:00ZZ",
           "2024-01-01X00:00:00Z",  // bad separator
           "2024-1-01T00:00:00Z",   // one-digit month
           "2024/01/01T00:00:00Z",
           "+2024-01-01T00:00:00Z",
           "1700000000000",
       }) {
    EXPECT_EQ(parse_rfc3339_ms(text), std::nullopt) << "'" << text << "'";
  }
}

TEST(RejectReasonTest, CodesAreStable) {
  const std::vector<std::pair<RejectReason, std::string_view>> codes = {
      {RejectReason::kEmpty, "empty"},
      {RejectReason::kOversized, "oversized"},
      {RejectReason::kInvalidUtf8, "invalid_utf8"},
      {RejectReason::kInvalidJson, "invalid_json"},
      {RejectReason::kNotAnObject, "not_an_object"},
      {RejectReason::kMissingField, "missing_field"},
      {RejectReason::kWrongType, "wrong_type"},
      {RejectReason::kNonFinite, "non_finite"},
      {RejectReason::kLabelOutOfRange, "label_out_of_range"},
      {RejectReason::kUnknownFeature, "unknown_feature"},
      {RejectReason::kMissingFeature, "missing_feature"},
      {RejectReason::kDuplicateFeature, "duplicate_feature"},
      {RejectReason::kValueOutOfRange, "value_out_of_range"},
      {RejectReason::kUnknownCategory, "unknown_category"},
      {RejectReason::kInvalidEventTime, "invalid_event_time"},
      {RejectReason::kInvalidWeight, "invalid_weight"},
      {RejectReason::kInvalidString, "invalid_string"},
  };
  ASSERT_EQ(codes.size(), static_cast<std::size_t>(kRejectReasonCount));
  for (const auto& [reason, code] : codes) EXPECT_EQ(reason_code(reason), code);
}

}  // namespace
}  // namespace ctd::ingest
