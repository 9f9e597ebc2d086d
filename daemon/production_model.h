// The production version of one pipeline's model, loaded in-process for prequential scoring
// (daemon/prequential_scorer.h) and swapped when the registry's production alias moves.
//
// The orchestration loop calls refresh() when it hears NOTIFY ctd_model_events and every so
// often in case it missed one; refresh() asks the registry which version is production and
// loads it (verified artifact, registry manifest as the fallback for files without an embedded
// one) only when that is not the version already loaded. Scoring threads take current() and
// keep the shared pointer while they score a batch, so a swap never waits for them and never
// pulls a model from under them.
//
// A production version that cannot be loaded (corrupt artifact, not TorchScript, no usable
// manifest) leaves nothing loaded rather than the previous version: prequential errors must be
// the production model's or none. The failure is sticky for that version (it is not reloaded on
// every refresh) and shows in refresh() and describe(); the next move of production tries again.
//
// Thread-safety: all methods may be called from any thread. refresh() calls are serialised;
// current() and describe() never wait for a model to load.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "daemon/prequential_scorer.h"
#include "registry/registry.h"
#include "triggers/trigger.h"

namespace ctd::scoring {

// One loaded model version.
struct LoadedModel {
  LoadedModel(int version, std::string artifact_sha256, const std::filesystem::path& file,
              const triggers::FeatureLayout& layout, const ScorerOptions& options,
              const nlohmann::json& manifest)
      : version(version),
        artifact_sha256(std::move(artifact_sha256)),
        scorer(file, layout, options, manifest) {}

  const int version;
  const std::string artifact_sha256;
  const PrequentialScorer scorer;
};

struct RefreshResult {
  enum class Change {
    kUnchanged,  // the loaded version (or the failed one, or none) is still production
    kLoaded,     // a new production version is loaded
    kUnloaded,   // there is no production version any more
    kFailed,     // the new production version cannot be loaded; nothing is loaded
  };
  Change change = Change::kUnchanged;
  std::optional<int> version;           // the production version now, loaded or not
  std::optional<int> previous_version;  // the version loaded before this refresh
  std::string error;  // why the production version cannot be scored; empty when it can
};
std::string_view change_name(RefreshResult::Change change);  // "unchanged", "loaded", ...

class ProductionModel {
 public:
  // `model`: the pipeline's name in the registry; `layout`: its batches' feature layout.
  ProductionModel(registry::Registry& registry, std::string model, triggers::FeatureLayout layout,
                  ScorerOptions options = {});
  ProductionModel(const ProductionModel&) = delete;
  ProductionModel& operator=(const ProductionModel&) = delete;

  // Loads the production version if it is not the one loaded (or the one that failed). Blocks
  // while it loads. Database errors come out as pg::PgError and change nothing.
  RefreshResult refresh();

  // The loaded production version; null when there is none or it failed to load.
  std::shared_ptr<const LoadedModel> current() const;

  // {"model", "version" (null when none is loaded), "artifact_sha256", "failed_version",
  // "error"} for the API and health reports.
  nlohmann::json describe() const;

 private:
  struct Failure {
    int version = 0;
    std::string artifact_sha256;
    std::string error;
  };

  registry::Registry& registry_;
  const std::string model_;
  const triggers::FeatureLayout layout_;
  const ScorerOptions options_;
  std::mutex refresh_mutex_;  // one refresh at a time; held while a model loads
  mutable std::mutex mutex_;  // guards current_ and failure_; never held while loading
  std::shared_ptr<const LoadedModel> current_;
  std::optional<Failure> failure_;
};

}  // namespace ctd::scoring
