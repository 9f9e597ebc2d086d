// Tests of config::parse/load/render: values, every class of validation error with its
// position, environment overrides, secret masking, the training sections (checked through
// trainers::parse_run_spec) and the shipped example files.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <variant>
#include <vector>

#include "config/loader.h"
#include "trainers/run_spec.h"

namespace {

using ctd::config::ConfigError;
using ctd::config::Environment;
using ctd::config::FeatureType;
using ctd::config::LabelKind;
using ctd::config::LogFormat;
using ctd::config::LogOutput;
using ctd::config::Options;
using ctd::config::RunningTrainingOnShutdown;
using ctd::config::TrainingOptions;
using ctd::trainers::RunSpec;

// Raw strings below start with a newline so that their first line is line 1.
std::string yaml(const char* text) { return std::string(text).substr(1); }

// A valid configuration; tests append to it (from line 15) or change it. Line numbers:
//   7 name: churn  8 topics:  9 labels:  10 features:  11 - name: tenure  13 label:
const std::string kMinimal = yaml(R"(
# minimal valid configuration
postgres:
  dsn: postgresql://ctd@localhost/ctd
kafka:
  brokers: embedded
pipelines:
  - name: churn
    topics:
      labels: churn.labels
    features:
      - name: tenure
        type: numeric
    label:
      kind: binary
)");

std::variant<Options, std::vector<ConfigError>> parse(const std::string& text,
                                                      const Environment& env = {}) {
  return ctd::config::parse(text, "test.yaml", env);
}

std::string describe(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const ConfigError& error : errors) out += "\n  " + error.to_string();
  return out;
}

Options options_of(const std::string& text, const Environment& env = {}) {
  auto result = parse(text, env);
  if (auto* errors = std::get_if<std::vector<ConfigError>>(&result)) {
    ADD_FAILURE() << "unexpected errors:" << describe(*errors);
    return {};
  }
  return std::get<Options>(result);
}

std::vector<ConfigError> errors_of(const std::string& text, const Environment& env = {}) {
  auto result = parse(text, env);
  if (auto* errors = std::get_if<std::vector<ConfigError>>(&result)) return *errors;
  ADD_FAILURE() << "expected errors, but the configuration was accepted";
  return {};
}

// Succeeds when one error has this key path and line and its message contains `text`.
testing::AssertionResult HasError(const std::vector<ConfigError>& errors,
                                  const std::string& key_path, int line, const std::string& text) {
  for (const ConfigError& error : errors) {
    if (error.key_path == key_path && error.line == line &&
        error.message.find(text) != std::string::npos) {
      return testing::AssertionSuccess();
    }
  }
  return testing::AssertionFailure() << "no error at " << key_path << " (line " << line
                                     << ") containing \"" << text << "\"; got:" << describe(errors);
}

// kMinimal with its single feature (lines 11-12) replaced by `features`.
std::string with_features(const char* features) {
  const std::string head = kMinimal.substr(0, kMinimal.find("      - name: tenure"));
  return head + yaml(features) + "    label:\n      kind: binary\n";
}

// kMinimal with its label (lines 13-14) replaced by `label`.
std::string with_label(const char* label) {
  return kMinimal.substr(0, kMinimal.find("    label:")) + label;
}

std::filesystem::path examples_dir() {
  return std::filesystem::path(CTD_SOURCE_DIR) / "config" / "examples";
}

TEST(ConfigParse, FullConfigurationParsesIntoExpectedValues) {
  const Options options = options_of(yaml(R"(
postgres:
  dsn: host=db user=ctd
kafka:
  brokers: k1:9092,k2:9092
  group_id: trainers
  embedded_partitions: 8
  properties:
    security.protocol: SASL_SSL
    session.timeout.ms: 45000
ingest:
  batch_max_records: 500
  batch_max_wait_ms: 250
  max_message_bytes: 2048
  quarantine_raw_max_bytes: 0
  retry_initial_ms: 50
  retry_max_ms: 5000
http: {listen_address: 0.0.0.0, port: 9090}
log: {level: debug, format: json}
pipelines:
  - name: churn
    topics: {labels: churn.labels, inferences: churn.inferences, metrics: churn.metrics}
    features:
      - {name: tenure, type: numeric, min: 0, max: 120.5}
      - {name: plan, type: categorical, required: false, allowed_values: [basic, pro]}
    label: {kind: multiclass, num_classes: 3}
  - name: spend
    topics: {labels: spend.labels}
    features: [{name: visits}]
    label: {kind: regression, min: -1e3, max: 1e6}
)"));
  EXPECT_EQ(options.postgres.dsn, "host=db user=ctd");
  EXPECT_EQ(options.kafka.brokers, "k1:9092,k2:9092");
  EXPECT_EQ(options.kafka.group_id, "trainers");
  EXPECT_EQ(options.kafka.embedded_partitions, 8);
  EXPECT_EQ(options.kafka.properties.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(options.kafka.properties.at("session.timeout.ms"), "45000");
  EXPECT_EQ(options.ingest.batch_max_records, 500);
  EXPECT_EQ(options.ingest.batch_max_wait, std::chrono::milliseconds(250));
  EXPECT_EQ(options.ingest.max_message_bytes, 2048u);
  EXPECT_EQ(options.ingest.quarantine_raw_max_bytes, 0u);
  EXPECT_EQ(options.ingest.retry_initial, std::chrono::milliseconds(50));
  EXPECT_EQ(options.ingest.retry_max, std::chrono::milliseconds(5000));
  EXPECT_EQ(options.http.listen_address, "0.0.0.0");
  EXPECT_EQ(options.http.port, 9090);
  EXPECT_EQ(options.log.level, "debug");
  EXPECT_EQ(options.log.format, LogFormat::kJson);
  ASSERT_EQ(options.pipelines.size(), 2u);

  const auto& churn = options.pipelines[0];
  EXPECT_EQ(churn.name, "churn");
  EXPECT_EQ(churn.topics.labels, "churn.labels");
  EXPECT_EQ(churn.topics.inferences, "churn.inferences");
  EXPECT_EQ(churn.topics.metrics, "churn.metrics");
  ASSERT_EQ(churn.features.size(), 2u);
  EXPECT_EQ(churn.features[0].name, "tenure");
  EXPECT_EQ(churn.features[0].type, FeatureType::kNumeric);
  EXPECT_TRUE(churn.features[0].required);
  EXPECT_EQ(churn.features[0].min, 0.0);
  EXPECT_EQ(churn.features[0].max, 120.5);
  EXPECT_EQ(churn.features[1].type, FeatureType::kCategorical);
  EXPECT_FALSE(churn.features[1].required);
  EXPECT_EQ(churn.features[1].allowed_values, (std::vector<std::string>{"basic", "pro"}));
  EXPECT_EQ(churn.label.kind, LabelKind::kMulticlass);
  EXPECT_EQ(churn.label.num_classes, 3);

  const auto& spend = options.pipelines[1];
  EXPECT_FALSE(spend.topics.inferences.has_value());
  EXPECT_FALSE(spend.topics.metrics.has_value());
  EXPECT_EQ(spend.features[0].type, FeatureType::kNumeric);
  EXPECT_EQ(spend.label.kind, LabelKind::kRegression);
  EXPECT_EQ(spend.label.min, -1000.0);
  EXPECT_EQ(spend.label.max, 1e6);
}

TEST(ConfigParse, OmittedKeysTakeDefaults) {
  const Options options = options_of(kMinimal);
  const Options defaults;
  EXPECT_EQ(options.kafka.group_id, "ctd");
  EXPECT_EQ(options.kafka.embedded_partitions, 4);
  EXPECT_TRUE(options.kafka.properties.empty());
  EXPECT_EQ(options.ingest.batch_max_records, defaults.ingest.batch_max_records);
  EXPECT_EQ(options.ingest.batch_max_wait, defaults.ingest.batch_max_wait);
  EXPECT_EQ(options.ingest.max_message_bytes, defaults.ingest.max_message_bytes);
  EXPECT_EQ(options.http.listen_address, "127.0.0.1");
  EXPECT_EQ(options.http.port, 8080);
  EXPECT_EQ(options.log.level, "info");
  EXPECT_EQ(options.log.format, LogFormat::kText);
  ASSERT_EQ(options.pipelines.size(), 1u);
  EXPECT_FALSE(options.pipelines[0].features[0].min.has_value());
}

TEST(ConfigErrors, UnknownKeySuggestsClosestKey) {
  const auto errors = errors_of(with_features(R"(
      - name: tenure
        typ: numeric
)"));
  ASSERT_EQ(errors.size(), 1u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "pipelines[0].features[0].typ", 12,
                       "unknown key 'typ' (did you mean 'type'?)"));
  EXPECT_EQ(errors[0].column, 9);
}

TEST(ConfigErrors, UnknownKeySuggestionCoversCaseAndTransposition) {
  const auto errors = errors_of(kMinimal + "http:\n  Port: 1\n  listen_adress: x\nlgo: {}\n");
  EXPECT_TRUE(HasError(errors, "http.Port", 16, "did you mean 'port'?"));
  EXPECT_TRUE(HasError(errors, "http.listen_adress", 17, "did you mean 'listen_address'?"));
  EXPECT_TRUE(HasError(errors, "lgo", 18, "did you mean 'log'?"));
}

TEST(ConfigErrors, UnknownKeyFarFromAnyListsValidKeys) {
  const auto errors = errors_of(kMinimal + "http:\n  workers: 4\n");
  ASSERT_EQ(errors.size(), 1u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "http.workers", 16,
                       "unknown key 'workers' (valid keys: listen_address, port, auth, tls)"));
  EXPECT_EQ(errors[0].message.find("did you mean"), std::string::npos);
}

TEST(ConfigErrors, DuplicateKeyIsReported) {
  const auto errors = errors_of(kMinimal + "log:\n  level: info\n  level: debug\n");
  EXPECT_TRUE(HasError(errors, "log.level", 17, "duplicate key 'level'"));
}

TEST(ConfigErrors, WrongTypesAreReported) {
  const auto errors = errors_of(kMinimal + yaml(R"(
ingest:
  batch_max_records: abc
http: [1, 2]
log:
  level: {a: 1}
)"));
  EXPECT_TRUE(HasError(errors, "ingest.batch_max_records", 16, "expected an integer, got 'abc'"));
  EXPECT_TRUE(HasError(errors, "http", 17, "expected a map, got a list"));
  EXPECT_TRUE(HasError(errors, "log.level", 19, "expected a string, got a map"));
}

TEST(ConfigErrors, WrongTypesInsidePipelinesAreReported) {
  const auto errors = errors_of(with_features(R"(
      - name: tenure
        required: maybe
        min: ten
      - name: plan
        type: categorical
        allowed_values: basic
)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].features[0].required", 12,
                       "expected a boolean (true or false), got 'maybe'"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].features[0].min", 13, "expected a finite number"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].features[1].allowed_values", 16,
                       "expected a list, got 'basic'"));
}

