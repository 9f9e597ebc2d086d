#include "daemon/production_model.h"

#include <utility>

namespace ctd::scoring {

std::string_view change_name(RefreshResult::Change change) {
  switch (change) {
    case RefreshResult::Change::kUnchanged:
      return "unchanged";
    case RefreshResult::Change::kLoaded:
      return "loaded";
    case RefreshResult::Change::kUnloaded:
      return "unloaded";
    case RefreshResult::Change::kFailed:
      return "failed";
  }
  return "unchanged";
}

ProductionModel::ProductionModel(registry::Registry& registry, std::string model,
                                 triggers::FeatureLayout layout, ScorerOptions options)
    : registry_(registry),
      model_(std::move(model)),
      layout_(std::move(layout)),
      options_(options) {}

RefreshResult ProductionModel::refresh() {
  std::lock_guard refreshing(refresh_mutex_);
  const std::optional<registry::ModelVersion> production = registry_.production(model_);

  RefreshResult result;
  std::shared_ptr<const LoadedModel> loaded = current();
  if (loaded) result.previous_version = loaded->version;
  if (!production) {
    std::lock_guard lock(mutex_);
    failure_.reset();
    if (!current_) return result;
    current_.reset();
    result.change = RefreshResult::Change::kUnloaded;
    return result;
  }

  result.version = production->version;
  if (loaded && loaded->version == production->version &&
      loaded->artifact_sha256 == production->artifact_sha256)
    return result;
  {
    std::lock_guard lock(mutex_);
    if (failure_ && failure_->version == production->version &&
        failure_->artifact_sha256 == production->artifact_sha256) {
      result.error = failure_->error;
      return result;
    }
  }

  // Loading takes a while (hashing the artifact, deserialising the module): current() keeps
  // answering with the old version meanwhile.
  std::shared_ptr<const LoadedModel> next;
  try {
    const std::filesystem::path file = registry_.verified_artifact(*production);
    next = std::make_shared<const LoadedModel>(production->version, production->artifact_sha256,
                                               file, layout_, options_, production->manifest);
  } catch (const std::exception& e) {
    result.error = std::string("cannot load version ") + std::to_string(production->version) +
                   " of " + model_ + " for scoring: " + e.what();
  }

  std::lock_guard lock(mutex_);
  current_ = next;
  if (next) {
    failure_.reset();
    result.change = RefreshResult::Change::kLoaded;
  } else {
    failure_ = Failure{production->version, production->artifact_sha256, result.error};
    result.change = RefreshResult::Change::kFailed;
  }
  return result;
}

std::shared_ptr<const LoadedModel> ProductionModel::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

nlohmann::json ProductionModel::describe() const {
  std::lock_guard lock(mutex_);
  nlohmann::json j = {{"model", model_},
                      {"version", nullptr},
                      {"artifact_sha256", nullptr},
                      {"failed_version", nullptr},
                      {"error", nullptr}};
  if (current_) {
    j["version"] = current_->version;
    j["artifact_sha256"] = current_->artifact_sha256;
  }
  if (failure_) {
    j["failed_version"] = failure_->version;
    j["error"] = failure_->error;
  }
  return j;
}

}  // namespace ctd::scoring
