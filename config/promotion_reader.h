// Private to config/: readers of the model registry's configuration — each pipeline's
// `promotion` section (how a candidate is judged against production: registry/gate.h) and the
// root `registry` section (where artifacts are kept and published). They report into the
// MapReader's ErrorSink like every other section reader (see config/reader.h). Not part of the
// module's API; include config/loader.h instead.
//
// Thread-safety: pure functions over one parse's readers.
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "config/options.h"
#include "config/reader.h"

namespace ctd::config::internal {

// The key "promotion" of a pipeline map; the defaults when it is absent. The metric must be one
// that ctd-train reports for `label_kind` (default: the task's primary metric), and the
// direction defaults to the metric's. `slices` must name categorical `features`. When the
// label kind could not be read (nullopt; already reported), the metric name is not judged.
PromotionOptions read_promotion(const MapReader& pipeline, const std::vector<FeatureSpec>& features,
                                std::optional<LabelKind> label_kind);

// The root key "registry" of `root`. Relative paths are resolved against `config_dir`.
RegistryOptions read_registry_options(const MapReader& root,
                                      const std::filesystem::path& config_dir);

}  // namespace ctd::config::internal