TEST(ConfigErrors, EmptyValueIsReportedOnItsKeyLine) {
  const auto errors = errors_of(kMinimal + "http:\n  port:\nlog:\n  level: info\n");
  EXPECT_TRUE(HasError(errors, "http.port", 16, "expected an integer, got an empty value"));
}

TEST(ConfigErrors, OutOfRangeValuesStateTheRange) {
  const auto errors = errors_of(kMinimal + yaml(R"(
ingest:
  batch_max_records: 0
  batch_max_wait_ms: 60001
http:
  port: 99999999999999999999999
kafka_extra: 1
)"));
  EXPECT_TRUE(
      HasError(errors, "ingest.batch_max_records", 16, "must be between 1 and 1000000, got 0"));
  EXPECT_TRUE(
      HasError(errors, "ingest.batch_max_wait_ms", 17, "must be between 1 and 60000, got 60001"));
  EXPECT_TRUE(HasError(errors, "http.port", 19, "must be between 0 and 65535"));
  EXPECT_TRUE(HasError(errors, "kafka_extra", 20, "unknown key"));
}

TEST(ConfigErrors, RetryInitialAboveRetryMaxIsRejected) {
  const auto errors =
      errors_of(kMinimal + "ingest:\n  retry_initial_ms: 5000\n  retry_max_ms: 1000\n");
  EXPECT_TRUE(HasError(errors, "ingest.retry_initial_ms", 16,
                       "retry_initial_ms (5000) must not be greater than retry_max_ms (1000)"));
}

TEST(ConfigErrors, RetryOrderIsNotJudgedOnUnreadableValues) {
  const auto errors =
      errors_of(kMinimal + "ingest:\n  retry_initial_ms: abc\n  retry_max_ms: 50\n");
  ASSERT_EQ(errors.size(), 1u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "ingest.retry_initial_ms", 16, "expected an integer, got 'abc'"));
  EXPECT_TRUE(HasError(errors_of(kMinimal + "ingest:\n  retry_max_ms: 50\n"),
                       "ingest.retry_initial_ms", 16, "(100) must not be greater"));
}

TEST(ConfigErrors, MissingRequiredKeyIsReportedAtParentMap) {
  const auto errors = errors_of(yaml(R"(
postgres: {dsn: host=db}
kafka: {brokers: embedded}
pipelines:
  - name: churn
    topics:
      inferences: churn.inferences
    features: [{name: x}]
    label: {}
)"));
  ASSERT_EQ(errors.size(), 2u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "pipelines[0].topics.labels", 6, "missing required key 'labels'"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].label.kind", 8, "missing required key 'kind'"));
}

TEST(ConfigErrors, MissingTopLevelRequiredKeys) {
  const auto errors = errors_of("log: {level: info}\n");
  EXPECT_TRUE(HasError(errors, "postgres.dsn", 1, "missing required key 'dsn'"));
  EXPECT_TRUE(HasError(errors, "postgres.dsn", 1, "CTD_POSTGRES_DSN"));
  EXPECT_TRUE(HasError(errors, "kafka.brokers", 1, "missing required key 'brokers'"));
  EXPECT_TRUE(HasError(errors, "pipelines", 1, "missing required key 'pipelines'"));
}

TEST(ConfigErrors, MissingPipelineKeys) {
  const auto errors = errors_of(yaml(R"(
postgres: {dsn: host=db}
kafka: {brokers: embedded}
pipelines:
  - features: [{type: numeric}]
)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].name", 4, "missing required key 'name'"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].topics", 4, "missing required key 'topics'"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].label", 4, "missing required key 'label'"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].features[0].name", 4, "missing required key 'name'"));
}

