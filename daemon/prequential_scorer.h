// Prequential scoring: a pipeline's production model, loaded in-process, scores newly
// committed labeled samples before any training run uses them. The per-sample errors feed the
// performance-decay trigger (triggers::LabeledBatch::errors) and the canary and guardrail
// comparisons.
//
// A PrequentialScorer is one loaded model version: its TorchScript module on the CPU in eval
// mode, run without autograd in chunks of at most `chunk_rows` rows, and the mapping of the
// pipeline's features onto the model's input by name (daemon/model_input.h). Outputs are
// checked before they are used: shape, finiteness, and probabilities within [0, 1]; anything
// else is a ScoringError that says what the model returned.
//
// The model's input comes from the manifest embedded in the file as "ctd_manifest.json" (every
// model ctd-train saves has one, and it cannot drift from the weights); a file without one (a
// module scripted by hand) needs the manifest given to the constructor, e.g. the registry's.
//
// This header does not include LibTorch: the module sits behind a pimpl, and only
// prequential_scorer.cc, compiled into the ctd_scoring library alone, includes it.
//
// Thread-safety: immutable after construction except for the module, whose calls are
// serialised by an internal mutex: predict() and score() may be called from any thread.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/model_input.h"
#include "triggers/trigger.h"

namespace ctd::scoring {

struct ScorerOptions {
  // LibTorch's intra-op threads (torch::set_num_threads), set when a scorer is constructed.
  // The setting is process-wide: scoring must not take the cores of the I/O threads. 0 leaves
  // it as it is.
  int threads = 1;
  // Rows per forward() call; bounds the memory of one call whatever the batch size.
  std::size_t chunk_rows = 4096;
};

struct Scores {
  std::size_t rows = 0;
  std::size_t outputs = 1;          // per row: K for multiclass, else 1
  std::vector<double> predictions;  // rows * outputs: P(class 1), class probabilities or values
  std::vector<double> errors;       // per row (prediction_errors()); empty from predict()
};

class PrequentialScorer {
 public:
  // Loads `model_file` for the CPU and maps `layout` onto its input. `manifest` is used only
  // when the file embeds none. Throws ScoringError: kLoad (missing file, not TorchScript, no
  // forward method), kManifest (no usable manifest).
  PrequentialScorer(const std::filesystem::path& model_file, const triggers::FeatureLayout& layout,
                    const ScorerOptions& options = {}, const nlohmann::json& manifest = nullptr);
  ~PrequentialScorer();
  PrequentialScorer(const PrequentialScorer&) = delete;
  PrequentialScorer& operator=(const PrequentialScorer&) = delete;

  // The model's predictions for every row of `features` (laid out as the constructor's
  // layout). Throws ScoringError: kInput (batch does not match the layout), kForward.
  Scores predict(const triggers::FeatureBatchView& features) const;

  // predict() plus the per-sample errors against `labels` (one per row; else kInput).
  Scores score(const triggers::FeatureBatchView& features, std::span<const double> labels) const;
  Scores score(const triggers::LabeledBatch& batch) const;

  const ModelInput& model() const;
  const InputMapping& mapping() const;
  const nlohmann::json& manifest() const;  // the manifest the input was read from

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ctd::scoring
