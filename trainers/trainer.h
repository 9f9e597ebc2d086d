// One training run of ctd-train: from a run spec and a dataset snapshot to a trained
// TorchScript module, its validation metrics and progress reported as JSON lines.
//
// Runs on the calling thread (plus one batch-staging thread on CUDA). Includes LibTorch: only
// trainers/ translation units may include it.
#pragma once

#include <torch/script.h>

#include <functional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "trainers/run_spec.h"
#include "trainers/snapshot.h"

namespace ctd::trainers {

// A run that cannot go on (non-finite loss, gradients or weights; an unusable model; a
// dataset without training rows). `code` is stable ("non_finite", "invalid_model",
// "empty_dataset", ...); what() says what happened, with the numbers.
class TrainingFailure : public std::runtime_error {
 public:
  TrainingFailure(std::string code, const std::string& what)
      : std::runtime_error(what), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

using ProgressFn = std::function<void(const nlohmann::json&)>;

struct TrainResult {
  torch::jit::Module model;
  nlohmann::json metrics;  // {"validation": {...}, "slices": {...}, "best_epoch": ..., ...}
  std::string device;      // e.g. "cpu", "cuda:0"
  std::int64_t train_rows = 0, validation_rows = 0;
};

// "auto" → cuda when LibTorch sees a GPU, else cpu. Throws TrainingFailure for a CUDA device
// that is not there.
torch::Device resolve_device(const std::string& requested);

TrainResult train(const RunSpec& spec, const Dataset& data, const ProgressFn& progress);

// Scores `data` with `module` (forward) in eval mode; returns the predictions as the flat
// layout evaluate_predictions() takes, and the metrics overall and per slice feature.
struct Evaluation {
  std::vector<float> scores;
  nlohmann::json metrics;
};
Evaluation evaluate(torch::jit::Module& module, const Dataset& data,
                    const std::vector<std::int64_t>& rows, const std::vector<std::string>& slices,
                    torch::Device device);

// All features of `data` as the model input x ([n, numeric + categorical] float32, CPU).
torch::Tensor model_input(const Dataset& data);

}  // namespace ctd::trainers