TEST(ConfigErrors, EmptyPipelinesAndFeaturesLists) {
  const auto no_pipelines = errors_of("postgres: {dsn: x}\nkafka: {brokers: y}\npipelines: []\n");
  EXPECT_TRUE(HasError(no_pipelines, "pipelines", 3, "at least one pipeline is required"));

  const auto no_features = errors_of(with_features("\n"));
  EXPECT_TRUE(HasError(no_features, "pipelines[0].features", 10, "features list is empty"));
}

TEST(ConfigErrors, InvalidEnumValuesListAllowedOnes) {
  const auto errors = errors_of(with_features(R"(
      - name: tenure
        type: numerc
)") + "log: {format: xml}\n");
  EXPECT_TRUE(HasError(errors, "pipelines[0].features[0].type", 12,
                       "invalid value 'numerc', expected one of: numeric, categorical "
                       "(did you mean 'numeric'?)"));
  EXPECT_TRUE(HasError(errors, "log.format", 15, "expected one of: text, json"));

  const auto label_errors = errors_of(with_label("    label: {kind: ordinal}\n"));
  EXPECT_TRUE(HasError(label_errors, "pipelines[0].label.kind", 13,
                       "expected one of: binary, multiclass, regression"));
}

TEST(ConfigErrors, DuplicatePipelineAndFeatureNames) {
  const auto errors = errors_of(kMinimal + yaml(R"(
  - name: churn
    topics: {labels: churn2.labels}
    features:
      - name: a
      - name: a
    label: {kind: binary}
)"));
  EXPECT_TRUE(
      HasError(errors, "pipelines[1].name", 15,
               "duplicate pipeline name 'churn' (first used at pipelines[0].name, line 7)"));
  EXPECT_TRUE(HasError(errors, "pipelines[1].features[1].name", 19, "duplicate feature name 'a'"));
}

TEST(ConfigErrors, InvalidPipelineName) {
  std::string text = kMinimal;
  text.replace(text.find("name: churn"), 11, "name: Churn Model");
  EXPECT_TRUE(HasError(errors_of(text), "pipelines[0].name", 7,
                       "invalid pipeline name 'Churn Model': must match [a-z0-9_-]{1,63}"));
  text.replace(text.find("name: Churn Model"), 17, "name: " + std::string(64, 'a'));
  EXPECT_TRUE(HasError(errors_of(text), "pipelines[0].name", 7, "invalid pipeline name"));
}

TEST(ConfigErrors, FeatureBoundsAndTypeSpecificKeys) {
  const auto errors = errors_of(with_features(R"(
      - name: tenure
        min: 5
        max: 1
        allowed_values: [a]
      - name: plan
        type: categorical
        min: 0
        max: 1
)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].features[0].min", 12,
                       "min (5) must not be greater than max (1)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].features[0].allowed_values", 14,
                       "'allowed_values' is only allowed on categorical features"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].features[1].min", 17,
                       "'min' is only allowed on numeric features"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].features[1].max", 18,
                       "'max' is only allowed on numeric features"));
}

TEST(ConfigErrors, LabelRules) {
  EXPECT_TRUE(HasError(errors_of(with_label("    label: {kind: binary, num_classes: 3}\n")),
                       "pipelines[0].label.num_classes", 13,
                       "'num_classes' is only allowed when kind is multiclass"));
  EXPECT_TRUE(HasError(errors_of(with_label("    label: {kind: multiclass}\n")),
                       "pipelines[0].label.num_classes", 13, "missing required key 'num_classes'"));
  EXPECT_TRUE(HasError(errors_of(with_label("    label: {kind: multiclass, num_classes: 1}\n")),
                       "pipelines[0].label.num_classes", 13, "must be between 2 and 10000, got 1"));
  EXPECT_TRUE(HasError(errors_of(with_label("    label: {kind: regression, min: 2, max: 1}\n")),
                       "pipelines[0].label.min", 13, "min (2) must not be greater than max (1)"));
  EXPECT_TRUE(HasError(errors_of(with_label("    label: {kind: binary, max: 1}\n")),
                       "pipelines[0].label.max", 13, "only allowed when kind is regression"));
}

