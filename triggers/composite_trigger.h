// CompositeTrigger: fires when enough of its child triggers have fired recently — any one of
// them, all of them, or at least N — e.g. "new data AND decay", "2 of 3 decay criteria".
// Owns its children; they are configured only inside the composite (the engine sees the
// composite, not them).
//
// Meaning over time: a child's condition is consumed when it fires (Trigger::evaluate), so
// "all" cannot mean "all hold at this instant". Instead each child's latest fire is remembered
// — by default until the composite fires or a training starts (that training answers it), or
// for at most `window` when set (0: the children must fire in the same evaluation). The
// composite fires when at least `required()` distinct children have a remembered fire, then
// consumes them all. Its evidence holds every child fire it combines.
//
// Events go to every child. Children that are not ready() are not evaluated; the composite is
// ready when at least `required()` children are.
//
// Thread-safety: none (see trigger.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "triggers/result.h"
#include "triggers/trigger.h"

namespace ctd::triggers {

enum class CompositeMode { kAny, kAll, kAtLeast };
std::string_view to_string(CompositeMode mode);

struct CompositeOptions {
  std::string name;
  CompositeMode mode = CompositeMode::kAny;
  std::int64_t at_least = 1;  // kAtLeast: how many children
  // How long a child's fire counts; unset: until the composite fires or a training starts.
  std::optional<std::chrono::seconds> window;
};

class CompositeTrigger final : public Trigger {
 public:
  static Result<std::unique_ptr<CompositeTrigger>> create(
      const CompositeOptions& options, std::vector<std::unique_ptr<Trigger>> children);

  const std::string& name() const override { return options_.name; }
  std::string_view kind() const override { return "composite"; }
  void on_labels(const LabeledBatch& batch) override;
  void on_inferences(const InferenceBatch& batch) override;
  void on_metric(const MetricPoint& point) override;
  void on_model_promoted(const ModelContext& model) override;
  void on_training_started(TimePoint at) override;
  bool ready() const override;
  std::optional<Fire> evaluate(TimePoint now) override;
  nlohmann::json describe() const override;

  // How many distinct children must have fired.
  std::size_t required() const;

 private:
  CompositeTrigger(CompositeOptions options, std::vector<std::unique_ptr<Trigger>> children)
      : options_(std::move(options)), children_(std::move(children)) {}
  void forget_expired(TimePoint now);
  Fire combine(TimePoint now);
  nlohmann::json window_json() const;  // seconds, or null when unset

  CompositeOptions options_;
  std::vector<std::unique_ptr<Trigger>> children_;
  std::map<std::string, Fire> remembered_;  // child name -> its latest fire
};

}  // namespace ctd::triggers
