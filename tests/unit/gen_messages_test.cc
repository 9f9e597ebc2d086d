// Generated records as ctd's messages: their exact JSON, the pipeline YAML that
// `--print-pipeline` prints (ctd's own config loader reads it and ctd's own decoder accepts
// every generated label, inference and metric point with it), label delay ordering and the
// metric windows.
#include <gtest/gtest.h>

#include <map>
#include <variant>

#include <nlohmann/json.hpp>

#include "config/loader.h"
#include "daemon/record_decoder.h"
#include "generators/drift_stream.h"
#include "generators/messages.h"
#include "generators/pipeline_snippet.h"
#include "generators/sea.h"
#include "generators/stagger.h"

namespace ctd::generators {
namespace {

Record record(std::uint64_t index, std::vector<double> values, int label) {
  Record r;
  r.index = index;
  r.sample.values = std::move(values);
  r.sample.label = label;
  return r;
}

TEST(GenMessagesTest, LabelAndInferenceJson) {
  const Record r = record(0, {1.5, 2.25, 0.1}, 1);
  EXPECT_EQ(
      label_json(sea_schema(), r, "gen-0", 1767225600000),
      R"({"id":"gen-0","event_time":1767225600000,"features":{"f1":1.5,"f2":2.25,"f3":0.1},"label":1})");
  EXPECT_EQ(
      inference_json(sea_schema(), r, "gen-0", 1767225600000),
      R"({"id":"gen-0","event_time":1767225600000,"features":{"f1":1.5,"f2":2.25,"f3":0.1}})");
  EXPECT_EQ(
      label_json(stagger_schema(), record(3, {0, 1, 2}, 0), "s3", 5),
      R"({"id":"s3","event_time":5,"features":{"size":"small","color":"green","shape":"triangle"},"label":0})");
}

TEST(GenMessagesTest, NumbersRoundTripExactly) {
  const Record r = record(0, {0.1 + 0.2, 1.0 / 3, 9.999999999999998}, 0);
  const nlohmann::json parsed = nlohmann::json::parse(label_json(sea_schema(), r, "x", 0));
  EXPECT_EQ(parsed["features"]["f1"].get<double>(), 0.1 + 0.2);
  EXPECT_EQ(parsed["features"]["f2"].get<double>(), 1.0 / 3);
  EXPECT_EQ(parsed["features"]["f3"].get<double>(), 9.999999999999998);
}

config::PipelineOptions load_pipeline(const StreamSchema& schema, const PipelineTopics& topics) {
  const std::string yaml =
      "postgres: {dsn: \"postgresql://ctd@localhost/ctd\"}\nkafka: {brokers: embedded}\n" +
      pipeline_yaml(schema, "drift-demo", topics);
  auto result = config::parse(yaml, "gen.yaml", {});
  if (auto* errors = std::get_if<std::vector<config::ConfigError>>(&result)) {
    for (const auto& e : *errors) ADD_FAILURE() << e.to_string() << "\n" << yaml;
    return {};
  }
  return std::get<config::Options>(result).pipelines.at(0);
}

TEST(GenMessagesTest, PipelineYamlIsAValidConfigurationEntry) {
  StreamSpec spec;
  spec.generator.kind = GeneratorKind::kAgrawal;
  const config::PipelineOptions p =
      load_pipeline(schema_of(spec.generator), {"a.labels", "a.inferences", "a.metrics"});
  ASSERT_EQ(p.features.size(), 9u);
  EXPECT_EQ(p.name, "drift-demo");
  EXPECT_EQ(p.topics.labels, "a.labels");
  EXPECT_EQ(p.topics.inferences, "a.inferences");
  EXPECT_EQ(p.topics.metrics, "a.metrics");
  EXPECT_EQ(p.features[0].name, "salary");
  EXPECT_EQ(p.features[0].min, 20000);
  EXPECT_EQ(p.features[6].max, 1350000);
  EXPECT_EQ(p.features[3].type, config::FeatureType::kCategorical);
  EXPECT_EQ(p.features[3].allowed_values.size(), 5u);
  EXPECT_EQ(p.label.kind, config::LabelKind::kBinary);

  spec.generator.kind = GeneratorKind::kRbf;
  spec.generator.rbf.classes = 5;
  const config::PipelineOptions rbf = load_pipeline(schema_of(spec.generator), {"r", {}, {}});
  EXPECT_EQ(rbf.label.kind, config::LabelKind::kMulticlass);
  EXPECT_EQ(rbf.label.num_classes, 5);
  EXPECT_FALSE(rbf.features[0].min.has_value()) << "RBF features are unbounded";
  EXPECT_FALSE(rbf.topics.inferences.has_value());
}

// Every message of a stream of each generator decodes with ctd's decoder, under the pipeline
// the generator prints, to the generated values.
TEST(GenMessagesTest, CtdsDecoderAcceptsEveryGeneratedMessage) {
  for (GeneratorKind kind :
       {GeneratorKind::kSea, GeneratorKind::kHyperplane, GeneratorKind::kAgrawal,
        GeneratorKind::kStagger, GeneratorKind::kRbf}) {
    SCOPED_TRACE(std::string(to_string(kind)));
    StreamSpec spec;
    spec.generator.kind = kind;
    spec.generator.agrawal.perturbation = 0.1;
    spec.generator.rbf.classes = 3;
    spec.noise = 0.1;
    DriftStream stream(spec);
    const config::PipelineOptions pipeline = load_pipeline(stream.schema(), {"l", "i", "m"});
    MessageOptions options;
    options.inferences = options.metrics = true;
    options.metric_every = 100;
    MessagePlan plan(stream.schema(), options);
    std::vector<Message> messages;
    std::vector<Record> records;
    for (int i = 0; i < 500; ++i) {
      records.push_back(stream.next());
      plan.add(records.back(), messages);
    }
    plan.finish(messages);
    std::map<Topic, ingest::DecodedBatch> batches;
    std::map<Topic, std::unique_ptr<ingest::RecordDecoder>> decoders;
    const std::map<Topic, ingest::Stream> streams = {
        {Topic::kLabels, ingest::Stream::kLabels},
        {Topic::kInferences, ingest::Stream::kInferences},
        {Topic::kMetrics, ingest::Stream::kMetrics}};
    for (const auto& [topic, s] : streams) {
      decoders[topic] = std::make_unique<ingest::RecordDecoder>(pipeline, s, 1 << 20);
      decoders[topic]->prepare(batches[topic]);
    }
    for (const Message& m : messages) {
      const auto rejection = decoders[m.topic]->decode(m.payload, {}, batches[m.topic]);
      ASSERT_FALSE(rejection.has_value()) << rejection->detail << "\n" << m.payload;
    }
    ASSERT_EQ(batches[Topic::kLabels].size(), 500u);
    ASSERT_EQ(batches[Topic::kInferences].size(), 500u);
    EXPECT_EQ(batches[Topic::kMetrics].size(), kind == GeneratorKind::kRbf ? 15u : 5u);
    const ingest::DecodedBatch& labels = batches[Topic::kLabels];
    const std::size_t numeric = labels.numeric_width, categorical = labels.categorical_width;
    for (std::size_t i = 0; i < 500; ++i) {
      EXPECT_EQ(labels.ids[i], "gen-" + std::to_string(i));
      EXPECT_EQ(labels.labels[i], records[i].sample.label);
      EXPECT_EQ(labels.event_time_ms[i], kDefaultStartTimeMs + 1000 * std::int64_t(i));
      std::size_t n = 0, c = 0;
      for (std::size_t f = 0; f < stream.schema().features.size(); ++f) {
        const FeatureDef& def = stream.schema().features[f];
        const double value = records[i].sample.values[f];
        if (def.categorical) {
          EXPECT_EQ(labels.categorical[i * categorical + c++], def.values[std::size_t(value)]);
        } else {
          EXPECT_EQ(labels.numeric[i * numeric + n++], value) << def.name;
        }
      }
    }
  }
}

std::vector<Message> plan_messages(MessageOptions options, const std::vector<int>& labels) {
  MessagePlan plan(sea_schema(), std::move(options));
  std::vector<Message> out;
  for (std::size_t i = 0; i < labels.size(); ++i) plan.add(record(i, {1, 1, 1}, labels[i]), out);
  plan.finish(out);
  return out;
}

TEST(GenMessagesTest, LabelDelaySendsEachLabelAfterTheInferenceNRecordsLater) {
  MessageOptions options;
  options.inferences = true;
  options.label_delay = 3;
  const std::vector<Message> out = plan_messages(options, std::vector<int>(10, 1));
  ASSERT_EQ(out.size(), 20u);
  std::map<std::string, std::size_t> inference_at, label_at;
  for (std::size_t k = 0; k < out.size(); ++k) {
    (out[k].topic == Topic::kInferences ? inference_at : label_at)[out[k].key] = k;
  }
  for (int i = 0; i < 10; ++i) {
    const std::string id = "gen-" + std::to_string(i);
    ASSERT_TRUE(label_at.count(id) && inference_at.count(id)) << id;
    EXPECT_LT(inference_at[id], label_at[id]);
    if (i + 3 < 10) {
      EXPECT_GT(label_at[id], inference_at["gen-" + std::to_string(i + 3)]) << id;
      if (i + 4 < 10) {
        EXPECT_LT(label_at[id], inference_at["gen-" + std::to_string(i + 4)]) << id;
      }
    } else {
      EXPECT_GT(label_at[id], inference_at["gen-9"]) << "held back until the end: " << id;
    }
  }
  // The first three records have no label yet when their inferences go out.
  EXPECT_EQ(out[0].topic, Topic::kInferences);
  EXPECT_EQ(out[1].topic, Topic::kInferences);
  EXPECT_EQ(out[2].topic, Topic::kInferences);
  EXPECT_EQ(out[3].topic, Topic::kInferences);
  EXPECT_EQ(out[4].key, "gen-0");
}

TEST(GenMessagesTest, MetricPointsGiveThePositiveRateOfEachWindowOfLabels) {
  MessageOptions options;
  options.metrics = true;
  options.metric_every = 4;
  options.model = "m";
  options.event_interval_ms = 250;
  options.start_time_ms = 1000;
  const std::vector<Message> out = plan_messages(options, {1, 0, 0, 1, 1, 1, 1, 0, 1, 0});
  std::vector<nlohmann::json> points;
  for (const Message& m : out) {
    if (m.topic == Topic::kMetrics) points.push_back(nlohmann::json::parse(m.payload));
  }
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[0], nlohmann::json::parse(
                           R"({"model":"m","version":0,"metric":"positive_rate","value":0.5,)"
                           R"("event_time":1750,"count":4})"));
  EXPECT_EQ(points[1]["value"], 0.75);
  EXPECT_EQ(points[1]["event_time"], 1000 + 7 * 250);
  EXPECT_EQ(points[2]["value"], 0.5) << "the last, partial window";
  EXPECT_EQ(points[2]["count"], 2);
  EXPECT_EQ(out.size(), 13u);
}

TEST(GenMessagesTest, MulticlassMetricsGiveEachClassShare) {
  StreamSchema schema = sea_schema();
  schema.num_classes = 3;
  MessageOptions options;
  options.metrics = true;
  options.metric_every = 4;
  MessagePlan plan(schema, options);
  std::vector<Message> out;
  int i = 0;
  for (int label : {0, 2, 2, 1}) plan.add(record(i++, {1, 1, 1}, label), out);
  plan.finish(out);
  ASSERT_EQ(out.size(), 7u);
  EXPECT_EQ(nlohmann::json::parse(out[4].payload)["metric"], "class_0_rate");
  EXPECT_EQ(nlohmann::json::parse(out[4].payload)["value"], 0.25);
  EXPECT_EQ(nlohmann::json::parse(out[6].payload)["metric"], "class_2_rate");
  EXPECT_EQ(nlohmann::json::parse(out[6].payload)["value"], 0.5);
}

TEST(GenMessagesTest, OptionsValidation) {
  MessageOptions options;
  EXPECT_EQ(validate(options), "");
  options.label_delay = 5;
  EXPECT_NE(validate(options).find("--inferences-topic"), std::string::npos);
  options.inferences = true;
  EXPECT_EQ(validate(options), "");
  options.metric_every = 0;
  EXPECT_NE(validate(options).find("--metric-every"), std::string::npos);
}

}  // namespace
}  // namespace ctd::generators