TEST(ConfigErrors, TopicUsedTwiceIsRejected) {
  const auto errors = errors_of(kMinimal + yaml(R"(
  - name: other
    topics: {labels: other.labels, inferences: churn.labels, metrics: other.labels}
    features: [{name: x}]
    label: {kind: binary}
)"));
  EXPECT_TRUE(HasError(errors, "pipelines[1].topics.inferences", 16,
                       "duplicate topic 'churn.labels' (first used at pipelines[0].topics.labels"));
  EXPECT_TRUE(
      HasError(errors, "pipelines[1].topics.metrics", 16, "duplicate topic 'other.labels'"));
}

TEST(ConfigErrors, InvalidTopicName) {
  std::string text = kMinimal;
  text.replace(text.find("churn.labels"), 12, "churn labels");
  EXPECT_TRUE(HasError(errors_of(text), "pipelines[0].topics.labels", 9, "invalid topic name"));
}

TEST(ConfigErrors, SyntaxErrorIsOneErrorWithPosition) {
  const auto errors = errors_of("postgres:\n  dsn: [unclosed\nkafka: {}\n");
  ASSERT_EQ(errors.size(), 1u) << describe(errors);
  EXPECT_EQ(errors[0].file, "test.yaml");
  EXPECT_GT(errors[0].line, 1);
  EXPECT_NE(errors[0].message.find("YAML syntax error"), std::string::npos);
}

TEST(ConfigErrors, EmptyFileIsReported) {
  for (const std::string text : {"", "\n", "# only a comment\n"}) {
    const auto errors = errors_of(text);
    ASSERT_EQ(errors.size(), 1u) << describe(errors);
    EXPECT_NE(errors[0].message.find("empty"), std::string::npos) << errors[0].message;
  }
}

TEST(ConfigErrors, TopLevelMustBeAMap) {
  EXPECT_TRUE(HasError(errors_of("- a\n- b\n"), "", 1, "expected a map, got a list"));
}

TEST(ConfigErrors, AllErrorsAreCollectedInFileOrder) {
  const auto errors = errors_of(yaml(R"(
postgres: {dsn: host=db}
kafka: {brokers: embedded, embedded_partitions: 0}
htp: {}
pipelines:
  - name: Bad!
    topics: {labels: t}
    features: [{name: x, type: numeric, min: 3, max: 2}]
    label: {kind: multiclass}
)"));
  ASSERT_EQ(errors.size(), 5u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "kafka.embedded_partitions", 2, "between 1 and 1024"));
  EXPECT_TRUE(HasError(errors, "htp", 3, "did you mean 'http'?"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].name", 5, "invalid pipeline name"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].features[0].min", 7, "must not be greater"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].label.num_classes", 8, "missing required key"));
  for (std::size_t i = 1; i < errors.size(); ++i) EXPECT_LE(errors[i - 1].line, errors[i].line);
}

TEST(ConfigEnvironment, OverridesWinOverTheFile) {
  const Options options = options_of(kMinimal + "http: {listen_address: 10.0.0.1, port: 1}\n",
                                     {{"CTD_POSTGRES_DSN", "host=other"},
                                      {"CTD_KAFKA_BROKERS", "k:9092"},
                                      {"CTD_KAFKA_GROUP_ID", "g2"},
                                      {"CTD_HTTP_ADDRESS", "0.0.0.0"},
                                      {"CTD_HTTP_PORT", "0"},
                                      {"CTD_LOG_LEVEL", "warn"},
                                      {"CTD_UNRELATED", "ignored"}});
  EXPECT_EQ(options.postgres.dsn, "host=other");
  EXPECT_EQ(options.kafka.brokers, "k:9092");
  EXPECT_EQ(options.kafka.group_id, "g2");
  EXPECT_EQ(options.http.listen_address, "0.0.0.0");
  EXPECT_EQ(options.http.port, 0);
  EXPECT_EQ(options.log.level, "warn");
}

TEST(ConfigEnvironment, OverridesSatisfyRequiredKeys) {
  std::string text = kMinimal;
  text.erase(0, text.find("pipelines:"));  // no postgres, no kafka section
  const Options options =
      options_of(text, {{"CTD_POSTGRES_DSN", "host=db"}, {"CTD_KAFKA_BROKERS", "embedded"}});
  EXPECT_EQ(options.postgres.dsn, "host=db");
  EXPECT_EQ(options.kafka.brokers, "embedded");
}

TEST(ConfigEnvironment, BadValuesAreRejectedWithoutPosition) {
  for (const std::string port : {"abc", "70000", "-1", ""}) {
    const auto errors = errors_of(kMinimal, {{"CTD_HTTP_PORT", port}});
    ASSERT_EQ(errors.size(), 1u) << describe(errors);
    EXPECT_EQ(errors[0].line, 0);
    EXPECT_EQ(errors[0].key_path, "env CTD_HTTP_PORT");
    EXPECT_EQ(errors[0].to_string().rfind("test.yaml: env CTD_HTTP_PORT: ", 0), 0u)
        << errors[0].to_string();
  }
  EXPECT_TRUE(HasError(errors_of(kMinimal, {{"CTD_HTTP_PORT", "70000"}}), "env CTD_HTTP_PORT", 0,
                       "must be between 0 and 65535, got 70000"));
  EXPECT_TRUE(HasError(errors_of(kMinimal, {{"CTD_LOG_LEVEL", "loud"}}), "env CTD_LOG_LEVEL", 0,
                       "expected one of: trace, debug, info, warn, error"));
  EXPECT_TRUE(HasError(errors_of(kMinimal, {{"CTD_POSTGRES_DSN", ""}}), "env CTD_POSTGRES_DSN", 0,
                       "must not be empty"));
}

TEST(ConfigEnvironment, ProcessEnvironmentCollectsOnlyCtdVariables) {
  ASSERT_EQ(setenv("CTD_CONFIG_TEST_VALUE", "a=b", 1), 0);
  const Environment env = ctd::config::process_environment();
  unsetenv("CTD_CONFIG_TEST_VALUE");
  ASSERT_TRUE(env.contains("CTD_CONFIG_TEST_VALUE"));
  EXPECT_EQ(env.at("CTD_CONFIG_TEST_VALUE"), "a=b");
  for (const auto& [name, value] : env) EXPECT_EQ(name.rfind("CTD_", 0), 0u) << name;
}

// ---------------------------------------------------------------------------------------------
// Training: the root `training` section and each pipeline's `dataset` and `training`.

// kMinimal with two categorical features; tests append pipeline keys (indented by 4) or root
// sections from line 15.
const std::string kTrainingBase = yaml(R"(
postgres:
  dsn: postgresql://ctd@localhost/ctd
kafka:
  brokers: embedded
pipelines:
  - name: churn
    topics:
      labels: churn.labels
    features:
      - {name: tenure, type: numeric}
      - {name: plan, type: categorical}
      - {name: region, type: categorical}
    label:
      kind: binary
)");

// Every training key set; relative paths, resolved against the config file's directory.
const std::string kFullTraining = kTrainingBase + yaml(R"(
    dataset: {last_samples: 50000, last_days: 30}
    training:
      model:
        type: torchscript
        hidden: [16, 8]
        activation: gelu
        dropout: 0.25
        path: models/m.pt
      init: production
      optimizer: {name: sgd, learning_rate: 0.01, weight_decay: 1e-4, momentum: 0.9}
      epochs: 5
      batch_size: 64
      validation_fraction: 0.3
      early_stopping: {patience: 3, min_delta: 0.001}
      class_weighting: balanced
      weighted_sampling: true
      seed: 9007199254740993
      device: cuda:1
      bf16: true
      threads: 4
      slices: [plan, region]
  - name: spend
    topics: {labels: spend.labels}
    features: [{name: visits}]
    label: {kind: regression}
training:
  trainer: bin/ctd-train
  run_root: ../runs
  timeout_s: 600
  kill_grace_s: 5
  memory_limit_mb: 4096
  max_concurrent_runs: 3
  retry_abandoned: 0
)");

Options options_in(const std::string& text, const std::string& file) {
  auto result = ctd::config::parse(text, file, {});
  if (auto* errors = std::get_if<std::vector<ConfigError>>(&result)) {
    ADD_FAILURE() << "unexpected errors:" << describe(*errors);
    return {};
  }
  return std::get<Options>(result);
}

TEST(ConfigTraining, OmittedSectionsTakeDefaults) {
  const Options options = options_of(kMinimal);
  const TrainingOptions defaults;
  EXPECT_EQ(options.training.trainer, "");
  EXPECT_EQ(options.training.run_root, "/var/lib/ctd/runs");
  EXPECT_EQ(options.training.timeout, std::chrono::seconds(3600));
  EXPECT_EQ(options.training.kill_grace, std::chrono::seconds(10));
  EXPECT_EQ(options.training.memory_limit_mb, 0u);
  EXPECT_EQ(options.training.max_concurrent_runs, 2);
  EXPECT_EQ(options.training.retry_abandoned, 1);
  EXPECT_EQ(options.training.run_root, defaults.run_root);
  const auto& pipeline = options.pipelines.at(0);
  EXPECT_FALSE(pipeline.dataset.last_samples.has_value());
  EXPECT_FALSE(pipeline.dataset.last_days.has_value());
  EXPECT_EQ(pipeline.training.to_json(), RunSpec().to_json());

  // Present but empty sections are the same as absent ones.
  const Options empty = options_of(kMinimal + "    dataset: {}\n    training: {}\ntraining: {}\n");
  EXPECT_FALSE(empty.pipelines.at(0).dataset.last_samples.has_value());
  EXPECT_EQ(empty.pipelines.at(0).training.to_json(), RunSpec().to_json());
  EXPECT_EQ(empty.training.run_root, defaults.run_root);
}

TEST(ConfigTraining, EveryKeyIsRead) {
  const Options options = options_in(kFullTraining, "/etc/ctd/ctd.yaml");
  EXPECT_EQ(options.training.trainer, "/etc/ctd/bin/ctd-train");
  EXPECT_EQ(options.training.run_root, "/etc/runs");
  EXPECT_EQ(options.training.timeout, std::chrono::seconds(600));
  EXPECT_EQ(options.training.kill_grace, std::chrono::seconds(5));
  EXPECT_EQ(options.training.memory_limit_mb, 4096u);
  EXPECT_EQ(options.training.max_concurrent_runs, 3);
  EXPECT_EQ(options.training.retry_abandoned, 0);
  ASSERT_EQ(options.pipelines.size(), 2u);

  const auto& churn = options.pipelines[0];
  EXPECT_EQ(churn.dataset.last_samples, 50000);
  EXPECT_EQ(churn.dataset.last_days, 30);
  const RunSpec& spec = churn.training;
  EXPECT_EQ(spec.model.kind, ctd::trainers::ModelKind::kTorchScript);
  EXPECT_EQ(spec.model.hidden, (std::vector<int>{16, 8}));
  EXPECT_EQ(spec.model.activation, ctd::trainers::Activation::kGelu);
  EXPECT_EQ(spec.model.dropout, 0.25);
  EXPECT_EQ(spec.model.script_path, "/etc/ctd/models/m.pt");
  EXPECT_EQ(spec.init, ctd::trainers::InitKind::kProduction);
  EXPECT_EQ(spec.init_model_path, "");  // supplied per run by the daemon
  EXPECT_EQ(spec.optimizer.kind, ctd::trainers::OptimizerKind::kSgd);
  EXPECT_EQ(spec.optimizer.learning_rate, 0.01);
  EXPECT_EQ(spec.optimizer.weight_decay, 1e-4);
  EXPECT_EQ(spec.optimizer.momentum, 0.9);
  EXPECT_EQ(spec.epochs, 5);
  EXPECT_EQ(spec.batch_size, 64);
  EXPECT_EQ(spec.validation_fraction, 0.3);
  EXPECT_EQ(spec.early_stopping.patience, 3);
  EXPECT_EQ(spec.early_stopping.min_delta, 0.001);
  EXPECT_EQ(spec.class_weighting, ctd::trainers::ClassWeighting::kBalanced);
  EXPECT_TRUE(spec.weighted_sampling);
  EXPECT_EQ(spec.seed, 9007199254740993u);  // 2^53 + 1: not read through a double
  EXPECT_EQ(spec.device, "cuda:1");
  EXPECT_TRUE(spec.bf16);
  EXPECT_EQ(spec.threads, 4);
  EXPECT_EQ(spec.slices, (std::vector<std::string>{"plan", "region"}));
  EXPECT_EQ(spec.run_id, "");
  EXPECT_EQ(spec.pipeline, "");
  EXPECT_EQ(spec.code_version, "");

  EXPECT_EQ(options.pipelines[1].training.to_json(), RunSpec().to_json());
  EXPECT_FALSE(options.pipelines[1].dataset.last_days.has_value());
}

TEST(ConfigTraining, PathsAreMadeAbsolute) {
  const std::string text =
      kTrainingBase +
      "    training: {model: {type: torchscript, path: ../m.pt}}\ntraining: {run_root: /srv/r}\n";
  EXPECT_EQ(options_in(text, "/etc/ctd/ctd.yaml").pipelines[0].training.model.script_path,
            "/etc/m.pt");
  EXPECT_EQ(options_in(text, "/etc/ctd/ctd.yaml").training.run_root, "/srv/r");

  // A relative config file name: relative to the working directory.
  const std::filesystem::path cwd = std::filesystem::current_path();
  const Options relative = options_in(text, "conf/ctd.yaml");
  EXPECT_EQ(relative.pipelines[0].training.model.script_path, (cwd / "m.pt").string());
  EXPECT_EQ(options_in(text, "ctd.yaml").pipelines[0].training.model.script_path,
            (cwd.parent_path() / "m.pt").string());

  std::string absolute = text;
  absolute.replace(absolute.find("../m.pt"), 7, "/opt/models/m.pt");
  EXPECT_EQ(options_in(absolute, "/etc/ctd/ctd.yaml").pipelines[0].training.model.script_path,
            "/opt/models/m.pt");
}

TEST(ConfigTraining, RangeErrorsHavePositions) {
  const auto errors = errors_of(kTrainingBase + yaml(R"(
    dataset: {last_samples: 0, last_days: 36501}
training:
  timeout_s: 0
  kill_grace_s: 601
  memory_limit_mb: 63
  max_concurrent_runs: 65
  retry_abandoned: 11
)"));
  ASSERT_EQ(errors.size(), 7u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "pipelines[0].dataset.last_samples", 15,
                       "must be between 1 and 1000000000, got 0"));
  EXPECT_EQ(errors[0].column, 29);
  EXPECT_TRUE(HasError(errors, "pipelines[0].dataset.last_days", 15,
                       "must be between 1 and 36500, got 36501"));
  EXPECT_TRUE(HasError(errors, "training.timeout_s", 17, "must be between 1 and 604800, got 0"));
  EXPECT_TRUE(HasError(errors, "training.kill_grace_s", 18, "must be between 1 and 600, got 601"));
  EXPECT_TRUE(HasError(errors, "training.memory_limit_mb", 19,
                       "must be 0 (no limit) or between 64 and 4194304, got 63"));
  EXPECT_TRUE(
      HasError(errors, "training.max_concurrent_runs", 20, "must be between 1 and 64, got 65"));
  EXPECT_TRUE(HasError(errors, "training.retry_abandoned", 21, "must be between 0 and 10, got 11"));

  EXPECT_TRUE(HasError(errors_of(kTrainingBase + "training: {memory_limit_mb: 4194305}\n"),
                       "training.memory_limit_mb", 15, "got 4194305"));
  for (const char* limit : {"0", "64", "4194304"}) {
    EXPECT_EQ(options_of(kTrainingBase + "training: {memory_limit_mb: " + limit + "}\n")
                  .training.memory_limit_mb,
              std::stoull(limit));
  }
}

TEST(ConfigTraining, RunSpecProblemsAreReportedAtTheirKeys) {
  const auto errors = errors_of(kTrainingBase + yaml(R"(
    training:
      model:
        type: torchscript
        hidden: [16, -1]
      optimizer: {name: adm}
      epochs: 0
      device: "gpu; x: y"
)"));
  ASSERT_EQ(errors.size(), 5u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "pipelines[0].training.model.path", 17,
                       "required when model.type is torchscript"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].training.model.hidden[1]", 18, "must be positive"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].training.optimizer.name", 19,
                       "\"adm\" is not one of sgd, adam, adamw"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].training.epochs", 20, "must be in [1, 100000]"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].training.device", 21,
                       "\"gpu; x: y\" is not auto, cpu, cuda or cuda:N"));
  const auto hidden = std::find_if(errors.begin(), errors.end(), [](const ConfigError& e) {
    return e.key_path == "pipelines[0].training.model.hidden[1]";
  });
  ASSERT_NE(hidden, errors.end());
  EXPECT_EQ(hidden->column, 22);
  EXPECT_EQ(hidden->to_string(),
            "test.yaml:18:22: pipelines[0].training.model.hidden[1]: must be positive");
}

