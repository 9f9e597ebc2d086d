#include "bench/scenario/report.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "bench/scenario/stream_data.h"

namespace ctd::bench {
namespace {

std::string fixed(std::optional<double> v, int digits = 4) {
  if (!v) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", digits, *v);
  return text;
}

std::string count(std::optional<std::int64_t> v, const char* none) {
  return v ? std::to_string(*v) : none;
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text + " ";
}

nlohmann::json optional_json(std::optional<double> v) { return v ? nlohmann::json(*v) : nullptr; }
nlohmann::json optional_json(std::optional<std::int64_t> v) {
  return v ? nlohmann::json(*v) : nullptr;
}

nlohmann::json drift_json(const DriftOutcome& d) {
  return {{"start", d.start},
          {"before", optional_json(d.before)},
          {"worst", optional_json(d.worst)},
          {"worst_at", d.worst_at},
          {"dropped", d.dropped},
          {"recovered_after", optional_json(d.recovered_after)},
          {"settled", optional_json(d.settled)},
          {"detection_delay", optional_json(d.detection_delay)}};
}

}  // namespace

nlohmann::json ScenarioReport::run_json(const ScenarioStream& stream, const PolicyRun& run) const {
  nlohmann::json j = {
      {"policy", run.policy.name},         {"description", run.policy.description},
      {"accuracy", run.accuracy},          {"retrainings", run.walk.training_starts.size()},
      {"fires", run.walk.fires},           {"training_starts", run.walk.training_starts},
      {"first_reasons", run.walk.reasons}, {"seconds", run.walk.seconds}};
  j["drifts"] = nlohmann::json::array();
  for (std::size_t i = 0; i < run.drifts.size(); ++i) {
    nlohmann::json d = drift_json(run.drifts[i]);
    d["name"] = stream.drift_names[i];
    j["drifts"].push_back(d);
  }
  return j;
}

void ScenarioReport::run_stream(const ScenarioStream& stream, Trainer& trainer, std::ostream& out) {
  const StreamData data = generate(stream.name, stream.spec, stream.samples);
  WalkOptions options = walk_;
  options.retrain = !stream.stable;
  std::vector<PolicyRun> runs;
  nlohmann::json policies = nlohmann::json::array();
  for (const PolicySpec& policy : scenario_policies(data.layout)) {
    if (stream.stable && !policy.triggered) continue;
    PolicyRun run{policy, walk(data, policy, trainer, options), 0, {}};
    run.accuracy = run.walk.prequential.accuracy(run.walk.prequential.first, data.rows()).value();
    run.drifts = drift_outcomes(run.walk.prequential, stream.drift_starts, run.walk.training_starts,
                                metrics_);
    policies.push_back(run_json(stream, run));
    runs.push_back(std::move(run));
  }
  json_["streams"][stream.name] = {{"description", stream.description},
                                   {"samples", stream.samples},
                                   {"stable", stream.stable},
                                   {"drift_starts", stream.drift_starts},
                                   {"policies", policies}};
  if (stream.stable) {
    print_stable(stream, runs, out);
    stable_[stream.name] = std::move(runs);
  } else {
    print_drifting(stream, runs, out);
    drifting_[stream.name] = std::move(runs);
  }
}

void ScenarioReport::print_drifting(const ScenarioStream& stream,
                                    const std::vector<PolicyRun>& runs, std::ostream& out) const {
  out << "\n== " << stream.name << ": " << stream.description << "; " << stream.samples
      << " samples, scored from " << walk_.train_window << ", batches of " << walk_.batch << "\n";
  out << pad("policy", 14) << pad("accuracy", 9) << pad("retrains", 9) << pad("fires", 6)
      << "seconds\n";
  for (const PolicyRun& r : runs)
    out << pad(r.policy.name, 14) << pad(fixed(r.accuracy), 9)
        << pad(std::to_string(r.walk.training_starts.size()), 9)
        << pad(std::to_string(r.walk.fires), 6) << fixed(r.walk.seconds, 1) << "\n";
  for (std::size_t i = 0; i < stream.drift_starts.size(); ++i) {
    out << "-- drift " << i + 1 << " (" << stream.drift_names[i] << ") from sample "
        << stream.drift_starts[i] << "; windows of " << metrics_.window << ", recovered = within "
        << metrics_.tolerance << " of before\n";
    out << pad("policy", 14) << pad("delay", 7) << pad("before", 7) << pad("worst", 7)
        << pad("recovered_after", 16) << "settled\n";
    for (const PolicyRun& r : runs) {
      const DriftOutcome& d = r.drifts[i];
      out << pad(r.policy.name, 14) << pad(count(d.detection_delay, "none"), 7)
          << pad(fixed(d.before), 7) << pad(fixed(d.worst), 7)
          << pad(count(d.recovered_after, "not"), 16) << fixed(d.settled) << "\n";
    }
  }
}

void ScenarioReport::print_stable(const ScenarioStream& stream, const std::vector<PolicyRun>& runs,
                                  std::ostream& out) const {
  out << "\n== " << stream.name << ": " << stream.description << "; " << stream.samples
      << " samples, the initial model throughout\n";
  out << pad("policy", 14) << pad("accuracy", 9) << pad("starts", 7) << pad("fires", 6)
      << "first fire\n";
  for (const PolicyRun& r : runs)
    out << pad(r.policy.name, 14) << pad(fixed(r.accuracy), 9)
        << pad(std::to_string(r.walk.training_starts.size()), 7)
        << pad(std::to_string(r.walk.fires), 6)
        << (r.walk.reasons.empty() ? "-" : r.walk.reasons.front()) << "\n";
}

void ScenarioReport::accuracy_targets(const std::string& stream, const std::vector<PolicyRun>& runs,
                                      std::ostream& out, nlohmann::json& targets) const {
  const PolicyRun* best = nullptr;
  for (const PolicyRun& r : runs)
    if (r.policy.periodic && (!best || r.accuracy > best->accuracy)) best = &r;
  if (!best) return;
  const double allowed = static_cast<double>(best->walk.training_starts.size()) / 3.0;
  bool any = false;
  for (const PolicyRun& r : runs) {
    if (!r.policy.triggered) continue;
    const double gap = best->accuracy - r.accuracy;
    const auto retrains = static_cast<double>(r.walk.training_starts.size());
    const bool met = gap <= 0.01 && retrains <= allowed;
    any = any || met;
    out << stream << ": " << pad(r.policy.name, 14) << (met ? "MET    " : "not met")
        << "  accuracy " << fixed(r.accuracy) << " vs best periodic " << best->policy.name << " "
        << fixed(best->accuracy) << " (gap " << fixed(gap * 100, 2) << " points, limit 1.00); "
        << r.walk.training_starts.size() << " retrainings vs " << best->walk.training_starts.size()
        << " (limit " << fixed(allowed, 1) << ")\n";
    targets.push_back({{"target", "accuracy_and_retrainings"},
                       {"stream", stream},
                       {"policy", r.policy.name},
                       {"met", met},
                       {"gap", gap},
                       {"retrainings", retrains},
                       {"best_periodic", best->policy.name},
                       {"best_accuracy", best->accuracy},
                       {"allowed_retrainings", allowed}});
  }
  out << stream << ": accuracy/retraining target " << (any ? "MET" : "NOT MET")
      << " by at least one decided policy\n";
}

void ScenarioReport::stable_targets(const std::string& stream, const std::vector<PolicyRun>& runs,
                                    std::ostream& out, nlohmann::json& targets) const {
  for (const PolicyRun& r : runs) {
    const bool met = r.walk.training_starts.empty();
    out << stream << ": " << pad(r.policy.name, 14) << (met ? "MET    " : "not met") << "  "
        << r.walk.training_starts.size() << " starts (" << r.walk.fires << " fires) on "
        << r.walk.prequential.correct.size() << " stable samples (target 0)\n";
    targets.push_back({{"target", "zero_false_fires"},
                       {"stream", stream},
                       {"policy", r.policy.name},
                       {"met", met},
                       {"starts", r.walk.training_starts.size()},
                       {"fires", r.walk.fires}});
  }
}

void ScenarioReport::print_targets(std::ostream& out) {
  nlohmann::json targets = nlohmann::json::array();
  out << "\n== targets\n";
  for (const auto& [name, runs] : drifting_) accuracy_targets(name, runs, out, targets);
  for (const auto& [name, runs] : stable_) stable_targets(name, runs, out, targets);
  json_["targets"] = targets;
}

}  // namespace ctd::bench
