#include "daemon/gen_command.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "daemon/gen_sinks.h"
#include "daemon/record_decoder.h"
#include "generators/drift_stream.h"
#include "generators/messages.h"
#include "generators/pipeline_snippet.h"

namespace ctd::cli {
namespace {

namespace g = generators;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

constexpr const char* kGenUsage =
    R"(usage: ctd gen --generator G --samples N [options] (--out FILE.jsonl | --brokers B)
       ctd gen --generator G [options] --print-pipeline
stream:
  --generator G           sea | hyperplane | agrawal | stagger | rbf
  --samples N             records to generate (each a label, and an inference with
                          --inferences-topic)
  --concept K             initial concept: sea 1..4 (thresholds 8, 9, 7, 9.5), agrawal 1..10
                          (functions), stagger 1..3; hyperplane and rbf: any K >= 1, each a
                          different random model (default 1)
  --drift K@P[/W]         drift to concept K around record P (from 0): abrupt at P without /W,
                          otherwise a sigmoid of width W (W=1 is MOA's abrupt); repeatable,
                          positions ascending
  --noise P               flip each label with probability P (default 0)
  --seed S                random seed, an unsigned 64-bit integer (default 1)
generator options:
  hyperplane: --features D (10)  --drift-features K (2)  --magnitude M (0)  --sigma S (0.1)
  agrawal:    --perturbation P (0)
  rbf:        --features D (10)  --centroids N (50)  --classes C (2)
              --drift-centroids K (all)  --speed S (0)
messages:
  --pipeline NAME         pipeline name for --print-pipeline and default topics (default G)
  --labels-topic T        default NAME.labels
  --inferences-topic T    also send an inference per record (same id, time and features)
  --metrics-topic T       also send the labels' class shares every --metric-every labels
  --metric-every N        labels per metric point (default 1000)
  --model NAME            the metric points' model (default NAME)
  --label-delay N         send each label after the inference N records later
  --id-prefix P           sample ids P0, P1, ... (default gen-)
  --start-time T          event time of record 0: epoch ms, RFC 3339 or now
                          (default 2026-01-01T00:00:00Z)
  --event-interval-ms X   event time between records (default 1000)
output:
  --out FILE              JSON lines {"topic", "key", "message"}; - for standard output
  --brokers B             Kafka bootstrap servers (idempotent producer, acks=all, key = id)
  --property K=V          librdkafka property (repeatable), e.g. security.protocol=SSL
  --rate R                at most R records per second (default: as fast as possible)
  --print-pipeline        print the pipeline's YAML for a ctd configuration, and exit
exit status: 0 done, 1 output failed, 2 usage error
)";

struct GenOptions {
  g::StreamSpec stream;
  g::MessageOptions messages;
  std::optional<std::uint64_t> samples;
  std::optional<std::string> out, brokers, pipeline, labels_topic, inferences_topic, metrics_topic,
      model;
  std::map<std::string, std::string> properties;
  std::optional<double> rate;
  bool print_pipeline = false;
  std::set<std::string> given;  // the flags given, to check generator-specific ones
};

template <typename T>
std::optional<T> parse_number(const std::string& text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<std::int64_t> parse_start_time(const std::string& text) {
  if (text == "now") {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  if (auto ms = parse_number<std::int64_t>(text); ms && *ms >= 0) return ms;
  return ingest::parse_rfc3339_ms(text);
}

// Options only one generator (or two) understands: flag -> generators.
const std::map<std::string, std::set<g::GeneratorKind>>& generator_flags() {
  using K = g::GeneratorKind;
  static const std::map<std::string, std::set<K>> kFlags = {
      {"--features", {K::kHyperplane, K::kRbf}},
      {"--drift-features", {K::kHyperplane}},
      {"--magnitude", {K::kHyperplane}},
      {"--sigma", {K::kHyperplane}},
      {"--perturbation", {K::kAgrawal}},
      {"--centroids", {K::kRbf}},
      {"--classes", {K::kRbf}},
      {"--drift-centroids", {K::kRbf}},
      {"--speed", {K::kRbf}},
  };
  return kFlags;
}

// Sets the integer option `flag` names, if it is one; nullopt when `flag` is not one.
std::optional<std::string> apply_integer(GenOptions& o, const std::string& flag,
                                         const std::string& value) {
  const std::map<std::string, int*> ints = {
      {"--concept", &o.stream.initial_concept},
      {"--drift-features", &o.stream.generator.hyperplane.drift_features},
      {"--centroids", &o.stream.generator.rbf.centroids},
      {"--classes", &o.stream.generator.rbf.classes}};
  const std::map<std::string, std::uint64_t*> counts = {
      {"--seed", &o.stream.seed},
      {"--label-delay", &o.messages.label_delay},
      {"--metric-every", &o.messages.metric_every}};
  if (auto it = ints.find(flag); it != ints.end()) {
    const auto number = parse_number<int>(value);
    if (!number) return "bad value for " + flag + ": '" + value + "' (an integer)";
    *it->second = *number;
    return std::string();
  }
  if (auto it = counts.find(flag); it != counts.end()) {
    const auto number = parse_number<std::uint64_t>(value);
    if (!number) return "bad value for " + flag + ": '" + value + "' (an unsigned integer)";
    *it->second = *number;
    return std::string();
  }
  if (flag == "--samples") {
    const auto number = parse_number<std::uint64_t>(value);
    if (!number || *number == 0) return "bad value for --samples: '" + value + "' (at least 1)";
    o.samples = *number;
    return std::string();
  }
  if (flag == "--features" || flag == "--drift-centroids") {
    const auto number = parse_number<int>(value);
    if (!number) return "bad value for " + flag + ": '" + value + "' (an integer)";
    if (flag == "--drift-centroids") {
      o.stream.generator.rbf.drift_centroids = *number;
    } else {  // the hyperplane's or the RBF's, whichever runs
      o.stream.generator.hyperplane.features = *number;
      o.stream.generator.rbf.features = *number;
    }
    return std::string();
  }
  return std::nullopt;
}

// Sets the real-valued option `flag` names, if it is one; nullopt when `flag` is not one.
std::optional<std::string> apply_real(GenOptions& o, const std::string& flag,
                                      const std::string& value) {
  const std::map<std::string, double*> reals = {
      {"--noise", &o.stream.noise},
      {"--magnitude", &o.stream.generator.hyperplane.magnitude},
      {"--sigma", &o.stream.generator.hyperplane.sigma},
      {"--perturbation", &o.stream.generator.agrawal.perturbation},
      {"--speed", &o.stream.generator.rbf.speed},
      {"--event-interval-ms", &o.messages.event_interval_ms}};
  const auto it = reals.find(flag);
  if (it == reals.end() && flag != "--rate") return std::nullopt;
  const auto number = parse_number<double>(value);
  if (!number) return "bad value for " + flag + ": '" + value + "' (a number)";
  if (flag == "--rate") {
    if (!(*number > 0) || !std::isfinite(*number)) return "--rate must be a positive number";
    o.rate = *number;
  } else {
    *it->second = *number;
  }
  return std::string();
}

// Sets the textual option `flag` names, if it is one; nullopt when `flag` is not one.
std::optional<std::string> apply_text(GenOptions& o, const std::string& flag,
                                      const std::string& value) {
  const std::map<std::string, std::optional<std::string>*> texts = {
      {"--out", &o.out},
      {"--brokers", &o.brokers},
      {"--pipeline", &o.pipeline},
      {"--labels-topic", &o.labels_topic},
      {"--inferences-topic", &o.inferences_topic},
      {"--metrics-topic", &o.metrics_topic},
      {"--model", &o.model}};
  if (auto it = texts.find(flag); it != texts.end()) {
    if (value.empty()) return flag + " must not be empty";
    *it->second = value;
    return std::string();
  }
  if (flag == "--generator") {
    const auto kind = g::parse_generator(value);
    if (!kind) return "unknown generator '" + value + "' (sea, hyperplane, agrawal, stagger, rbf)";
    o.stream.generator.kind = *kind;
  } else if (flag == "--drift") {
    auto drift = g::parse_drift(value);
    if (auto* problem = std::get_if<std::string>(&drift)) return *problem;
    o.stream.drifts.push_back(std::get<g::Drift>(drift));
  } else if (flag == "--property") {
    const std::size_t equals = value.find('=');
    if (equals == 0 || equals == std::string::npos) return "--property takes KEY=VALUE";
    o.properties[value.substr(0, equals)] = value.substr(equals + 1);
  } else if (flag == "--id-prefix") {
    o.messages.id_prefix = value;
  } else if (flag == "--start-time") {
    const auto ms = parse_start_time(value);
    if (!ms) return "bad value for --start-time: '" + value + "' (epoch ms, RFC 3339 or now)";
    o.messages.start_time_ms = *ms;
  } else {
    return std::nullopt;
  }
  return std::string();
}

std::string apply_option(GenOptions& o, const std::string& flag, const std::string& value) {
  for (auto apply : {&apply_integer, &apply_real, &apply_text}) {
    if (std::optional<std::string> problem = apply(o, flag, value)) return *problem;
  }
  return "unknown option " + flag;
}

// Names ctd's configuration accepts: pipelines [a-z0-9_-]{1,63}, topics [a-zA-Z0-9._-]{1,249}.
bool is_name(const std::string& text, bool topic) {
  const std::size_t max = topic ? 249 : 63;
  return !text.empty() && text.size() <= max &&
         std::all_of(text.begin(), text.end(), [topic](unsigned char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                  (topic && ((c >= 'A' && c <= 'Z') || c == '.'));
         });
}

std::string check_names(const GenOptions& o, const std::string& pipeline) {
  if (!is_name(pipeline, false)) {
    return "--pipeline '" + pipeline + "' is not a pipeline name ([a-z0-9_-]{1,63})";
  }
  for (const auto* topic : {&o.labels_topic, &o.inferences_topic, &o.metrics_topic}) {
    if (*topic && !is_name(**topic, true)) {
      return "'" + **topic + "' is not a topic name ([a-zA-Z0-9._-]{1,249})";
    }
  }
  return {};
}

// The cross-option rules, once every flag is read.
std::string check(GenOptions& o) {
  if (!o.given.count("--generator")) return "--generator is required";
  const g::GeneratorKind kind = o.stream.generator.kind;
  for (const auto& [flag, kinds] : generator_flags()) {
    if (o.given.count(flag) && !kinds.count(kind)) {
      return flag + " is not an option of the " + std::string(g::to_string(kind)) + " generator";
    }
  }
  if (std::string problem = g::validate(o.stream); !problem.empty()) return problem;
  const std::string pipeline = o.pipeline.value_or(std::string(g::to_string(kind)));
  if (!o.labels_topic) o.labels_topic = pipeline + ".labels";
  if (std::string problem = check_names(o, pipeline); !problem.empty()) return problem;
  o.messages.inferences = o.inferences_topic.has_value();
  o.messages.metrics = o.metrics_topic.has_value();
  o.messages.model = o.model.value_or(pipeline);
  if (std::string problem = g::validate(o.messages); !problem.empty()) return problem;
  if (o.print_pipeline) return {};
  if (!o.samples) return "--samples is required";
  if (o.out.has_value() == o.brokers.has_value()) return "give exactly one of --out and --brokers";
  if (!o.properties.empty() && !o.brokers) return "--property needs --brokers";
  return {};
}

std::variant<GenOptions, std::string> parse(const Args& args) {
  GenOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--print-pipeline") {
      o.print_pipeline = true;
      continue;
    }
    if (i + 1 >= args.size()) return "option " + args[i] + " needs a value";
    const std::string problem = apply_option(o, args[i], args[i + 1]);
    if (!problem.empty()) return problem;
    o.given.insert(args[i]);
    ++i;
  }
  if (std::string problem = check(o); !problem.empty()) return problem;
  return o;
}

std::string topic_name(const GenOptions& o, g::Topic topic) {
  switch (topic) {
    case g::Topic::kLabels:
      return *o.labels_topic;
    case g::Topic::kInferences:
      return *o.inferences_topic;
    case g::Topic::kMetrics:
      return *o.metrics_topic;
  }
  return {};
}

// Sends every record's messages to `sink`, at most --rate records per second.
std::map<g::Topic, std::uint64_t> generate(const GenOptions& o, gen::MessageSink& sink) {
  g::DriftStream stream(o.stream);
  g::MessagePlan plan(stream.schema(), o.messages);
  std::map<g::Topic, std::uint64_t> sent;
  std::vector<g::Message> due;
  const auto send_due = [&] {
    for (const g::Message& message : due) {
      sink.send(topic_name(o, message.topic), message);
      ++sent[message.topic];
    }
    due.clear();
  };
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < *o.samples; ++i) {
    if (o.rate) {
      std::this_thread::sleep_until(start + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                std::chrono::duration<double>(i / *o.rate)));
    }
    plan.add(stream.next(), due);
    send_due();
  }
  plan.finish(due);
  send_due();
  sink.finish();
  return sent;
}