TEST(ConfigTraining, TypeErrorsAreReportedOnceAtTheValue) {
  const auto errors = errors_of(kTrainingBase + yaml(R"(
    training:
      epochs: five
      model: {type: torchscript, path: ""}
      slices: plan
      seed: -1
      bf16: yes
)"));
  ASSERT_EQ(errors.size(), 5u) << describe(errors);
  EXPECT_TRUE(
      HasError(errors, "pipelines[0].training.epochs", 16, "expected an integer, got 'five'"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].training.model.path", 17, "must not be empty"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].training.slices", 18, "expected a list, got 'plan'"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].training.seed", 19, "got -1"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].training.bf16", 20, "expected a boolean"));

  const auto not_maps = errors_of(kMinimal + "    training: [1]\n    dataset: 3\ntraining: x\n");
  ASSERT_EQ(not_maps.size(), 3u) << describe(not_maps);
  EXPECT_TRUE(HasError(not_maps, "pipelines[0].training", 15, "expected a map, got a list"));
  EXPECT_TRUE(HasError(not_maps, "pipelines[0].dataset", 16, "expected a map, got '3'"));
  EXPECT_TRUE(HasError(not_maps, "training", 17, "expected a map, got 'x'"));
}

TEST(ConfigTraining, UnknownKeysSuggestTheClosestKey) {
  const auto errors = errors_of(kTrainingBase + yaml(R"(
    training:
      epoch: 5
      model: {hiden: [8]}
      optimiser: {}
    dataset: {last_sample: 3}
training: {run_roots: /x}
)"));
  ASSERT_EQ(errors.size(), 5u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "pipelines[0].training.epoch", 16,
                       "unknown key 'epoch' (did you mean 'epochs'?)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].training.model.hiden", 17,
                       "unknown key 'hiden' (did you mean 'hidden'?)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].training.optimiser", 18,
                       "unknown key 'optimiser' (did you mean 'optimizer'?)"));
  EXPECT_TRUE(
      HasError(errors, "pipelines[0].dataset.last_sample", 19, "(did you mean 'last_samples'?)"));
  EXPECT_TRUE(HasError(errors, "training.run_roots", 20,
                       "unknown key 'run_roots' (did you mean 'run_root'?)"));
}

