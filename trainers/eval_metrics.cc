#include "trainers/eval_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace ctd::trainers {
namespace {

constexpr double kProbabilityClip = 1e-15;

double clip(double p) { return std::clamp(p, kProbabilityClip, 1.0 - kProbabilityClip); }

double macro_f1(std::span<const int> predicted, std::span<const float> labels, int num_classes) {
  std::vector<std::int64_t> tp(num_classes), fp(num_classes), fn(num_classes);
  std::vector<bool> seen(num_classes);
  for (std::size_t i = 0; i < predicted.size(); ++i) {
    const int y = static_cast<int>(labels[i]);
    const int p = predicted[i];
    seen[y] = seen[p] = true;
    if (p == y) {
      ++tp[y];
    } else {
      ++fp[p];
      ++fn[y];
    }
  }
  double sum = 0;
  int classes = 0;
  for (int c = 0; c < num_classes; ++c) {
    if (!seen[c]) continue;
    ++classes;
    const double denominator = 2.0 * tp[c] + fp[c] + fn[c];
    sum += denominator > 0 ? 2.0 * tp[c] / denominator : 0.0;
  }
  return classes > 0 ? sum / classes : 0.0;
}

std::map<std::string, double> binary_metrics(std::span<const float> p, std::span<const float> y) {
  const std::size_t n = y.size();
  std::vector<int> predicted(n);
  double correct = 0, log_loss = 0;
  for (std::size_t i = 0; i < n; ++i) {
    predicted[i] = p[i] >= 0.5f ? 1 : 0;
    correct += predicted[i] == static_cast<int>(y[i]);
    log_loss -= y[i] > 0.5f ? std::log(clip(p[i])) : std::log(1.0 - clip(p[i]));
  }
  std::map<std::string, double> m{{"accuracy", correct / n},
                                  {"log_loss", log_loss / n},
                                  {"macro_f1", macro_f1(predicted, y, 2)}};
  const double auc = roc_auc(p, y);
  if (!std::isnan(auc)) m["roc_auc"] = auc;
  return m;
}

std::map<std::string, double> multiclass_metrics(std::span<const float> probs,
                                                 std::span<const float> y, int k) {
  const std::size_t n = y.size();
  std::vector<int> predicted(n);
  double correct = 0, log_loss = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto row = probs.subspan(i * k, k);
    predicted[i] = static_cast<int>(std::max_element(row.begin(), row.end()) - row.begin());
    const int label = static_cast<int>(y[i]);
    correct += predicted[i] == label;
    log_loss -= std::log(clip(row[label]));
  }
  return {{"accuracy", correct / n},
          {"log_loss", log_loss / n},
          {"macro_f1", macro_f1(predicted, y, k)}};
}

std::map<std::string, double> regression_metrics(std::span<const float> predicted,
                                                 std::span<const float> y) {
  double abs_sum = 0, sq_sum = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double e = static_cast<double>(predicted[i]) - y[i];
    abs_sum += std::abs(e);
    sq_sum += e * e;
  }
  return {{"mae", abs_sum / y.size()}, {"rmse", std::sqrt(sq_sum / y.size())}};
}

}  // namespace

double roc_auc(std::span<const float> scores, std::span<const float> labels) {
  const std::size_t n = scores.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return scores[a] < scores[b]; });
  double positive_rank_sum = 0, positives = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (std::size_t t = i; t < j; ++t) {
      if (labels[order[t]] > 0.5f) {
        positive_rank_sum += average_rank;
        ++positives;
      }
    }
    i = j;
  }
  const double negatives = static_cast<double>(n) - positives;
  if (positives == 0 || negatives == 0) return std::numeric_limits<double>::quiet_NaN();
  return (positive_rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives);
}

std::map<std::string, double> evaluate_predictions(Task task, int num_classes,
                                                   std::span<const float> scores,
                                                   std::span<const float> labels) {
  if (labels.empty()) return {};
  switch (task) {
    case Task::kBinary:
      return binary_metrics(scores, labels);
    case Task::kMulticlass:
      return multiclass_metrics(scores, labels, num_classes);
    case Task::kRegression:
      return regression_metrics(scores, labels);
  }
  return {};
}

PrimaryMetric primary_metric(Task task) {
  return task == Task::kRegression ? PrimaryMetric{"rmse", true} : PrimaryMetric{"log_loss", true};
}

}  // namespace ctd::trainers
