// A pipeline's production model, loaded in-process for prequential scoring
// (daemon/prequential_scorer.h) and kept in step with the registry's production alias.
//
// refresh() asks the registry which version is production and loads it when that changed: the
// artifact is checked against its hash first (Registry::verified_artifact), the manifest is the
// one embedded in the file or else the registry's copy. A version that cannot be loaded leaves
// NO model loaded (scoring with the version it replaced would blame that version's errors on
// production), its error is kept, and it is not tried again until production moves. When no
// version is production, none is loaded.
//
// The loaded model is handed out as a shared_ptr and replaced under a mutex, so a thread that
// scores with it is never blocked by a reload, and a reload never frees a model in use.
//
// Thread-safety: refresh() from one thread at a time; current() and describe() from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/prequential_scorer.h"
#include "registry/registry.h"

namespace ctd::scoring {

// One loaded production version.
struct LoadedModel {
  LoadedModel(int v, std::string sha256, const std::filesystem::path& file,
              const triggers::FeatureLayout& layout, const ScorerOptions& options,
              const nlohmann::json& manifest)
      : version(v), artifact_sha256(std::move(sha256)), scorer(file, layout, options, manifest) {}
  int version;
  std::string artifact_sha256;
  PrequentialScorer scorer;
};

struct RefreshResult {
  enum class Change {
    kUnchanged,  // production is the version last acted on (loaded, refused, or none)
    kLoaded,     // production moved and the new version is loaded
    kFailed,     // production moved and the new version cannot be loaded: none is loaded
    kUnloaded,   // no version is production any more
  };
  Change change = Change::kUnchanged;
  std::optional<int> version;           // the production version (loaded or not)
  std::optional<int> previous_version;  // the version loaded before this refresh
  std::string error;                    // why `version` is not loaded (kFailed, kUnchanged)
};

class ProductionModel {
 public:
  ProductionModel(registry::Registry& registry, std::string model, triggers::FeatureLayout layout,
                  ScorerOptions options = {});

  // Follows the production alias (see above). Registry errors reading the alias propagate;
  // errors loading the model are reported in the result.
  RefreshResult refresh();

  std::shared_ptr<const LoadedModel> current() const;  // null when none is loaded
  // {"model", "version" (null when none), "failed_version" (when refused), "error" (or null)}
  nlohmann::json describe() const;

 private:
  registry::Registry& registry_;
  std::string model_;
  triggers::FeatureLayout layout_;
  ScorerOptions options_;
  // The production version refresh() last acted on, loaded or refused.
  std::optional<int> seen_version_;

  mutable std::mutex mutex_;
  std::shared_ptr<const LoadedModel> loaded_;  // guarded by mutex_
  std::optional<int> failed_version_;          // guarded by mutex_
  std::string error_;                          // guarded by mutex_
};

}  // namespace ctd::scoring
