// Runs the scenario benchmark's policies over its streams and reports: a table per stream
// (mean prequential accuracy, retrainings, and per drift the detection delay, accuracy before,
// worst window, samples to recover and settled accuracy; on a stable stream the starts and
// fires of the decided policies), the targets met or not with their numbers, and the
// whole as JSON.
//
// Thread-safety: none; one owner.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/scenario/metrics.h"
#include "bench/scenario/policies.h"
#include "bench/scenario/runner.h"

namespace ctd::bench {

struct PolicyRun {
  PolicySpec policy;
  WalkResult walk;
  double accuracy = 0;  // mean prequential accuracy
  std::vector<DriftOutcome> drifts;
};

class ScenarioReport {
 public:
  ScenarioReport(WalkOptions walk, MetricOptions metrics) : walk_(walk), metrics_(metrics) {}

  // Generates the stream, walks every policy that applies (only the decided ones on a stable
  // stream, without retraining) and prints the stream's tables to `out`.
  void run_stream(const ScenarioStream& stream, Trainer& trainer, std::ostream& out);
  // The targets over every stream run so far.
  void print_targets(std::ostream& out);
  nlohmann::json json() const { return json_; }

 private:
  void print_drifting(const ScenarioStream& stream, const std::vector<PolicyRun>& runs,
                      std::ostream& out) const;
  void print_stable(const ScenarioStream& stream, const std::vector<PolicyRun>& runs,
                    std::ostream& out) const;
  nlohmann::json run_json(const ScenarioStream& stream, const PolicyRun& run) const;
  // The accuracy/retraining target of each decided policy against the best periodic one.
  void accuracy_targets(const std::string& stream, const std::vector<PolicyRun>& runs,
                        std::ostream& out, nlohmann::json& targets) const;
  // The zero-fires target of each decided policy on a stable stream.
  void stable_targets(const std::string& stream, const std::vector<PolicyRun>& runs,
                      std::ostream& out, nlohmann::json& targets) const;

  WalkOptions walk_;
  MetricOptions metrics_;
  std::map<std::string, std::vector<PolicyRun>> drifting_;  // by stream
  std::map<std::string, std::vector<PolicyRun>> stable_;
  nlohmann::json json_ = nlohmann::json::object();
};

}  // namespace ctd::bench
