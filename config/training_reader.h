// Private to config/: readers of the training configuration — the root `training` section
// (how trainer processes are run) and each pipeline's `dataset` and `training` sections (which
// samples a run uses and the defaults of its run spec). They report into the MapReader's
// ErrorSink like every other section reader (see config/reader.h). Not part of the module's
// API; include config/loader.h instead.
//
// Thread-safety: pure functions over one parse's readers.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/options.h"
#include "config/reader.h"
#include "trainers/run_spec.h"

namespace ctd::config::internal {

// `path` made absolute (relative to `base`, itself absolute) and lexically normal.
std::string absolute_path(const std::string& path, const std::filesystem::path& base);

// A non-empty string read from `field` and made absolute against `base`; nullopt when absent or
// not acceptable (reported).
std::optional<std::string> read_path(ErrorSink& errors, const std::optional<Field>& field,
                                     const std::filesystem::path& base);

// Reports `name` (the list item `item` of a `slices` list) unless it names a categorical
// feature of `features` that `unique` has not seen; a misspelling gets a "did you mean". Shared
// by a pipeline's `training.slices` and `promotion.slices`.
void check_slice_feature(ErrorSink& errors, const std::string& name, const Field& item,
                         const std::vector<FeatureSpec>& features, UniqueNames& unique);

// The root key "training" of `root`. Relative paths are resolved against `config_dir`.
TrainingOptions read_training_options(const MapReader& root,
                                      const std::filesystem::path& config_dir);

// The key "dataset" of a pipeline map.
DatasetOptions read_dataset(const MapReader& pipeline);

// The key "training" of a pipeline map: the user-settable run-spec keys (internal.h's
// kRunSpecKeys), typed here and checked by trainers::parse_run_spec, whose problems are reported
// at the offending key. `slices` must name categorical `features` of the pipeline. A relative
// model.path is resolved against `config_dir`. Returns the default RunSpec when the key is
// absent or has errors.
trainers::RunSpec read_run_defaults(const MapReader& pipeline,
                                    const std::vector<FeatureSpec>& features,
                                    const std::filesystem::path& config_dir);

}  // namespace ctd::config::internal
