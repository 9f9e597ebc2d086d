// Building the registry and the promotion service from the configuration: shared by the
// daemon and the `ctd train` / `ctd registry` commands.
#pragma once

#include <filesystem>
#include <memory>

#include "config/options.h"
#include "daemon/promotion_service.h"
#include "daemon/training_service.h"
#include "registry/artifact_store.h"
#include "registry/registry.h"

namespace ctd::wiring {

// The ctd-train to run: training.trainer, else the one beside the running executable.
std::filesystem::path trainer_path(const config::TrainingOptions& training);

struct RegistryParts {
  explicit RegistryParts(const config::Options& options);
  registry::ArtifactStore artifacts;
  registry::Registry registry;
};

// How training runs are executed, from the `training` section.
training::TrainingSettings training_settings(const config::TrainingOptions& training);

// A version in one line of JSON, as `ctd registry list` and GET /v1/models/{m}/versions show
// it: number, status, artifact, run, samples, whether it passed the gate, creation time.
nlohmann::json version_summary(const registry::ModelVersion& v);

// Evaluations run under training.run_root/evaluations with the training timeouts.
promotion::PromotionSettings promotion_settings(const config::Options& options);

}  // namespace ctd::wiring
