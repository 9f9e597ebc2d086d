// ManualTrigger: retraining asked for by a person or a script through the control API or CLI,
// always with a reason. Requests queue until the engine next evaluates; several requests in
// between fire once, carrying every reason. Owned by the pipeline's Engine.
//
// Thread-safety: none (see trigger.h).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "triggers/result.h"
#include "triggers/trigger.h"

namespace ctd::triggers {

struct ManualOptions {
  std::string name = "manual";
};

class ManualTrigger final : public Trigger {
 public:
  static Result<std::unique_ptr<ManualTrigger>> create(const ManualOptions& options);

  // Queues a request. Errors when `reason` is blank (a retraining needs a stated reason).
  std::optional<Error> request(std::string reason, std::string requested_by, TimePoint at);

  const std::string& name() const override { return name_; }
  std::string_view kind() const override { return "manual"; }
  std::optional<Fire> evaluate(TimePoint now) override;
  nlohmann::json describe() const override;

 private:
  struct Request {
    std::string reason;
    std::string requested_by;
    TimePoint at;
  };
  explicit ManualTrigger(std::string name) : name_(std::move(name)) {}

  std::string name_;
  std::vector<Request> pending_;
  std::int64_t requests_total_ = 0;
};

}  // namespace ctd::triggers