void print_summary(const GenOptions& o, const std::map<g::Topic, std::uint64_t>& sent) {
  std::cerr << "gen: " << *o.samples << " records of " << g::to_string(o.stream.generator.kind)
            << ":";
  const char* separator = " ";
  for (const auto& [topic, what] :
       {std::pair{g::Topic::kLabels, "labels"}, std::pair{g::Topic::kInferences, "inferences"},
        std::pair{g::Topic::kMetrics, "metric points"}}) {
    const auto it = sent.find(topic);
    if (it == sent.end()) continue;
    std::cerr << separator << it->second << " " << what << " to " << topic_name(o, topic);
    separator = ", ";
  }
  std::cerr << (o.brokers       ? " via " + *o.brokers
                : *o.out == "-" ? std::string(" on standard output")
                                : " in " + *o.out)
            << "\n";
}

int print_pipeline(const GenOptions& o) {
  const g::PipelineTopics topics{*o.labels_topic, o.inferences_topic, o.metrics_topic};
  std::cout << g::pipeline_yaml(
      g::schema_of(o.stream.generator),
      o.pipeline.value_or(std::string(g::to_string(o.stream.generator.kind))), topics);
  return 0;
}

}  // namespace

int gen(const Args& args) {
  if (has_flag(args, "--help") || has_flag(args, "-h")) {
    std::cout << kGenUsage;
    return 0;
  }
  auto parsed = parse(args);
  if (auto* problem = std::get_if<std::string>(&parsed)) {
    std::cerr << "gen: " << *problem << "\n" << kGenUsage;
    return kExitUsage;
  }
  const GenOptions& o = std::get<GenOptions>(parsed);
  if (o.print_pipeline) return print_pipeline(o);
  config::LogOptions log;
  log.level = "warn";  // librdkafka's problems, on stderr
  configure_logging(log);
  try {
    std::unique_ptr<gen::MessageSink> sink;
    if (o.out) {
      sink = std::make_unique<gen::JsonLinesSink>(*o.out);
    } else {
      sink = std::make_unique<gen::KafkaSink>(*o.brokers, o.properties);
    }
    print_summary(o, generate(o, *sink));
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "gen: " << e.what() << "\n";
    return kExitFailed;
  }
}

}  // namespace ctd::cli
