// The run spec: everything ctd-train needs to know about one training run, written by the
// daemon as run_dir/spec.json. Parsed strictly (unknown keys, wrong types and out-of-range
// values are errors with the key path) so a bad spec fails before any training starts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctd::trainers {

enum class ModelKind { kLinear, kMlp, kTorchScript };
enum class Activation { kRelu, kTanh, kGelu };
enum class OptimizerKind { kSgd, kAdam, kAdamW };
enum class InitKind { kScratch, kProduction };
enum class ClassWeighting { kNone, kBalanced };  // balanced = n / (k * count of class)

struct ModelSpec {
  ModelKind kind = ModelKind::kMlp;
  std::vector<int> hidden = {64, 32};
  Activation activation = Activation::kRelu;
  double dropout = 0.0;
  std::string script_path;  // kTorchScript: the user's scripted module (relative to run dir ok)
};

struct OptimizerSpec {
  OptimizerKind kind = OptimizerKind::kAdam;
  double learning_rate = 1e-3;
  double weight_decay = 0.0;
  double momentum = 0.0;  // SGD only
};

struct EarlyStopping {
  int patience = 0;  // 0 = off: epochs without improvement of the validation metric
  double min_delta = 0.0;
};

struct RunSpec {
  std::string run_id;
  std::string pipeline;
  std::string snapshot = "snapshot.safetensors";
  ModelSpec model;
  InitKind init = InitKind::kScratch;
  std::string init_model_path;  // kProduction: the production model artifact
  OptimizerSpec optimizer;
  int epochs = 10;
  int batch_size = 256;
  double validation_fraction = 0.2;
  EarlyStopping early_stopping;
  ClassWeighting class_weighting = ClassWeighting::kNone;
  bool weighted_sampling = false;  // sample rows with probability proportional to their weight
  std::uint64_t seed = 42;
  std::string device = "auto";      // auto | cpu | cuda | cuda:N
  bool bf16 = false;                // autocast matmuls to bfloat16 on CUDA
  int threads = 0;                  // intra-op CPU threads; 0 = LibTorch's default
  std::vector<std::string> slices;  // categorical features to report metrics per value of
  std::string code_version;

  nlohmann::json to_json() const;
};

// Returns the spec, or throws std::runtime_error listing every problem ("model.hidden[1]:
// must be positive").
RunSpec parse_run_spec(const nlohmann::json& j);

}  // namespace ctd::trainers
