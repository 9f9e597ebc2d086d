#include "trainers/trainer.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "trainers/eval_metrics.h"
#include "trainers/model.h"

namespace ctd::trainers {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::int64_t kEvalChunk = 65536;
constexpr auto kProgressInterval = std::chrono::seconds(1);
constexpr int kCudaCheckEvery = 20;  // steps between finiteness checks (each one syncs the GPU)

torch::Tensor rows_tensor(const std::vector<std::int64_t>& rows) {
  return torch::tensor(rows, torch::kInt64);
}

// Feeds batches of (x, y, w) in a given row order. On CUDA a staging thread gathers the next
// batches into pinned host memory while the GPU computes, and they are copied non-blocking.
class BatchFeeder {
 public:
  struct Batch {
    torch::Tensor x, y, w;
  };

  BatchFeeder(torch::Tensor x, torch::Tensor y, torch::Tensor w, torch::Device device)
      : x_(std::move(x)), y_(std::move(y)), w_(std::move(w)), device_(device) {}
  ~BatchFeeder() { stop(); }

  void start_epoch(torch::Tensor order, std::int64_t batch_size) {
    stop();
    order_ = std::move(order);
    batch_size_ = batch_size;
    next_ = 0;
    if (device_.is_cuda()) {
      stopping_ = false;
      stager_ = std::thread([this] { stage_all(); });
    }
  }

  std::optional<Batch> next() {
    if (!device_.is_cuda()) {
      if (next_ >= order_.size(0)) return std::nullopt;
      Batch b = gather(next_, false);
      next_ += batch_size_;
      return b;
    }
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !queue_.empty() || staged_all_; });
    if (queue_.empty()) return std::nullopt;
    Batch pinned = std::move(queue_.front());
    queue_.pop_front();
    space_.notify_one();
    lock.unlock();
    return Batch{pinned.x.to(device_, /*non_blocking=*/true),
                 pinned.y.to(device_, /*non_blocking=*/true),
                 pinned.w.to(device_, /*non_blocking=*/true)};
  }

 private:
  static constexpr std::size_t kQueueDepth = 3;

  Batch gather(std::int64_t begin, bool pinned) {
    const auto len = std::min(batch_size_, order_.size(0) - begin);
    const auto idx = order_.narrow(0, begin, len);
    if (!pinned) return {x_.index_select(0, idx), y_.index_select(0, idx), w_.index_select(0, idx)};
    auto options = [](const torch::Tensor& t) { return t.options().pinned_memory(true); };
    Batch b{torch::empty({len, x_.size(1)}, options(x_)), torch::empty({len}, options(y_)),
            torch::empty({len}, options(w_))};
    torch::index_select_out(b.x, x_, 0, idx);
    torch::index_select_out(b.y, y_, 0, idx);
    torch::index_select_out(b.w, w_, 0, idx);
    return b;
  }

  void stage_all() {
    for (std::int64_t begin = 0; begin < order_.size(0); begin += batch_size_) {
      Batch b = gather(begin, true);
      std::unique_lock lock(mutex_);
      space_.wait(lock, [&] { return queue_.size() < kQueueDepth || stopping_; });
      if (stopping_) return;
      queue_.push_back(std::move(b));
      ready_.notify_one();
    }
    std::lock_guard lock(mutex_);
    staged_all_ = true;
    ready_.notify_one();
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    space_.notify_all();
    if (stager_.joinable()) stager_.join();
    queue_.clear();
    staged_all_ = false;
  }

  torch::Tensor x_, y_, w_, order_;
  torch::Device device_;
  std::int64_t batch_size_ = 1, next_ = 0;
  std::thread stager_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<Batch> queue_;
  bool staged_all_ = false, stopping_ = false;
};

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerSpec& o,
                                                        std::vector<torch::Tensor> params) {
  switch (o.kind) {
    case OptimizerKind::kSgd:
      return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(o.learning_rate)
                                                             .momentum(o.momentum)
                                                             .weight_decay(o.weight_decay));
    case OptimizerKind::kAdam:
      return std::make_unique<torch::optim::Adam>(
          params, torch::optim::AdamOptions(o.learning_rate).weight_decay(o.weight_decay));
    case OptimizerKind::kAdamW:
      return std::make_unique<torch::optim::AdamW>(
          params, torch::optim::AdamWOptions(o.learning_rate).weight_decay(o.weight_decay));
  }
  return nullptr;
}

