#include "daemon/prequential_scorer.h"

#include <torch/script.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>

namespace ctd::scoring {
namespace {

using Code = ScoringError::Code;

constexpr const char* kManifestFile = "ctd_manifest.json";

// c10::Error's what() carries a C++ backtrace; people need its first line.
std::string message_of(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  std::string text = c10_error != nullptr ? c10_error->what_without_backtrace() : e.what();
  const auto end = text.find('\n');
  return end == std::string::npos ? text : text.substr(0, end);
}

std::string number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

std::string shape_of(const torch::Tensor& t) {
  std::string s = "[";
  for (std::int64_t d = 0; d < t.dim(); ++d) s += (d > 0 ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

// A model file's module (CPU, eval mode) and the manifest that describes its input.
struct ModelFile {
  torch::jit::Module module;
  nlohmann::json manifest;
};

nlohmann::json choose_manifest(const std::filesystem::path& file, const std::string& embedded,
                               const nlohmann::json& given) {
  if (embedded.empty()) {
    if (given.is_null())
      throw ScoringError(Code::kManifest, file.string() + " embeds no " + kManifestFile +
                                              " and no manifest was given for it");
    return given;
  }
  auto manifest = nlohmann::json::parse(embedded, nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded())
    throw ScoringError(Code::kManifest,
                       file.string() + ": the embedded " + kManifestFile + " is not valid JSON");
  return manifest;
}

ModelFile load_model_file(const std::filesystem::path& file, const nlohmann::json& given_manifest) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(file, error))
    throw ScoringError(Code::kLoad, "model file " + file.string() + " does not exist");
  torch::jit::ExtraFilesMap extra{{kManifestFile, ""}};
  ModelFile loaded;
  try {
    loaded.module = torch::jit::load(file.string(), torch::kCPU, extra);
  } catch (const std::exception& e) {
    throw ScoringError(
        Code::kLoad, "cannot load " + file.string() + " as a TorchScript model: " + message_of(e));
  }
  if (!loaded.module.find_method("forward"))
    throw ScoringError(Code::kLoad, file.string() + " has no forward() method");
  loaded.module.eval();
  loaded.manifest = choose_manifest(file, extra[kManifestFile], given_manifest);
  return loaded;
}

ModelInput input_of(const std::filesystem::path& file, const nlohmann::json& manifest) {
  try {
    return ModelInput::from_manifest(manifest);
  } catch (const ScoringError& e) {
    throw ScoringError(e.code(), file.string() + ": " + e.what());
  }
}

std::string expected_shape(const ModelInput& model, std::int64_t rows) {
  const std::string n = std::to_string(rows);
  switch (model.task) {
    case trainers::Task::kBinary:
      return "a binary model returns P(class 1) as [" + n + "]";
    case trainers::Task::kMulticlass:
      return "a multiclass model returns class probabilities as [" + n + ", " +
             std::to_string(model.num_classes) + "]";
    case trainers::Task::kRegression:
      return "a regression model returns values as [" + n + "]";
  }
  return "";
}

bool has_expected_shape(const ModelInput& model, const torch::Tensor& t, std::int64_t rows) {
  if (model.task == trainers::Task::kMulticlass)
    return t.dim() == 2 && t.size(0) == rows && t.size(1) == model.num_classes;
  return (t.dim() == 1 && t.size(0) == rows) ||
         (t.dim() == 2 && t.size(0) == rows && t.size(1) == 1);
}

}  // namespace

struct PrequentialScorer::Impl {
  Impl(const std::filesystem::path& file, ModelFile loaded, const triggers::FeatureLayout& layout,
       const ScorerOptions& scorer_options)
      : name(file.string()),
        module(std::move(loaded.module)),
        manifest(std::move(loaded.manifest)),
        model(input_of(file, manifest)),
        mapping(model, layout),
        options(scorer_options) {}

  // forward() on one chunk of `rows` rows starting at batch row `first_row`, checked: a
  // contiguous float64 tensor of rows * outputs values.
  torch::Tensor forward(const torch::Tensor& x, std::size_t first_row, std::int64_t rows);