TEST(ConfigTraining, KeysSetPerRunByTheDaemonAreUnknown) {
  const auto errors = errors_of(kTrainingBase + yaml(R"(
    training:
      run_id: r1
      pipeline: churn
      snapshot: s.safetensors
      init_model_path: /m.pt
      code_version: abc
)"));
  ASSERT_EQ(errors.size(), 5u) << describe(errors);
  int line = 16;
  for (const char* key : {"run_id", "pipeline", "snapshot", "init_model_path", "code_version"}) {
    EXPECT_TRUE(HasError(errors, std::string("pipelines[0].training.") + key, line++,
                         std::string("unknown key '") + key + "' (valid keys: model, init,"));
  }
}

TEST(ConfigTraining, SlicesMustNameCategoricalFeatures) {
  const auto errors = errors_of(
      kTrainingBase + "    training:\n      slices: [tenure, plna, country, plan, plan]\n");
  ASSERT_EQ(errors.size(), 4u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "pipelines[0].training.slices[0]", 16,
                       "feature 'tenure' is numeric; slices must name categorical features "
                       "(categorical features: plan, region)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].training.slices[1]", 16,
                       "unknown feature 'plna' (did you mean 'plan'?)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].training.slices[2]", 16,
                       "unknown feature 'country' (categorical features: plan, region)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].training.slices[4]", 16, "duplicate slice 'plan'"));

  EXPECT_TRUE(HasError(errors_of(kMinimal + "    training: {slices: [tenure]}\n"),
                       "pipelines[0].training.slices[0]", 15,
                       "(the pipeline has no categorical features)"));
}

TEST(ConfigTraining, EnvironmentOverridesTrainerAndRunRoot) {
  const std::string text = kTrainingBase + "training: {trainer: /a/t, run_root: /a/r}\n";
  const Options options = options_of(
      text, {{"CTD_TRAINER", "/opt/ctd/ctd-train"}, {"CTD_TRAINING_RUN_ROOT", "/srv/runs"}});
  EXPECT_EQ(options.training.trainer, "/opt/ctd/ctd-train");
  EXPECT_EQ(options.training.run_root, "/srv/runs");

  // Relative values are resolved against the working directory.
  const Options relative = options_of(kTrainingBase, {{"CTD_TRAINING_RUN_ROOT", "runs"}});
  EXPECT_EQ(relative.training.run_root, (std::filesystem::current_path() / "runs").string());
  EXPECT_EQ(relative.training.trainer, "");

  EXPECT_TRUE(HasError(errors_of(kTrainingBase, {{"CTD_TRAINER", ""}}), "env CTD_TRAINER", 0,
                       "must not be empty"));
  EXPECT_TRUE(HasError(errors_of(kTrainingBase, {{"CTD_TRAINING_RUN_ROOT", ""}}),
                       "env CTD_TRAINING_RUN_ROOT", 0, "must not be empty"));
}

TEST(ConfigTraining, RenderedTrainingReadsBackToTheSameOptions) {
  const Options options = options_of(kFullTraining);
  const std::string rendered = ctd::config::render(options);
  EXPECT_NE(rendered.find("\ntraining:\n"), std::string::npos) << rendered;
  EXPECT_NE(rendered.find("slices: [plan, region]"), std::string::npos) << rendered;
  EXPECT_NE(rendered.find("weight_decay: 0.0001\n"), std::string::npos) << rendered;
  EXPECT_NE(rendered.find("init: production\n"), std::string::npos) << rendered;
  EXPECT_EQ(rendered.find("run_id"), std::string::npos) << rendered;

  const Options reread = options_of(rendered);
  EXPECT_EQ(reread.training.trainer, options.training.trainer);
  EXPECT_EQ(reread.training.run_root, options.training.run_root);
  EXPECT_EQ(reread.training.timeout, options.training.timeout);
  EXPECT_EQ(reread.training.kill_grace, options.training.kill_grace);
  EXPECT_EQ(reread.training.memory_limit_mb, options.training.memory_limit_mb);
  EXPECT_EQ(reread.training.max_concurrent_runs, options.training.max_concurrent_runs);
  EXPECT_EQ(reread.training.retry_abandoned, options.training.retry_abandoned);
  ASSERT_EQ(reread.pipelines.size(), options.pipelines.size());
  for (std::size_t i = 0; i < options.pipelines.size(); ++i) {
    EXPECT_EQ(reread.pipelines[i].dataset.last_samples, options.pipelines[i].dataset.last_samples);
    EXPECT_EQ(reread.pipelines[i].dataset.last_days, options.pipelines[i].dataset.last_days);
    EXPECT_EQ(reread.pipelines[i].training.to_json(), options.pipelines[i].training.to_json());
  }
  EXPECT_EQ(ctd::config::render(reread), rendered);

  // The defaults round-trip too (no trainer, no model path, empty dataset).
  const std::string minimal = ctd::config::render(options_of(kMinimal));
  EXPECT_EQ(minimal.find("trainer:"), std::string::npos) << minimal;
  EXPECT_EQ(options_of(minimal).pipelines[0].training.to_json(), RunSpec().to_json());
  EXPECT_EQ(ctd::config::render(options_of(minimal)), minimal);
}

TEST(ConfigErrorFormat, ToString) {
  const ConfigError positioned{"c.yaml", 7, 9, "pipelines[0].features[2].type", "bad"};
  EXPECT_EQ(positioned.to_string(), "c.yaml:7:9: pipelines[0].features[2].type: bad");
  const ConfigError unpositioned{"c.yaml", 0, 0, "env CTD_HTTP_PORT", "bad"};
  EXPECT_EQ(unpositioned.to_string(), "c.yaml: env CTD_HTTP_PORT: bad");
}

TEST(ConfigRender, MasksUriDsnPassword) {
  Options options = options_of(kMinimal);
  options.postgres.dsn = "postgresql://ctd:s3cr3t-pw@db:5432/ctd?sslmode=require&password=qp-pw";
  const std::string text = ctd::config::render(options);
  EXPECT_EQ(text.find("s3cr3t-pw"), std::string::npos) << text;
  EXPECT_EQ(text.find("qp-pw"), std::string::npos) << text;
  EXPECT_NE(text.find("postgresql://ctd:*****@db:5432/ctd?sslmode=require&password=*****"),
            std::string::npos)
      << text;
}