// Per-sample loss of raw model output z against labels y.
torch::Tensor per_sample_loss(Task task, const torch::Tensor& z, const torch::Tensor& y) {
  switch (task) {
    case Task::kBinary:
      return torch::binary_cross_entropy_with_logits(z.reshape({-1}), y, {}, {},
                                                     at::Reduction::None);
    case Task::kMulticlass:
      return torch::nll_loss(torch::log_softmax(z, 1), y.to(torch::kInt64), {},
                             at::Reduction::None);
    case Task::kRegression:
      return (z.reshape({-1}) - y).pow(2);
  }
  return {};
}

torch::Tensor class_weights(const RunSpec& spec, const Dataset& data,
                            const std::vector<std::int64_t>& rows) {
  if (spec.class_weighting == ClassWeighting::kNone || data.info.task == Task::kRegression)
    return {};
  const int k = data.info.num_classes;
  std::vector<double> counts(k);
  for (auto r : rows) counts[static_cast<int>(data.labels[r])] += 1;
  std::vector<float> weights(k);
  for (int c = 0; c < k; ++c)
    weights[c] = counts[c] > 0 ? static_cast<float>(rows.size() / (k * counts[c])) : 0.0f;
  return torch::tensor(weights);
}

void check_finite(const torch::Tensor& t, const std::string& what, int epoch, std::int64_t step) {
  if (!torch::isfinite(t).all().item<bool>())
    throw TrainingFailure("non_finite", what + " is NaN or infinite at epoch " +
                                            std::to_string(epoch) + ", step " +
                                            std::to_string(step));
}

std::vector<torch::Tensor> snapshot_state(torch::jit::Module& m) {
  std::vector<torch::Tensor> state;
  for (const auto& p : m.parameters()) state.push_back(p.detach().clone());
  return state;
}

void restore_state(torch::jit::Module& m, const std::vector<torch::Tensor>& state) {
  torch::NoGradGuard no_grad;
  std::size_t i = 0;
  for (auto p : m.parameters()) p.copy_(state[i++]);
}

torch::jit::Module load_module(const std::string& path, const std::string& what) {
  try {
    return torch::jit::load(path, torch::kCPU);
  } catch (const c10::Error& e) {
    throw TrainingFailure("invalid_model",
                          "cannot load " + what + " " + path + ": " + e.what_without_backtrace());
  }
}

torch::jit::Module initial_model(const RunSpec& spec, const Dataset& data,
                                 const std::vector<std::int64_t>& train_rows,
                                 const ProgressFn& progress) {
  if (spec.model.kind == ModelKind::kTorchScript) {
    torch::jit::Module m = load_module(spec.model.script_path, "user model");
    if (spec.init == InitKind::kProduction)
      copy_matching_state(load_module(spec.init_model_path, "production model"), m);
    return m;
  }
  torch::jit::Module m = build_model(spec.model, data.info, fit_standardisation(data, train_rows));
  if (spec.init == InitKind::kProduction) {
    const auto copied =
        copy_matching_state(load_module(spec.init_model_path, "production model"), m);
    progress({{"phase", "warm_start"}, {"from", spec.init_model_path}, {"copied", copied}});
  }
  return m;
}

void enable_bf16_autocast() {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
  at::autocast::set_enabled(true);
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
}

}  // namespace

torch::Device resolve_device(const std::string& requested) {
  if (requested == "auto")
    return torch::cuda::is_available() ? torch::Device("cuda:0") : torch::kCPU;
  if (requested == "cpu") return torch::kCPU;
  const torch::Device device(requested == "cuda" ? "cuda:0" : requested);
  if (!torch::cuda::is_available())
    throw TrainingFailure("device_unavailable",
                          "device " + requested + " requested but LibTorch sees no CUDA GPU");
  if (device.index() >= static_cast<int>(torch::cuda::device_count()))
    throw TrainingFailure("device_unavailable", "device " + requested + " requested but only " +
                                                    std::to_string(torch::cuda::device_count()) +
                                                    " GPU(s) visible");
  return device;
}

