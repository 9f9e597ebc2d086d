// Publishing a production model into a Triton Inference Server model repository, so a serving
// stack that runs Triton picks up new versions without glue code:
//
//   <repository>/<model>/config.pbtxt     PyTorch (libtorch) backend configuration
//   <repository>/<model>/<version>/model.pt
//
// The configuration pins the served version (version_policy specific), so a rollback to an
// older version number is served too; Triton in poll or explicit mode reloads it. Inputs and
// outputs follow the TorchScript models ctd-train writes: one float32 input INPUT__0 of
// [input_width] features per row, and OUTPUT__0 of [1] per row (binary probability, regression
// value; the model returns [batch], hence a reshape to []) or [num_classes] (multiclass).
//
// Thread-safety: one publisher per repository directory at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace ctd::registry {

struct TritonModel {
  std::string name;          // the model's directory name (the pipeline name)
  std::int64_t version = 0;  // >= 1
  std::string task;          // "binary" | "multiclass" | "regression"
  int num_classes = 2;       // multiclass only
  int input_width = 0;       // numeric + categorical features, >= 1
  int max_batch_size = 256;
};

// The text of config.pbtxt for `model`. Throws std::invalid_argument for an invalid
// description: name not [a-z0-9_-]{1,63}, version < 1, input_width < 1, max_batch_size < 1,
// unknown task, or a multiclass model with num_classes < 2.
std::string triton_config(const TritonModel& model);

// Copies `artifact` to <repository>/<name>/<version>/model.pt (temp file, fsync, rename) and
// then rewrites config.pbtxt (the same way) to serve that version. Keeps the served version's
// directory and the `keep_versions - 1` highest other version directories; removes the rest.
// Throws std::invalid_argument for an invalid model description or keep_versions < 1 (before
// touching the repository), std::runtime_error on I/O failure (a missing artifact included).
void publish_to_triton(const std::filesystem::path& repository, const TritonModel& model,
                       const std::filesystem::path& artifact, int keep_versions = 3);

}  // namespace ctd::registry
