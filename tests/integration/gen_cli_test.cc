// `ctd gen`, the real binary: byte-identical output for a seed, labels in its JSON-lines
// file that obey the generator's definition, the pipeline YAML accepted by check-config,
// usage errors (exit 2), and the whole path: gen into the embedded Kafka broker, `ctd run`
// ingests it into PostgreSQL, every sample stored once with the generated label.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon/embedded_broker.h"
#include "daemon/pg.h"
#include "daemon/schema.h"
#include "tests/support/daemon_process.h"
#include "tests/support/pg_server.h"
#include "tests/support/run_program.h"
#include "tests/support/temp_dir.h"

namespace ctd::testing {
namespace {

using namespace std::chrono_literals;

RunResult ctd(std::vector<std::string> args) {
  args.insert(args.begin(), std::string(CTD_BINARY_DIR) + "/ctd");
  return run_program(args, {}, 120s);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

const std::vector<std::string> kAgrawalScenario = {"gen",
                                                   "--generator",
                                                   "agrawal",
                                                   "--samples",
                                                   "3000",
                                                   "--concept",
                                                   "2",
                                                   "--drift",
                                                   "5@1000/200",
                                                   "--drift",
                                                   "8@2000",
                                                   "--perturbation",
                                                   "0.05",
                                                   "--noise",
                                                   "0.1",
                                                   "--label-delay",
                                                   "25",
                                                   "--inferences-topic",
                                                   "a.inferences",
                                                   "--metrics-topic",
                                                   "a.metrics",
                                                   "--metric-every",
                                                   "500"};

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(GenCliTest, SameSeedSameBytesOtherSeedOtherBytes) {
  TempDir dir("ctd-gen-cli");
  const std::string a = dir.path() + "/a.jsonl", b = dir.path() + "/b.jsonl",
                    c = dir.path() + "/c.jsonl";
  for (const auto& [path, seed] : {std::pair{a, "7"}, std::pair{b, "7"}, std::pair{c, "8"}}) {
    const RunResult r = ctd(with(kAgrawalScenario, {"--seed", seed, "--out", path}));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  const std::string bytes = read_file(a);
  EXPECT_EQ(bytes, read_file(b));
  EXPECT_NE(bytes, read_file(c));
  const std::vector<nlohmann::json> lines = read_lines(a);
  std::map<std::string, int> per_topic;
  for (const nlohmann::json& line : lines) ++per_topic[line["topic"].get<std::string>()];
  EXPECT_EQ(per_topic["agrawal.labels"], 3000);
  EXPECT_EQ(per_topic["a.inferences"], 3000);
  EXPECT_EQ(per_topic["a.metrics"], 6);
  EXPECT_EQ(lines[0]["topic"], "a.inferences");
  EXPECT_EQ(lines[0]["key"], "gen-0");
  EXPECT_EQ(lines[0]["message"]["features"].size(), 9u);
}

// The file's own records obey SEA's definition: concept 1 (threshold 8) before the abrupt
// drift at record 400, concept 3 (threshold 7) from it on.
TEST(GenCliTest, FileRecordsObeyTheGeneratorDefinition) {
  TempDir dir("ctd-gen-cli");
  const std::string path = dir.path() + "/sea.jsonl";
  const RunResult r =
      ctd({"gen", "--generator", "sea", "--samples", "800", "--drift", "3@400", "--id-prefix", "s",
           "--start-time", "2026-03-01T00:00:00Z", "--event-interval-ms", "10", "--out", path});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("800 labels to sea.labels"), std::string::npos) << r.output;
  const std::vector<nlohmann::json> lines = read_lines(path);
  ASSERT_EQ(lines.size(), 800u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const nlohmann::json& m = lines[i]["message"];
    ASSERT_EQ(m["id"].get<std::string>(), fmt::format("s{}", i));
    ASSERT_EQ(m["event_time"], 1772323200000 + 10 * static_cast<std::int64_t>(i));
    const double f1 = m["features"]["f1"], f2 = m["features"]["f2"];
    const double threshold = i < 400 ? 8 : 7;
    ASSERT_EQ(m["label"], f1 + f2 <= threshold ? 1 : 0) << m.dump();
  }
}

TEST(GenCliTest, PrintedPipelinePassesCheckConfig) {
  TempDir dir("ctd-gen-cli");
  for (const char* generator : {"sea", "hyperplane", "agrawal", "stagger", "rbf"}) {
    SCOPED_TRACE(generator);
    std::vector<std::string> args = {
        "gen",  "--generator",        generator,     "--print-pipeline", "--pipeline",
        "demo", "--inferences-topic", "d.inferences"};
    if (std::string(generator) == "rbf") args = with(args, {"--classes", "4"});
    const RunResult printed = ctd(args);
    ASSERT_EQ(printed.exit_code, 0) << printed.output;
    EXPECT_NE(printed.output.find("labels: \"demo.labels\""), std::string::npos) << printed.output;
    const std::string config = dir.write("config.yaml",
                                         "postgres: {dsn: \"postgresql://ctd@localhost/ctd\"}\n"
                                         "kafka: {brokers: embedded}\n" +
                                             printed.output);
    const RunResult checked = ctd({"check-config", config});
    EXPECT_EQ(checked.exit_code, 0) << checked.output << "\n" << printed.output;
  }
}

TEST(GenCliTest, BadOptionsExitTwoWithAMessage) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"gen", "--samples", "5", "--out", "-"}, "--generator is required"},
      {{"gen", "--generator", "sine", "--samples", "5", "--out", "-"}, "unknown generator 'sine'"},
      {{"gen", "--generator", "sea", "--out", "-"}, "--samples is required"},
      {{"gen", "--generator", "sea", "--samples", "0", "--out", "-"}, "--samples"},
      {{"gen", "--generator", "sea", "--samples", "5"}, "exactly one of --out and --brokers"},
      {{"gen", "--generator", "sea", "--samples", "5", "--out", "-", "--brokers", "b:9092"},
       "exactly one of --out and --brokers"},
      {{"gen", "--generator", "sea", "--samples", "5", "--out", "-", "--perturbation", "0.1"},
       "--perturbation is not an option of the sea generator"},
      {{"gen", "--generator", "sea", "--samples", "5", "--out", "-", "--concept", "5"},
       "sea has concepts 1..4"},
      {{"gen", "--generator", "agrawal", "--samples", "5", "--out", "-", "--drift", "11@3"},
       "agrawal has concepts 1..10"},
      {{"gen", "--generator", "sea", "--samples", "5", "--out", "-", "--drift", "2@x"},
       "bad drift '2@x'"},
      {{"gen", "--generator", "sea", "--samples", "5", "--out", "-", "--drift", "2@9", "--drift",
        "3@4"},
       "ascending"},
      {{"gen", "--generator", "sea", "--samples", "5", "--out", "-", "--noise", "2"}, "--noise"},
      {{"gen", "--generator", "sea", "--samples", "5", "--out", "-", "--label-delay", "3"},
       "needs --inferences-topic"},
      {{"gen", "--generator", "sea", "--samples", "5", "--out", "-", "--rate", "0"}, "--rate"},
      {{"gen", "--generator", "sea", "--samples", "5", "--out", "-", "--seed", "-1"}, "--seed"},
      {{"gen", "--generator", "sea", "--samples", "5", "--out", "-", "--property", "a=b"},
       "--property needs --brokers"},
      {{"gen", "--generator", "sea", "--samples", "5", "--out", "-", "--start-time", "May"},
       "--start-time"},
      {{"gen", "--generator", "rbf", "--samples", "5", "--out", "-", "--classes", "1"},
       "--classes"},
      {{"gen", "--generator", "sea", "--samples", "5", "--out", "-", "--pipeline", "My P"},
       "not a pipeline name"},
      {{"gen", "--generator", "sea", "--samples", "5", "--out", "-", "--labels-topic", "a/b"},
       "'a/b' is not a topic name"},
      {{"gen", "--generator", "sea", "--samples", "5", "--out", "-", "--event-interval-ms", "inf"},
       "--event-interval-ms"},
      {{"gen", "--generator", "sea", "--samples", "5", "--out", "-", "--bogus", "1"},
       "unknown option --bogus"},
      {{"gen", "--generator", "sea", "--samples"}, "needs a value"},
  };
  for (const auto& [args, message] : cases) {
    const RunResult r = ctd(args);
    EXPECT_EQ(r.exit_code, 2) << args.back() << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << message << "\n" << r.output;
  }
  const RunResult help = ctd({"gen", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("--generator G"), std::string::npos);
  const RunResult unwritable =
      ctd({"gen", "--generator", "sea", "--samples", "5", "--out", "/nonexistent/dir/x.jsonl"});
  EXPECT_EQ(unwritable.exit_code, 1) << unwritable.output;
  EXPECT_NE(unwritable.output.find("cannot create"), std::string::npos) << unwritable.output;
}