TEST(ConfigRender, MasksKeywordDsnPassword) {
  Options options = options_of(kMinimal);
  options.postgres.dsn = "host=db password = 'it\\'s s3cr3t' user=ctd";
  std::string text = ctd::config::render(options);
  EXPECT_EQ(text.find("s3cr3t"), std::string::npos) << text;
  EXPECT_NE(text.find("host=db password = ***** user=ctd"), std::string::npos) << text;

  options.postgres.dsn = "password=plain-secret host=db";
  text = ctd::config::render(options);
  EXPECT_EQ(text.find("plain-secret"), std::string::npos) << text;
  EXPECT_NE(text.find("password=***** host=db"), std::string::npos) << text;
}

TEST(ConfigRender, MasksSecretKafkaProperties) {
  Options options = options_of(kMinimal);
  options.kafka.properties = {{"sasl.password", "pw-1"},
                              {"sasl.oauthbearer.client.SECRET", "pw-2"},
                              {"ssl.key.pem", "pw-3"},
                              {"security.protocol", "SASL_SSL"}};
  const std::string text = ctd::config::render(options);
  for (const char* secret : {"pw-1", "pw-2", "pw-3"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << text;
  }
  EXPECT_NE(text.find("sasl.password: \"*****\""), std::string::npos) << text;
  EXPECT_NE(text.find("security.protocol: SASL_SSL"), std::string::npos) << text;
}

TEST(ConfigRender, OutputParsesBackToTheSameConfiguration) {
  std::string text;
  {
    std::ifstream in(examples_dir() / "production.yaml");
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const Environment env{{"CTD_POSTGRES_DSN", "host=db"}};
  const std::string rendered = ctd::config::render(options_of(text, env));
  EXPECT_NE(rendered.find("pipelines:"), std::string::npos);
  EXPECT_NE(rendered.find("memory_limit_mb: 16384\n"), std::string::npos) << rendered;
  EXPECT_NE(rendered.find("slices: [channel, country]\n"), std::string::npos) << rendered;
  EXPECT_EQ(ctd::config::render(options_of(rendered)), rendered);
}

TEST(ConfigRender, NumbersUseShortestForm) {
  Options options = options_of(kMinimal);
  options.pipelines[0].features[0].max = 0.1;
  const std::string text = ctd::config::render(options);
  EXPECT_NE(text.find("max: 0.1\n"), std::string::npos) << text;
}

TEST(ConfigExamples, ShippedExamplesParseWithoutErrors) {
  const auto demo = ctd::config::load((examples_dir() / "demo.yaml").string(), {});
  ASSERT_TRUE(std::holds_alternative<Options>(demo))
      << describe(std::get<std::vector<ConfigError>>(demo));
  const Options& options = std::get<Options>(demo);
  ASSERT_EQ(options.pipelines.size(), 2u);  // demo, and sea for the drift scenario
  EXPECT_EQ(options.pipelines[0].name, "demo");
  EXPECT_EQ(options.pipelines[1].name, "sea");
  ASSERT_EQ(options.pipelines[1].triggers.triggers.size(), 2u);
  EXPECT_EQ(options.pipelines[1].triggers.triggers[0].kind(), ctd::triggers::TriggerKind::kDecay);
  EXPECT_EQ(options.kafka.brokers, "embedded");
  EXPECT_EQ(options.pipelines[0].features.size(), 4u);
  EXPECT_EQ(options.training.run_root, TrainingOptions().run_root);  // the demo script sets it
  EXPECT_EQ(options.pipelines[0].training.model.hidden, std::vector<int>{16});
  EXPECT_EQ(options.pipelines[0].training.epochs, 5);
  EXPECT_EQ(options.pipelines[0].training.slices, std::vector<std::string>{"segment"});

  const auto production = ctd::config::load((examples_dir() / "production.yaml").string(),
                                            {{"CTD_POSTGRES_DSN", "host=db"}});
  ASSERT_TRUE(std::holds_alternative<Options>(production))
      << describe(std::get<std::vector<ConfigError>>(production));
  const Options& prod = std::get<Options>(production);
  EXPECT_EQ(prod.pipelines.size(), 2u);
  EXPECT_EQ(prod.training.timeout, std::chrono::seconds(7200));
  EXPECT_EQ(prod.pipelines[0].training.optimizer.kind, ctd::trainers::OptimizerKind::kAdamW);
  EXPECT_EQ(prod.pipelines[0].dataset.last_days, 90);
  EXPECT_EQ(prod.pipelines[1].training.model.kind, ctd::trainers::ModelKind::kLinear);
  EXPECT_EQ(prod.shutdown.running_training, RunningTrainingOnShutdown::kFinish);
  EXPECT_EQ(prod.shutdown.drain_timeout, std::chrono::seconds(45));
  EXPECT_EQ(prod.log.output, LogOutput::kStdout);
}

TEST(ConfigLoad, UnreadableFileIsOneError) {
  const auto result = ctd::config::load("/nonexistent/ctd.yaml", {});
  ASSERT_TRUE(std::holds_alternative<std::vector<ConfigError>>(result));
  const auto& errors = std::get<std::vector<ConfigError>>(result);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "/nonexistent/ctd.yaml");
  EXPECT_EQ(errors[0].line, 0);
  EXPECT_NE(errors[0].message.find("cannot read file"), std::string::npos);
}

}  // namespace

TEST(ConfigHttpAuth, TokensFileIsResolvedAndProtectHealthRead) {
  const Options options =
      options_of(kMinimal + "http:\n  auth: {tokens_file: secrets/tokens, protect_health: true}\n");
  EXPECT_TRUE(options.http.tokens_file.starts_with("/")) << options.http.tokens_file;
  EXPECT_TRUE(options.http.tokens_file.ends_with("/secrets/tokens")) << options.http.tokens_file;
  EXPECT_TRUE(options.http.protect_health);
  const Options defaults = options_of(kMinimal);
  EXPECT_EQ(defaults.http.tokens_file, "");
  EXPECT_FALSE(defaults.http.protect_health);
}

TEST(ConfigHttpAuth, EnvironmentOverridesTheTokensFile) {
  const Options options = options_of(kMinimal + "http:\n  auth: {tokens_file: /etc/a}\n",
                                     {{"CTD_API_TOKENS_FILE", "/run/secrets/ctd-tokens"}});
  EXPECT_EQ(options.http.tokens_file, "/run/secrets/ctd-tokens");
}

TEST(ConfigHttpAuth, UnknownKeysAndBadValuesAreErrors) {
  const auto errors =
      errors_of(kMinimal + "http:\n  auth:\n    token: x\n    protect_health: maybe\n");
  const auto has = [&errors](const std::string& key_path, const std::string& text) {
    return std::ranges::any_of(errors, [&](const ConfigError& e) {
      return e.key_path == key_path && e.message.find(text) != std::string::npos;
    });
  };
  EXPECT_TRUE(has("http.auth.token", "unknown key")) << describe(errors);
  EXPECT_TRUE(has("http.auth.protect_health", "")) << describe(errors);
}

TEST(ConfigLog, OutputDefaultsToStdoutForJsonAndStderrForText) {
  EXPECT_EQ(options_of(kMinimal).log.output, LogOutput::kStderr);
  EXPECT_EQ(options_of(kMinimal + "log: {format: text}\n").log.output, LogOutput::kStderr);
  EXPECT_EQ(options_of(kMinimal + "log: {format: json}\n").log.output, LogOutput::kStdout);
  EXPECT_EQ(options_of(kMinimal + "log: {format: json, output: stderr}\n").log.output,
            LogOutput::kStderr);
  EXPECT_EQ(options_of(kMinimal + "log: {output: stdout}\n").log.output, LogOutput::kStdout);
}

