#include "trainers/model.h"

#include <cmath>
#include <sstream>

namespace ctd::trainers {
namespace {

std::string activation_call(Activation a, const std::string& x) {
  switch (a) {
    case Activation::kRelu:
      return "torch.relu(" + x + ")";
    case Activation::kTanh:
      return "torch.tanh(" + x + ")";
    case Activation::kGelu:
      return "torch.gelu(" + x + ")";
  }
  return x;
}

torch::Tensor uniform(std::vector<std::int64_t> shape, double fan_in) {
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(fan_in) : 0.0;
  return torch::empty(shape, torch::kFloat32).uniform_(-bound, bound);
}

void add_parameter(torch::jit::Module& m, const std::string& name, torch::Tensor t) {
  m.register_parameter(name, t.set_requires_grad(true), /*is_buffer=*/false);
}

int output_width(const SnapshotInfo& info) {
  return info.task == Task::kMulticlass ? info.num_classes : 1;
}

// TorchScript source of logits() and forward() for the layer sizes chosen.
std::string model_source(const ModelSpec& spec, const SnapshotInfo& info, std::size_t layers) {
  const std::size_t dn = info.numeric_features.size();
  std::ostringstream s;
  s << "def logits(self, x):\n"
    << "    num = torch.nan_to_num((x[:, 0:" << dn << "] - self.mean) * self.inv_std, 0.0)\n"
    << "    h = torch.addmm(self.b0, num, self.w0.t())\n";
  for (std::size_t c = 0; c < info.categorical_features.size(); ++c) {
    const auto k = info.categorical_features[c].vocabulary.size();
    s << "    c" << c << " = torch.nan_to_num(x[:, " << dn + c << "], 0.0).long()\n"
      << "    c" << c << " = torch.where((c" << c << " >= 0) & (c" << c << " <= " << k << "), c"
      << c << ", torch.zeros_like(c" << c << "))\n"
      << "    h = h + torch.embedding(self.emb" << c << ", c" << c << ")\n";
  }
  for (std::size_t i = 1; i < layers; ++i) {
    s << "    h = " << activation_call(spec.activation, "h") << "\n";
    if (spec.dropout > 0) s << "    h = torch.dropout(h, " << spec.dropout << ", self.training)\n";
    s << "    h = torch.addmm(self.b" << i << ", h, self.w" << i << ".t())\n";
  }
  s << "    return h\n\n"
    << "def forward(self, x):\n"
    << "    z = self.logits(x)\n";
  switch (info.task) {
    case Task::kBinary:
      s << "    return torch.sigmoid(z).squeeze(1)\n";
      break;
    case Task::kMulticlass:
      s << "    return torch.softmax(z, 1)\n";
      break;
    case Task::kRegression:
      s << "    return z.squeeze(1)\n";
      break;
  }
  return s.str();
}

}  // namespace

Standardisation fit_standardisation(const Dataset& data, const std::vector<std::int64_t>& rows) {
  const std::size_t width = data.numeric_width();
  std::vector<double> sum(width), sum_sq(width), count(width);
  for (auto r : rows) {
    for (std::size_t f = 0; f < width; ++f) {
      const double v = data.numeric[static_cast<std::size_t>(r) * width + f];
      if (std::isnan(v)) continue;
      sum[f] += v;
      sum_sq[f] += v * v;
      count[f] += 1;
    }
  }
  Standardisation s;
  for (std::size_t f = 0; f < width; ++f) {
    const double mean = count[f] > 0 ? sum[f] / count[f] : 0.0;
    const double var = count[f] > 1 ? std::max(0.0, sum_sq[f] / count[f] - mean * mean) : 0.0;
    const double sd = std::sqrt(var);
    s.mean.push_back(static_cast<float>(mean));
    s.inv_std.push_back(sd > 1e-12 ? static_cast<float>(1.0 / sd) : 1.0f);
  }
  return s;
}

torch::jit::Module build_model(const ModelSpec& spec, const SnapshotInfo& info,
                               const Standardisation& standardisation) {
  torch::jit::Module m(spec.kind == ModelKind::kLinear ? "__torch__.ctd.TabularLinear"
                                                       : "__torch__.ctd.TabularMlp");
  m.register_attribute("training", c10::BoolType::get(), true);
  const auto dn = static_cast<std::int64_t>(info.numeric_features.size());
  m.register_buffer("mean", torch::tensor(standardisation.mean, torch::kFloat32).reshape({dn}));
  m.register_buffer("inv_std",
                    torch::tensor(standardisation.inv_std, torch::kFloat32).reshape({dn}));

  std::vector<std::int64_t> sizes;
  if (spec.kind == ModelKind::kMlp)
    for (int h : spec.hidden) sizes.push_back(h);
  sizes.push_back(output_width(info));

  // The first layer sees the numeric features and one one-hot block per categorical feature;
  // the one-hot blocks are embedding tables added to its output.
  double first_fan_in = static_cast<double>(dn);
  for (const auto& c : info.categorical_features) first_fan_in += c.vocabulary.size() + 1.0;
  add_parameter(m, "w0", uniform({sizes[0], dn}, first_fan_in));
  add_parameter(m, "b0", uniform({sizes[0]}, first_fan_in));
  for (std::size_t c = 0; c < info.categorical_features.size(); ++c) {
    const auto rows = static_cast<std::int64_t>(info.categorical_features[c].vocabulary.size()) + 1;
    add_parameter(m, "emb" + std::to_string(c), uniform({rows, sizes[0]}, first_fan_in));
  }
  for (std::size_t i = 1; i < sizes.size(); ++i) {
    const auto fan_in = static_cast<double>(sizes[i - 1]);
    add_parameter(m, "w" + std::to_string(i), uniform({sizes[i], sizes[i - 1]}, fan_in));
    add_parameter(m, "b" + std::to_string(i), uniform({sizes[i]}, fan_in));
  }
  m.define(model_source(spec, info, sizes.size()));
  return m;
}

std::vector<std::string> copy_matching_state(const torch::jit::Module& from,
                                             torch::jit::Module& into) {
  std::map<std::string, torch::Tensor> source;
  for (const auto& p : from.named_parameters(/*recurse=*/true)) source[p.name] = p.value;
  for (const auto& b : from.named_buffers(/*recurse=*/true)) source[b.name] = b.value;
  std::vector<std::string> copied;
  torch::NoGradGuard no_grad;
  auto copy = [&](const std::string& name, torch::Tensor target) {
    auto it = source.find(name);
    if (it == source.end()) return;
    const torch::Tensor& value = it->second;
    if (value.sizes() == target.sizes()) {
      target.copy_(value);
    } else if (value.dim() == target.dim() && value.dim() >= 1 &&
               value.sizes().slice(1) == target.sizes().slice(1)) {
      const auto rows = std::min(value.size(0), target.size(0));
      target.narrow(0, 0, rows).copy_(value.narrow(0, 0, rows));
    } else {
      return;
    }
    copied.push_back(name);
  };
  for (const auto& p : into.named_parameters(true)) copy(p.name, p.value);
  for (const auto& b : into.named_buffers(true)) copy(b.name, b.value);
  return copied;
}

std::string training_method(const torch::jit::Module& module) {
  return module.find_method("logits") ? "logits" : "forward";
}

}  // namespace ctd::trainers