TEST(GenCliTest, StandardOutputAndRate) {
  const auto start = std::chrono::steady_clock::now();
  const RunResult r =
      ctd({"gen", "--generator", "stagger", "--samples", "30", "--rate", "100", "--out", "-"});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GE(elapsed, 290ms) << "30 records at 100/s take 0.29 s at least";
  std::istringstream lines(r.output);
  int labels = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(R"({"topic":"stagger.labels")", 0) == 0) ++labels;
  }
  EXPECT_EQ(labels, 30) << r.output;
}

TEST(GenCliTest, UndeliverableMessagesExitOne) {
  // Nothing listens on port 1; librdkafka gives up on each message after a second.
  const RunResult r = ctd({"gen", "--generator", "sea", "--samples", "10", "--brokers",
                           "127.0.0.1:1", "--property", "message.timeout.ms=1000"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("deliver"), std::string::npos) << r.output;
  const RunResult bad = ctd({"gen", "--generator", "sea", "--samples", "10", "--brokers",
                             "127.0.0.1:1", "--property", "no.such.property=1"});
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("no.such.property"), std::string::npos) << bad.output;
  const RunResult managed = ctd({"gen", "--generator", "sea", "--samples", "10", "--brokers",
                                 "127.0.0.1:1", "--property", "acks=1"});
  EXPECT_EQ(managed.exit_code, 1) << managed.output;
  EXPECT_NE(managed.output.find("'acks' is managed by ctd"), std::string::npos) << managed.output;
}