torch::Tensor model_input(const Dataset& data) {
  const auto n = static_cast<std::int64_t>(data.rows());
  const auto dn = static_cast<std::int64_t>(data.numeric_width());
  const auto dc = static_cast<std::int64_t>(data.categorical_width());
  torch::Tensor x = torch::empty({n, dn + dc}, torch::kFloat32);
  if (dn > 0)
    x.narrow(1, 0, dn).copy_(
        torch::from_blob(const_cast<float*>(data.numeric.data()), {n, dn}, torch::kFloat32));
  if (dc > 0)
    x.narrow(1, dn, dc).copy_(torch::from_blob(const_cast<std::int64_t*>(data.categorical.data()),
                                               {n, dc}, torch::kInt64));
  return x;
}

Dataset align_to_model(const Dataset& data, const nlohmann::json& input_layout) {
  Dataset out;
  out.info = data.info;
  out.labels = data.labels;
  out.weights = data.weights;
  out.seqs = data.seqs;
  out.event_time_ms = data.event_time_ms;
  const std::size_t n = data.rows();
  try {
    out.info.numeric_features = input_layout.at("numeric_features").get<std::vector<std::string>>();
    out.info.categorical_features.clear();
    for (const auto& c : input_layout.at("categorical_features"))
      out.info.categorical_features.push_back(
          {c.at("name").get<std::string>(), c.at("vocabulary").get<std::vector<std::string>>()});
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("malformed model input layout: ") + e.what());
  }
  const std::size_t dn = out.numeric_width(), sn = data.numeric_width();
  out.numeric.assign(n * dn, std::numeric_limits<float>::quiet_NaN());
  for (std::size_t k = 0; k < dn; ++k) {
    const auto& names = data.info.numeric_features;
    const auto it = std::find(names.begin(), names.end(), out.info.numeric_features[k]);
    if (it == names.end()) continue;
    const auto src = static_cast<std::size_t>(it - names.begin());
    for (std::size_t r = 0; r < n; ++r) out.numeric[r * dn + k] = data.numeric[r * sn + src];
  }
  const std::size_t dc = out.categorical_width(), sc = data.categorical_width();
  out.categorical.assign(n * dc, 0);
  for (std::size_t k = 0; k < dc; ++k) {
    const auto& model_feature = out.info.categorical_features[k];
    std::size_t src = sc;
    for (std::size_t j = 0; j < sc; ++j)
      if (data.info.categorical_features[j].name == model_feature.name) src = j;
    if (src == sc) continue;
    std::unordered_map<std::string, std::int64_t> model_code;
    for (std::size_t v = 0; v < model_feature.vocabulary.size(); ++v)
      model_code.emplace(model_feature.vocabulary[v], static_cast<std::int64_t>(v + 1));
    const auto& vocabulary = data.info.categorical_features[src].vocabulary;
    std::vector<std::int64_t> remap(vocabulary.size() + 1, 0);
    for (std::size_t v = 0; v < vocabulary.size(); ++v) {
      const auto it = model_code.find(vocabulary[v]);
      remap[v + 1] = it == model_code.end() ? 0 : it->second;
    }
    for (std::size_t r = 0; r < n; ++r) {
      const auto code = data.categorical[r * sc + src];
      out.categorical[r * dc + k] =
          code >= 0 && static_cast<std::size_t>(code) < remap.size() ? remap[code] : 0;
    }
  }
  return out;
}

