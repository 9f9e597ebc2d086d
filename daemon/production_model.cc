#include "daemon/production_model.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace ctd::scoring {

ProductionModel::ProductionModel(registry::Registry& registry, std::string model,
                                 triggers::FeatureLayout layout, ScorerOptions options)
    : registry_(registry),
      model_(std::move(model)),
      layout_(std::move(layout)),
      options_(options) {}

RefreshResult ProductionModel::refresh() {
  const auto production = registry_.production(model_);
  RefreshResult result;
  result.version = production ? std::optional<int>(production->version) : std::nullopt;
  std::shared_ptr<const LoadedModel> previous;
  {
    std::lock_guard lock(mutex_);
    previous = loaded_;
    result.error = error_;
  }
  if (previous) result.previous_version = previous->version;
  if (result.version == seen_version_) return result;
  seen_version_ = result.version;

  std::shared_ptr<const LoadedModel> loaded;
  result.error.clear();
  if (production) {
    try {
      loaded = std::make_shared<const LoadedModel>(production->version, production->artifact_sha256,
                                                   registry_.verified_artifact(*production),
                                                   layout_, options_, production->manifest);
    } catch (const std::exception& e) {
      result.error = "cannot load version " + std::to_string(production->version) + " of " +
                     model_ + " for scoring: " + e.what();
    }
  }
  result.change = loaded       ? RefreshResult::Change::kLoaded
                  : production ? RefreshResult::Change::kFailed
                  : previous   ? RefreshResult::Change::kUnloaded
                               : RefreshResult::Change::kUnchanged;
  {
    std::lock_guard lock(mutex_);
    loaded_ = loaded;
    failed_version_ = loaded ? std::nullopt : result.version;
    error_ = result.error;
  }
  if (!result.error.empty())
    spdlog::error("{}; prequential scoring pauses until production moves", result.error);
  else if (loaded)
    spdlog::info("{}: prequential scoring with production version {}", model_, loaded->version);
  return result;
}

std::shared_ptr<const LoadedModel> ProductionModel::current() const {
  std::lock_guard lock(mutex_);
  return loaded_;
}

nlohmann::json ProductionModel::describe() const {
  std::lock_guard lock(mutex_);
  nlohmann::json j = {{"model", model_},
                      {"version", loaded_ ? nlohmann::json(loaded_->version) : nullptr},
                      {"error", error_.empty() ? nlohmann::json(nullptr) : nlohmann::json(error_)}};
  if (failed_version_) j["failed_version"] = *failed_version_;
  return j;
}

}  // namespace ctd::scoring