// gen --brokers into the embedded broker; ctd run, configured with the printed pipeline,
// stores every label, inference and metric point once, with the generated labels.
TEST(GenCliTest, GeneratedStreamIsIngestedByCtdRun) {
  constexpr int kSamples = 4000;
  auto pg = PgServer::start();
  {
    pg::PgConnection connection(pg->dsn());
    schema::migrate(connection, schema::builtin_migrations());
  }
  kafka::EmbeddedBroker broker;
  for (const char* topic : {"h.labels", "h.inferences", "h.metrics"}) broker.create_topic(topic, 4);
  const std::vector<std::string> scenario = {
      "gen",          "--generator",     "hyperplane", "--samples",   "4000",  "--seed",
      "99",           "--drift",         "2@2000/500", "--magnitude", "0.001", "--noise",
      "0.05",         "--label-delay",   "100",        "--pipeline",  "h",     "--inferences-topic",
      "h.inferences", "--metrics-topic", "h.metrics"};
  const RunResult printed = ctd(with(scenario, {"--print-pipeline"}));
  ASSERT_EQ(printed.exit_code, 0) << printed.output;
  TempDir dir("ctd-gen-cli");
  const std::string expected_path = dir.path() + "/expected.jsonl";
  ASSERT_EQ(ctd(with(scenario, {"--out", expected_path})).exit_code, 0);
  const RunResult produced = ctd(with(scenario, {"--brokers", broker.bootstrap_servers()}));
  ASSERT_EQ(produced.exit_code, 0) << produced.output;

  DaemonProcess daemon(R"(
postgres: {dsn: "unused, set by CTD_POSTGRES_DSN"}
kafka:
  brokers: ")" + broker.bootstrap_servers() +
                           R"("
  group_id: gen-it
ingest: {batch_max_records: 1000, batch_max_wait_ms: 50}
)" + printed.output,
                       {{"CTD_POSTGRES_DSN", pg->dsn()}});
  ASSERT_TRUE(daemon.wait_ready(60s)) << daemon.log();
  pg::PgConnection connection(pg->dsn());
  const auto count = [&](const std::string& sql) { return connection.exec(sql).integer(0, 0); };
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline &&
         (count("SELECT count(*) FROM samples") < kSamples ||
          count("SELECT count(*) FROM inferences") < kSamples ||
          count("SELECT count(*) FROM metric_points") < 4)) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(count("SELECT count(*) FROM samples"), kSamples) << daemon.log();
  EXPECT_EQ(count("SELECT count(DISTINCT sample_id) FROM samples"), kSamples);
  EXPECT_EQ(count("SELECT count(*) FROM inferences"), kSamples);
  EXPECT_EQ(count("SELECT count(*) FROM metric_points WHERE metric = 'positive_rate'"), 4);
  EXPECT_EQ(count("SELECT count(*) FROM quarantine"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM samples s JOIN inferences i USING (sample_id) "
                  "WHERE s.kafka_partition <> i.kafka_partition"),
            0)
      << "the key (the sample id) puts a sample's label and inference in the same partition";

  std::map<std::string, int> expected_labels;
  for (const nlohmann::json& line : read_lines(expected_path)) {
    if (line["topic"] == "h.labels") expected_labels[line["key"]] = line["message"]["label"];
  }
  ASSERT_EQ(expected_labels.size(), std::size_t{kSamples});
  const pg::PgResult stored = connection.exec("SELECT sample_id, label FROM samples");
  int matching = 0;
  for (int row = 0; row < stored.rows(); ++row) {
    const std::string id(stored.text(row, 0));
    matching += expected_labels.count(id) &&
                expected_labels[id] == std::stod(std::string(stored.text(row, 1)));
  }
  EXPECT_EQ(matching, kSamples);
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait_exit(30s), 0) << daemon.log();
}

}  // namespace
}  // namespace ctd::testing