Evaluation evaluate(torch::jit::Module& module, const Dataset& data,
                    const std::vector<std::int64_t>& rows, const std::vector<std::string>& slices,
                    torch::Device device, const Dataset* slice_data) {
  torch::NoGradGuard no_grad;
  module.eval();
  const torch::Tensor x = model_input(data).index_select(0, rows_tensor(rows));
  std::vector<torch::Tensor> outputs;
  for (std::int64_t begin = 0; begin < x.size(0); begin += kEvalChunk) {
    const auto chunk = x.narrow(0, begin, std::min(kEvalChunk, x.size(0) - begin)).to(device);
    outputs.push_back(module.forward({chunk}).toTensor().to(torch::kCPU, torch::kFloat32));
  }
  const int k = data.info.task == Task::kMulticlass ? data.info.num_classes : 1;
  torch::Tensor scores = outputs.empty() ? torch::empty({0}) : torch::cat(outputs).contiguous();
  Evaluation e;
  e.scores.assign(scores.data_ptr<float>(), scores.data_ptr<float>() + scores.numel());
  if (e.scores.size() != rows.size() * k)
    throw TrainingFailure("invalid_model", "forward returned " + std::to_string(e.scores.size()) +
                                               " values for " + std::to_string(rows.size()) +
                                               " rows; expected " + std::to_string(k) + " per row");
  std::vector<float> labels;
  for (auto r : rows) labels.push_back(data.labels[r]);
  e.metrics["overall"] =
      evaluate_predictions(data.info.task, data.info.num_classes, e.scores, labels);
  e.metrics["rows"] = rows.size();
  nlohmann::json per_slice = nlohmann::json::object();
  const Dataset& sd = slice_data ? *slice_data : data;
  for (const auto& name : slices) {
    std::size_t feature = 0;
    while (feature < sd.categorical_width() && sd.info.categorical_features[feature].name != name)
      ++feature;
    if (feature == sd.categorical_width()) continue;  // validated by the daemon; skip here
    const auto& vocab = sd.info.categorical_features[feature].vocabulary;
    std::map<std::int64_t, std::pair<std::vector<float>, std::vector<float>>> groups;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto code = sd.categorical[rows[i] * sd.categorical_width() + feature];
      auto& [s, l] = groups[code];
      s.insert(s.end(), e.scores.begin() + i * k, e.scores.begin() + (i + 1) * k);
      l.push_back(labels[i]);
    }
    for (const auto& [code, group] : groups) {
      const std::string value = code == 0 ? "(missing)" : vocab[code - 1];
      auto m =
          evaluate_predictions(data.info.task, data.info.num_classes, group.first, group.second);
      per_slice[name][value] = {{"rows", group.second.size()}, {"metrics", m}};
    }
  }
  e.metrics["slices"] = per_slice;
  return e;
}