  std::string name;  // the model file, for messages
  std::mutex mutex;  // serialises calls into `module`
  torch::jit::Module module;
  nlohmann::json manifest;
  ModelInput model;
  InputMapping mapping;
  ScorerOptions options;
};

torch::Tensor PrequentialScorer::Impl::forward(const torch::Tensor& x, std::size_t first_row,
                                               std::int64_t rows) {
  const std::string where = "forward() of " + name + " on rows " + std::to_string(first_row) +
                            ".." + std::to_string(first_row + rows - 1);
  c10::IValue out;
  try {
    out = module.forward({x});
  } catch (const std::exception& e) {
    throw ScoringError(Code::kForward, where + " failed: " + message_of(e));
  }
  if (!out.isTensor())
    throw ScoringError(Code::kForward, where + " returned a " + out.tagKind() + ", not a tensor");
  torch::Tensor t = out.toTensor();
  if (!has_expected_shape(model, t, rows))
    throw ScoringError(Code::kForward, where + " returned shape " + shape_of(t) + "; " +
                                           expected_shape(model, rows));
  if (!t.is_floating_point())
    throw ScoringError(Code::kForward, where + " returned " +
                                           std::string(c10::toString(t.scalar_type())) +
                                           " values, not floating point");
  t = t.to(torch::kCPU, torch::kFloat64).contiguous().reshape({-1});
  const double* values = t.data_ptr<double>();
  const bool probabilities = model.task != trainers::Task::kRegression;
  const auto k = static_cast<std::int64_t>(model.outputs());
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    const double v = values[i];
    if (std::isfinite(v) && (!probabilities || (v >= 0.0 && v <= 1.0))) continue;
    const std::string row = std::to_string(first_row + static_cast<std::size_t>(i / k));
    throw ScoringError(Code::kForward, where + " returned " + number(v) + " for row " + row +
                                           (std::isfinite(v) ? ", not a probability" : ""));
  }
  return t;
}

PrequentialScorer::PrequentialScorer(const std::filesystem::path& model_file,
                                     const triggers::FeatureLayout& layout,
                                     const ScorerOptions& options, const nlohmann::json& manifest) {
  if (options.threads > 0) torch::set_num_threads(options.threads);
  impl_ =
      std::make_unique<Impl>(model_file, load_model_file(model_file, manifest), layout, options);
}

PrequentialScorer::~PrequentialScorer() = default;

Scores PrequentialScorer::predict(const triggers::FeatureBatchView& features) const {
  impl_->mapping.check(features);
  Scores scores;
  scores.rows = features.rows;
  scores.outputs = impl_->model.outputs();
  scores.predictions.resize(scores.rows * scores.outputs);
  if (scores.rows == 0) return scores;

  const std::size_t chunk = std::max<std::size_t>(1, impl_->options.chunk_rows);
  const std::size_t width = impl_->mapping.width();
  std::vector<float> x(std::max<std::size_t>(1, std::min(chunk, scores.rows) * width));
  torch::NoGradGuard no_grad;
  std::lock_guard lock(impl_->mutex);
  // The thread count is per thread under OpenMP: a scoring thread that ran LibTorch before the
  // constructor's setting would keep its own.
  const int threads = impl_->options.threads;
  if (threads > 0 && torch::get_num_threads() != threads) torch::set_num_threads(threads);
  for (std::size_t first = 0; first < scores.rows; first += chunk) {
    const std::size_t rows = std::min(chunk, scores.rows - first);
    impl_->mapping.fill(features, first, rows, std::span<float>(x.data(), rows * width));
    const torch::Tensor input = torch::from_blob(
        x.data(), {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(width)},
        torch::kFloat32);
    const torch::Tensor out = impl_->forward(input, first, static_cast<std::int64_t>(rows));
    std::copy_n(out.data_ptr<double>(), out.numel(),
                scores.predictions.begin() + static_cast<std::ptrdiff_t>(first * scores.outputs));
  }
  return scores;
}

Scores PrequentialScorer::score(const triggers::FeatureBatchView& features,
                                std::span<const double> labels) const {
  if (labels.size() != features.rows)
    throw ScoringError(Code::kInput, std::to_string(labels.size()) + " labels for " +
                                         std::to_string(features.rows) + " rows");
  Scores scores = predict(features);
  scores.errors = prediction_errors(impl_->model, scores.predictions, labels);
  return scores;
}

Scores PrequentialScorer::score(const triggers::LabeledBatch& batch) const {
  return score(batch.features, batch.labels);
}

const ModelInput& PrequentialScorer::model() const { return impl_->model; }
const InputMapping& PrequentialScorer::mapping() const { return impl_->mapping; }
const nlohmann::json& PrequentialScorer::manifest() const { return impl_->manifest; }

}  // namespace ctd::scoring
