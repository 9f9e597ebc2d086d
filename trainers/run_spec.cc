#include "trainers/run_spec.h"

#include <regex>
#include <set>
#include <stdexcept>

namespace ctd::trainers {
namespace {

template <typename E>
struct Names {
  std::vector<std::pair<E, std::string>> items;
  std::string of(E e) const {
    for (const auto& [v, n] : items)
      if (v == e) return n;
    return "?";
  }
};
const Names<ModelKind> kModels{{{ModelKind::kLinear, "linear"},
                                {ModelKind::kMlp, "mlp"},
                                {ModelKind::kTorchScript, "torchscript"}}};
const Names<Activation> kActivations{
    {{Activation::kRelu, "relu"}, {Activation::kTanh, "tanh"}, {Activation::kGelu, "gelu"}}};
const Names<OptimizerKind> kOptimizers{{{OptimizerKind::kSgd, "sgd"},
                                        {OptimizerKind::kAdam, "adam"},
                                        {OptimizerKind::kAdamW, "adamw"}}};
const Names<InitKind> kInits{
    {{InitKind::kScratch, "scratch"}, {InitKind::kProduction, "production"}}};
const Names<ClassWeighting> kWeightings{
    {{ClassWeighting::kNone, "none"}, {ClassWeighting::kBalanced, "balanced"}}};

// Collects every problem instead of stopping at the first.
class Reader {
 public:
  std::vector<std::string> errors;

  // Checks that `object` has no keys outside `known`.
  void keys(const nlohmann::json& object, const std::string& path, std::set<std::string> known) {
    if (!object.is_object()) {
      errors.push_back(label(path) + "must be an object");
      return;
    }
    for (const auto& [k, v] : object.items())
      if (!known.count(k)) errors.push_back(join(path, k) + ": unknown key");
  }

  template <typename T>
  void get(const nlohmann::json& object, const std::string& path, const std::string& key, T& out) {
    if (!object.is_object() || !object.contains(key)) return;
    const auto& v = object.at(key);
    try {
      if constexpr (std::is_same_v<T, bool>) {
        if (!v.is_boolean()) throw std::invalid_argument("a boolean");
      } else if constexpr (std::is_integral_v<T>) {
        if (!v.is_number_integer()) throw std::invalid_argument("an integer");
      } else if constexpr (std::is_floating_point_v<T>) {
        if (!v.is_number()) throw std::invalid_argument("a number");
      } else if constexpr (std::is_same_v<T, std::string>) {
        if (!v.is_string()) throw std::invalid_argument("a string");
      }
      out = v.get<T>();
    } catch (const std::invalid_argument& e) {
      errors.push_back(join(path, key) + ": must be " + e.what());
    } catch (const nlohmann::json::exception&) {
      errors.push_back(join(path, key) + ": has the wrong type");
    }
  }

  template <typename E>
  void choice(const nlohmann::json& object, const std::string& path, const std::string& key,
              const Names<E>& names, E& out) {
    std::string text;
    get(object, path, key, text);
    if (text.empty()) return;
    for (const auto& [v, n] : names.items)
      if (n == text) {
        out = v;
        return;
      }
    std::string allowed;
    for (const auto& [v, n] : names.items) allowed += (allowed.empty() ? "" : ", ") + n;
    errors.push_back(join(path, key) + ": \"" + text + "\" is not one of " + allowed);
  }