TrainResult train(const RunSpec& spec, const Dataset& data, const ProgressFn& progress) {
  if (spec.threads > 0) torch::set_num_threads(spec.threads);
  torch::manual_seed(spec.seed);
  const torch::Device device = resolve_device(spec.device);
  const Task task = data.info.task;

  std::vector<std::int64_t> train_rows, validation_rows;
  for (std::size_t r = 0; r < data.rows(); ++r)
    (in_validation_split(data.seqs[r], spec.validation_fraction) ? validation_rows : train_rows)
        .push_back(static_cast<std::int64_t>(r));
  if (train_rows.empty())
    throw TrainingFailure("empty_dataset", "the snapshot has no training rows (" +
                                               std::to_string(data.rows()) + " rows in all)");

  torch::jit::Module module = initial_model(spec, data, train_rows, progress);
  module.to(device);
  const std::string method_name = training_method(module);
  std::vector<torch::Tensor> params;
  for (const auto& p : module.parameters())
    if (p.requires_grad()) params.push_back(p);
  if (params.empty())
    throw TrainingFailure("invalid_model", "the model has no trainable parameters");
  auto optimizer = make_optimizer(spec.optimizer, params);

  const torch::Tensor train_index = rows_tensor(train_rows);
  torch::Tensor x = model_input(data).index_select(0, train_index);
  torch::Tensor y = torch::from_blob(const_cast<float*>(data.labels.data()),
                                     {static_cast<std::int64_t>(data.rows())}, torch::kFloat32)
                        .index_select(0, train_index);
  torch::Tensor w = torch::from_blob(const_cast<float*>(data.weights.data()),
                                     {static_cast<std::int64_t>(data.rows())}, torch::kFloat32)
                        .index_select(0, train_index);
  const torch::Tensor sampling_weights = w.clone();
  if (spec.weighted_sampling) w = torch::ones_like(w);  // weights act through sampling instead
  if (torch::Tensor cw = class_weights(spec, data, train_rows); cw.defined())
    w = w * cw.index_select(0, y.to(torch::kInt64));
  BatchFeeder feeder(x, y, w, device);
  if (spec.bf16 && device.is_cuda()) enable_bf16_autocast();

  const PrimaryMetric primary = primary_metric(task);
  double best = std::numeric_limits<double>::infinity();
  int best_epoch = 0, stale_epochs = 0, epochs_run = 0;
  std::vector<torch::Tensor> best_state;
  std::int64_t step = 0;
  double last_train_loss = 0;
  const std::string device_name = device.str();
  const std::int64_t n_train = x.size(0);

  for (int epoch = 1; epoch <= spec.epochs; ++epoch) {
    module.train(true);
    torch::Tensor order = spec.weighted_sampling
                              ? torch::multinomial(sampling_weights, n_train, /*replacement=*/true)
                              : torch::randperm(n_train, torch::kInt64);
    feeder.start_epoch(order, spec.batch_size);
    const auto epoch_start = Clock::now();
    auto last_report = epoch_start;
    torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().device(device));
    std::int64_t samples = 0, interval_samples = 0, batches = 0;
    while (auto batch = feeder.next()) {
      torch::Tensor z = module.get_method(method_name)({batch->x}).toTensor().to(torch::kFloat32);
      torch::Tensor loss =
          (per_sample_loss(task, z, batch->y) * batch->w).sum() / batch->w.sum().clamp_min(1e-12);
      optimizer->zero_grad();
      loss.backward();
      ++step;
      ++batches;
      if (!device.is_cuda() || step % kCudaCheckEvery == 0) {
        check_finite(loss.detach(), "the training loss", epoch, step);
        for (const auto& p : params)
          if (p.grad().defined()) check_finite(p.grad(), "a gradient", epoch, step);
      }
      optimizer->step();
      loss_sum += loss.detach();
      samples += batch->x.size(0);
      interval_samples += batch->x.size(0);
      if (const auto now = Clock::now(); now - last_report >= kProgressInterval) {
        const double seconds = std::chrono::duration<double>(now - last_report).count();
        progress({{"phase", "train"},
                  {"epoch", epoch},
                  {"step", step},
                  {"loss", loss.item<double>()},
                  {"samples_per_s", interval_samples / seconds},
                  {"device", device_name}});
        last_report = now;
        interval_samples = 0;
      }
    }
    for (const auto& p : module.parameters()) check_finite(p, "a weight", epoch, step);
    last_train_loss = loss_sum.item<double>() / std::max<std::int64_t>(batches, 1);
    const double epoch_seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
    ++epochs_run;

    nlohmann::json line = {{"phase", "epoch"},
                           {"epoch", epoch},
                           {"step", step},
                           {"loss", last_train_loss},
                           {"samples_per_s", samples / std::max(epoch_seconds, 1e-9)},
                           {"device", device_name}};
    if (validation_rows.empty()) {
      progress(line);
      continue;
    }
    Evaluation eval = evaluate(module, data, validation_rows, {}, device);
    const double value = eval.metrics["overall"].value(primary.name, NAN);
    line["validation_metric"] = primary.name;
    line["validation_value"] = value;
    line["validation"] = eval.metrics["overall"];
    progress(line);
    if (value < best - spec.early_stopping.min_delta) {
      best = value;
      best_epoch = epoch;
      stale_epochs = 0;
      if (spec.early_stopping.patience > 0) best_state = snapshot_state(module);
    } else if (spec.early_stopping.patience > 0 && ++stale_epochs >= spec.early_stopping.patience) {
      progress({{"phase", "early_stop"},
                {"epoch", epoch},
                {"best_epoch", best_epoch},
                {"best_value", best}});
      break;
    }
  }
  if (!best_state.empty()) restore_state(module, best_state);

  TrainResult result;
  result.device = device_name;
  result.train_rows = static_cast<std::int64_t>(train_rows.size());
  result.validation_rows = static_cast<std::int64_t>(validation_rows.size());
  result.metrics = {{"task", task_name(task)},
                    {"primary_metric", primary.name},
                    {"epochs_run", epochs_run},
                    {"best_epoch", best_epoch == 0 ? epochs_run : best_epoch},
                    {"final_train_loss", last_train_loss},
                    {"train_rows", result.train_rows},
                    {"validation_rows", result.validation_rows}};
  if (!validation_rows.empty()) {
    Evaluation eval = evaluate(module, data, validation_rows, spec.slices, device);
    result.metrics["validation"] = eval.metrics["overall"];
    result.metrics["slices"] = eval.metrics["slices"];
  }
  module.to(torch::kCPU);
  module.eval();
  result.model = std::move(module);
  return result;
}

}  // namespace ctd::trainers
