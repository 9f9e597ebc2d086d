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
// Slices are formed from `slice_data`'s categorical values when given (the snapshot as exported,
// when `data` is it aligned to a model by align_to_model(); the rows must correspond), else
// from `data`'s.
Evaluation evaluate(torch::jit::Module& module, const Dataset& data,
                    const std::vector<std::int64_t>& rows, const std::vector<std::string>& slices,
                    torch::Device device, const Dataset* slice_data = nullptr);

// `data` re-expressed in the input layout a model was trained with (its manifest's "input":
// "numeric_features" and "categorical_features" with their vocabularies): numeric columns by
// name (a feature the snapshot lacks is missing, NaN), categorical values re-encoded with the
// model's vocabulary (absent, missing or unseen by the model: 0). Labels, weights, seqs and
// times are kept. Throws std::runtime_error on a malformed layout.
Dataset align_to_model(const Dataset& data, const nlohmann::json& input_layout);

// All features of `data` as the model input x ([n, numeric + categorical] float32, CPU).
torch::Tensor model_input(const Dataset& data);

}  // namespace ctd::trainers
