// The models ctd-train trains, as TorchScript modules so that artifacts load anywhere
// (torch.jit.load, LibTorch, Triton's PyTorch backend, TorchServe).
//
// Every model takes one float32 input x of shape [n, numeric + categorical]: the numeric
// features in snapshot order (NaN for a missing value), then each categorical feature's
// vocabulary code (0 = missing or unknown). Its methods:
//   logits(x)   raw scores: [n, 1] for binary and regression, [n, K] for multiclass
//   forward(x)  what serving wants: P(class 1) [n] (binary), class probabilities [n, K]
//               (multiclass), predicted value [n] (regression)
// Built-in models bake feature standardisation (training-split mean and std; missing values
// become the mean) and categorical embeddings into the module. A user's TorchScript module must
// accept the same x; ctd-train trains its `logits` method when it has one, else `forward`, whose
// output is then taken as logits.
//
// This header includes LibTorch: only trainers/ translation units may include it.
#pragma once

#include <torch/script.h>

#include <string>
#include <vector>

#include "trainers/run_spec.h"
#include "trainers/snapshot.h"

namespace ctd::trainers {

struct Standardisation {
  std::vector<float> mean;     // per numeric feature
  std::vector<float> inv_std;  // 1 / std, 1 where the std is 0 or undefined
};

// Mean and std of each numeric column over `rows`, ignoring missing values.
Standardisation fit_standardisation(const Dataset& data, const std::vector<std::int64_t>& rows);

// A fresh linear or MLP module for `info`'s features and task, initialised from the current
// torch seed (uniform ±1/sqrt(fan_in), as torch.nn.Linear).
torch::jit::Module build_model(const ModelSpec& spec, const SnapshotInfo& info,
                               const Standardisation& standardisation);

// Copies every parameter and buffer of `from` into `into` whose name matches; where shapes
// differ only in the first dimension (an embedding table whose vocabulary grew) the common
// rows are copied. Returns the names copied.
std::vector<std::string> copy_matching_state(const torch::jit::Module& from,
                                             torch::jit::Module& into);

// The method to train: "logits" when the module has one, else "forward".
std::string training_method(const torch::jit::Module& module);

}  // namespace ctd::trainers