TEST(ConfigLog, BadOutputIsAnErrorAtItsKey) {
  const auto errors = errors_of(kMinimal + "log:\n  format: json\n  output: syslog\n");
  EXPECT_TRUE(HasError(errors, "log.output", 17,
                       "invalid value 'syslog', expected one of: stderr, stdout"));
}

TEST(ConfigShutdown, DefaultsCancelWithinThirtySeconds) {
  const Options options = options_of(kMinimal);
  EXPECT_EQ(options.shutdown.drain_timeout, std::chrono::seconds(30));
  EXPECT_EQ(options.shutdown.running_training, RunningTrainingOnShutdown::kCancel);
}

TEST(ConfigShutdown, EveryKeyIsRead) {
  const Options options =
      options_of(kMinimal + "shutdown:\n  drain_timeout_s: 75\n  running_training: finish\n");
  EXPECT_EQ(options.shutdown.drain_timeout, std::chrono::seconds(75));
  EXPECT_EQ(options.shutdown.running_training, RunningTrainingOnShutdown::kFinish);
}

TEST(ConfigShutdown, ErrorsNameFileLineAndKey) {
  const auto errors = errors_of(kMinimal + yaml(R"(
shutdown:
  drain_timeout_s: 0
  running_training: wait
  drain_timeout: 5
)"));
  ASSERT_EQ(errors.size(), 3u) << describe(errors);
  EXPECT_EQ(errors[0].file, "test.yaml");
  EXPECT_TRUE(HasError(errors, "shutdown.drain_timeout_s", 16, "between 1 and 3600"));
  EXPECT_TRUE(HasError(errors, "shutdown.running_training", 17,
                       "invalid value 'wait', expected one of: cancel, finish"));
  EXPECT_TRUE(HasError(errors, "shutdown.drain_timeout", 18, "did you mean 'drain_timeout_s'?"));
  EXPECT_TRUE(HasError(errors_of(kMinimal + "shutdown: {drain_timeout_s: 3601}\n"),
                       "shutdown.drain_timeout_s", 15, "between 1 and 3600"));
  EXPECT_TRUE(HasError(errors_of(kMinimal + "shutdown: {drain_timeout_s: soon}\n"),
                       "shutdown.drain_timeout_s", 15, "expected an integer"));
}

TEST(ConfigShutdown, RenderedShutdownAndLogOutputReadBack) {
  const Options options = options_of(
      kMinimal +
      "log: {format: json}\nshutdown: {drain_timeout_s: 12, running_training: finish}\n");
  const std::string rendered = ctd::config::render(options);
  EXPECT_NE(rendered.find("shutdown:\n  drain_timeout_s: 12\n  running_training: finish\n"),
            std::string::npos)
      << rendered;
  EXPECT_NE(rendered.find("  format: json\n  output: stdout\n"), std::string::npos) << rendered;
  const Options back = options_of(rendered);
  EXPECT_EQ(back.shutdown.drain_timeout, std::chrono::seconds(12));
  EXPECT_EQ(back.shutdown.running_training, RunningTrainingOnShutdown::kFinish);
  EXPECT_EQ(back.log.output, LogOutput::kStdout);
  EXPECT_EQ(ctd::config::render(back), rendered);
}

TEST(ConfigHttpTls, AbsentMeansPlainHttp) { EXPECT_FALSE(options_of(kMinimal).http.tls); }

TEST(ConfigHttpTls, FilesAreResolvedAndTheTimeoutRead) {
  const Options options =
      options_of(kMinimal +
                 "http:\n  tls:\n    cert_file: tls/server.crt\n    key_file: /etc/ctd/server.key\n"
                 "    client_ca_file: tls/clients.pem\n    handshake_timeout_s: 3\n");
  ASSERT_TRUE(options.http.tls);
  const auto& tls = *options.http.tls;
  EXPECT_TRUE(tls.cert_file.starts_with("/")) << tls.cert_file;
  EXPECT_TRUE(tls.cert_file.ends_with("/tls/server.crt")) << tls.cert_file;
  EXPECT_EQ(tls.key_file, "/etc/ctd/server.key");
  ASSERT_TRUE(tls.client_ca_file);
  EXPECT_TRUE(tls.client_ca_file->ends_with("/tls/clients.pem")) << *tls.client_ca_file;
  EXPECT_EQ(tls.handshake_timeout, std::chrono::seconds(3));

  const Options defaults =
      options_of(kMinimal + "http:\n  tls: {cert_file: /c.pem, key_file: /k.pem}\n");
  EXPECT_FALSE(defaults.http.tls->client_ca_file);
  EXPECT_EQ(defaults.http.tls->handshake_timeout, std::chrono::seconds(10));
}

TEST(ConfigHttpTls, RenderedTlsReadsBackToTheSameOptions) {
  const Options options = options_of(
      kMinimal + "http:\n  tls: {cert_file: /c.pem, key_file: /k.pem, client_ca_file: /ca.pem}\n");
  const std::string rendered = ctd::config::render(options);
  EXPECT_NE(rendered.find("cert_file: /c.pem"), std::string::npos) << rendered;
  const Options reread = options_of(rendered);
  ASSERT_TRUE(reread.http.tls);
  EXPECT_EQ(reread.http.tls->cert_file, "/c.pem");
  EXPECT_EQ(reread.http.tls->key_file, "/k.pem");
  EXPECT_EQ(reread.http.tls->client_ca_file, options.http.tls->client_ca_file);
  EXPECT_EQ(reread.http.tls->handshake_timeout, std::chrono::seconds(10));
  EXPECT_FALSE(options_of(ctd::config::render(options_of(kMinimal))).http.tls);
}

// Lines: 15 http:, 16 tls:, 17 the first key under it.
TEST(ConfigHttpTls, MissingFilesBadValuesAndUnknownKeysAreErrors) {
  auto errors = errors_of(kMinimal + "http:\n  tls:\n    cert_file: /c.pem\n");
  EXPECT_TRUE(HasError(errors, "http.tls.key_file", 17, "missing required key 'key_file'"));
  EXPECT_EQ(errors.size(), 1u) << describe(errors);

  // `tls:` with nothing under it is not plain HTTP by accident.
  errors = errors_of(kMinimal + "http:\n  tls:\n");
  EXPECT_TRUE(HasError(errors, "http.tls.cert_file", 16, "missing required key 'cert_file'"));
  EXPECT_TRUE(HasError(errors, "http.tls.key_file", 16, "missing required key 'key_file'"));

  errors = errors_of(kMinimal +
                     "http:\n  tls:\n    cert_file: /c.pem\n    key_file: \"\"\n"
                     "    handshake_timeout_s: 0\n    client_ca_fil: /ca.pem\n");
  EXPECT_TRUE(HasError(errors, "http.tls.key_file", 18, "")) << describe(errors);
  EXPECT_TRUE(HasError(errors, "http.tls.handshake_timeout_s", 19, "between 1 and 300"));
  EXPECT_TRUE(HasError(errors, "http.tls.client_ca_fil", 20, "did you mean 'client_ca_file'?"));
  EXPECT_EQ(errors.size(), 3u) << describe(errors);

  errors = errors_of(kMinimal + "http:\n  tls: [cert_file]\n");
  EXPECT_TRUE(HasError(errors, "http.tls", 16, "expected a map"));
}
