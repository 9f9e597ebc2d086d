// Evaluation metrics of a model's predictions on labeled data: what ctd-train reports on the
// validation split (overall and per slice) and what the registry's promotion gate compares.
// Pure functions; unweighted (every sample counts once).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "trainers/snapshot.h"

namespace ctd::trainers {

// Predictions of n samples:
//   binary      scores = probability of class 1, n values
//   multiclass  scores = class probabilities, n * num_classes values, row-major
//   regression  scores = predicted values, n values
// labels: n values (0/1, class index, or target).
//
// Returns, by task:
//   binary      accuracy, log_loss, roc_auc (omitted when only one class is present), macro_f1
//   multiclass  accuracy, log_loss, macro_f1
//   regression  mae, rmse
// Probabilities are clipped to [1e-15, 1 - 1e-15] for log loss, as scikit-learn does. Macro F1
// averages over the classes that occur in the labels or the predictions. Empty input gives an
// empty map.
std::map<std::string, double> evaluate_predictions(Task task, int num_classes,
                                                   std::span<const float> scores,
                                                   std::span<const float> labels);

// ROC AUC by the Mann-Whitney rank statistic, ties counted half. NaN without both classes.
double roc_auc(std::span<const float> scores, std::span<const float> labels);

// The metric ctd-train's early stopping watches, and whether lower is better.
struct PrimaryMetric {
  std::string name;
  bool lower_is_better;
};
PrimaryMetric primary_metric(Task task);

}  // namespace ctd::trainers