  void check(bool ok, const std::string& path, const std::string& message) {
    if (!ok) errors.push_back(path + ": " + message);
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  static std::string label(const std::string& path) {
    return path.empty() ? "spec: " : path + ": ";
  }
};

}  // namespace

RunSpec parse_run_spec(const nlohmann::json& j) {
  RunSpec s;
  Reader r;
  r.keys(j, "",
         {"run_id", "pipeline", "snapshot", "model", "init", "init_model_path", "optimizer",
          "epochs", "batch_size", "validation_fraction", "early_stopping", "class_weighting",
          "weighted_sampling", "seed", "device", "bf16", "threads", "slices", "code_version"});
  r.get(j, "", "run_id", s.run_id);
  r.get(j, "", "pipeline", s.pipeline);
  r.get(j, "", "snapshot", s.snapshot);
  if (j.contains("model")) {
    const auto& m = j.at("model");
    r.keys(m, "model", {"type", "hidden", "activation", "dropout", "path"});
    r.choice(m, "model", "type", kModels, s.model.kind);
    r.get(m, "model", "hidden", s.model.hidden);
    r.choice(m, "model", "activation", kActivations, s.model.activation);
    r.get(m, "model", "dropout", s.model.dropout);
    r.get(m, "model", "path", s.model.script_path);
  }
  r.choice(j, "", "init", kInits, s.init);
  r.get(j, "", "init_model_path", s.init_model_path);
  if (j.contains("optimizer")) {
    const auto& o = j.at("optimizer");
    r.keys(o, "optimizer", {"name", "learning_rate", "weight_decay", "momentum"});
    r.choice(o, "optimizer", "name", kOptimizers, s.optimizer.kind);
    r.get(o, "optimizer", "learning_rate", s.optimizer.learning_rate);
    r.get(o, "optimizer", "weight_decay", s.optimizer.weight_decay);
    r.get(o, "optimizer", "momentum", s.optimizer.momentum);
  }
  r.get(j, "", "epochs", s.epochs);
  r.get(j, "", "batch_size", s.batch_size);
  r.get(j, "", "validation_fraction", s.validation_fraction);
  if (j.contains("early_stopping")) {
    const auto& e = j.at("early_stopping");
    r.keys(e, "early_stopping", {"patience", "min_delta"});
    r.get(e, "early_stopping", "patience", s.early_stopping.patience);
    r.get(e, "early_stopping", "min_delta", s.early_stopping.min_delta);
  }
  r.choice(j, "", "class_weighting", kWeightings, s.class_weighting);
  r.get(j, "", "weighted_sampling", s.weighted_sampling);
  r.get(j, "", "seed", s.seed);
  r.get(j, "", "device", s.device);
  r.get(j, "", "bf16", s.bf16);
  r.get(j, "", "threads", s.threads);
  r.get(j, "", "slices", s.slices);
  r.get(j, "", "code_version", s.code_version);

  for (std::size_t i = 0; i < s.model.hidden.size(); ++i)
    r.check(s.model.hidden[i] > 0, "model.hidden[" + std::to_string(i) + "]", "must be positive");
  r.check(s.model.dropout >= 0 && s.model.dropout < 1, "model.dropout", "must be in [0, 1)");
  r.check(s.model.kind != ModelKind::kTorchScript || !s.model.script_path.empty(), "model.path",
          "required when model.type is torchscript");
  r.check(s.init != InitKind::kProduction || !s.init_model_path.empty(), "init_model_path",
          "required when init is production");
  r.check(s.optimizer.learning_rate > 0, "optimizer.learning_rate", "must be positive");
  r.check(s.optimizer.weight_decay >= 0, "optimizer.weight_decay", "must not be negative");
  r.check(s.optimizer.momentum >= 0 && s.optimizer.momentum < 1, "optimizer.momentum",
          "must be in [0, 1)");
  r.check(s.epochs >= 1 && s.epochs <= 100000, "epochs", "must be in [1, 100000]");
  r.check(s.batch_size >= 1 && s.batch_size <= (1 << 24), "batch_size", "must be in [1, 16777216]");
  r.check(s.validation_fraction > 0 && s.validation_fraction < 1, "validation_fraction",
          "must be in (0, 1)");
  r.check(s.early_stopping.patience >= 0, "early_stopping.patience", "must not be negative");
  r.check(s.early_stopping.min_delta >= 0, "early_stopping.min_delta", "must not be negative");
  r.check(s.threads >= 0, "threads", "must not be negative");
  static const std::regex kDevice("auto|cpu|cuda|cuda:[0-9]+");
  r.check(std::regex_match(s.device, kDevice), "device",
          "\"" + s.device + "\" is not auto, cpu, cuda or cuda:N");
  if (!r.errors.empty()) {
    std::string all;
    for (const auto& e : r.errors) all += (all.empty() ? "" : "; ") + e;
    throw std::runtime_error("invalid run spec: " + all);
  }
  return s;
}

nlohmann::json RunSpec::to_json() const {
  return {{"run_id", run_id},
          {"pipeline", pipeline},
          {"snapshot", snapshot},
          {"model",
           {{"type", kModels.of(model.kind)},
            {"hidden", model.hidden},
            {"activation", kActivations.of(model.activation)},
            {"dropout", model.dropout},
            {"path", model.script_path}}},
          {"init", kInits.of(init)},
          {"init_model_path", init_model_path},
          {"optimizer",
           {{"name", kOptimizers.of(optimizer.kind)},
            {"learning_rate", optimizer.learning_rate},
            {"weight_decay", optimizer.weight_decay},
            {"momentum", optimizer.momentum}}},
          {"epochs", epochs},
          {"batch_size", batch_size},
          {"validation_fraction", validation_fraction},
          {"early_stopping",
           {{"patience", early_stopping.patience}, {"min_delta", early_stopping.min_delta}}},
          {"class_weighting", kWeightings.of(class_weighting)},
          {"weighted_sampling", weighted_sampling},
          {"seed", seed},
          {"device", device},
          {"bf16", bf16},
          {"threads", threads},
          {"slices", slices},
          {"code_version", code_version}};
}

}  // namespace ctd::trainers
