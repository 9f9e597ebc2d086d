#include "triggers/drift_check.h"

#include <algorithm>
#include <cmath>

#include "triggers/drift_stats.h"

namespace ctd::triggers::drift {
namespace {

constexpr double kDefaultDistanceThreshold = 0.1;
constexpr double kDefaultAlpha = 0.05;
// The Wasserstein norm never divides by less than this (a constant reference), as Evidently.
constexpr double kMinWassersteinNorm = 1e-3;

struct MetricName {
  DriftMetric metric;
  std::string_view name;        // canonical, in evidence
  std::string_view short_name;  // accepted on the command line
};
constexpr MetricName kMetricNames[] = {
    {DriftMetric::kPsi, "psi", "psi"},
    {DriftMetric::kJensenShannon, "jensen_shannon", "js"},
    {DriftMetric::kWasserstein, "wasserstein", "wasserstein"},
    {DriftMetric::kKolmogorovSmirnov, "ks", "ks"},
    {DriftMetric::kChiSquared, "chi2", "chi2"},
    {DriftMetric::kLInfinity, "linf", "linf"},
};

std::vector<double> coarse_counts(const std::vector<double>& fine, const NumericBinning& binning) {
  std::vector<double> coarse(binning.coarse_bin_count(), 0.0);
  for (std::size_t i = 0; i < fine.size(); ++i) coarse[binning.coarse_bin_of(i)] += fine[i];
  return coarse;
}

// Bin means as a weighted point set, and the bound on how far (in W1) that moved the mass:
// sum over bins of share * half the bin's width, the bin clipped to the observed range.
struct BinAtoms {
  std::vector<double> positions;
  std::vector<double> weights;
  double error_bound = 0;
};

BinAtoms bin_atoms(const NumericCounts& counts, const NumericBinning& binning) {
  BinAtoms atoms;
  const std::vector<double>& edges = binning.edges();
  const double total = static_cast<double>(counts.present);
  for (std::size_t i = 0; i < counts.counts.size(); ++i) {
    if (counts.counts[i] == 0) continue;
    atoms.positions.push_back(counts.sums[i] / counts.counts[i]);
    atoms.weights.push_back(counts.counts[i]);
    const double low = i == 0 ? counts.min : std::max(edges[i - 1], counts.min);
    const double high = i == edges.size() ? counts.max : std::min(edges[i], counts.max);
    atoms.error_bound += counts.counts[i] / total * std::max(0.0, high - low) / 2;
  }
  return atoms;
}

void numeric_statistics(const NumericReference& feature, const NumericCounts& reference,
                        const NumericCounts& current, const std::vector<double>* current_sample,
                        FeatureStatistics& out) {
  const NumericBinning& binning = feature.binning;
  const std::vector<double> coarse_reference = coarse_counts(reference.counts, binning);
  const std::vector<double> coarse_current = coarse_counts(current.counts, binning);
  out.psi = population_stability_index(coarse_reference, coarse_current);
  out.jensen_shannon = jensen_shannon_distance(coarse_reference, coarse_current);

  const BinAtoms a = bin_atoms(reference, binning);
  const BinAtoms b = bin_atoms(current, binning);
  const double norm = std::max(feature.std, kMinWassersteinNorm);
  out.wasserstein = wasserstein_distance(a.positions, a.weights, b.positions, b.weights) / norm;
  out.wasserstein_error_bound = (a.error_bound + b.error_bound) / norm;

  if (current_sample != nullptr && !current_sample->empty() && !feature.sample.empty()) {
    const TestResult ks = ks_two_sample(feature.sample, *current_sample);
    out.ks_statistic = ks.statistic;
    out.ks_p_value = ks.p_value;
    out.ks_error_bound = 0.0;
    out.ks_sample_reference = feature.sample.size();
    out.ks_sample_current = current_sample->size();
    return;
  }
  const double d = max_cdf_distance(reference.counts, current.counts);
  out.ks_statistic = d;
  out.ks_p_value = ks_asymptotic_p_value(d, static_cast<double>(reference.present),
                                         static_cast<double>(current.present));
  double largest_bin = 0;
  for (std::size_t i = 0; i < reference.counts.size(); ++i) {
    largest_bin = std::max({largest_bin, reference.counts[i] / reference.present,
                            current.counts[i] / current.present});
  }
  out.ks_error_bound = largest_bin;
}

void categorical_statistics(const CategoricalCounts& reference, const CategoricalCounts& current,
                            FeatureStatistics& out) {
  out.psi = population_stability_index(reference.counts, current.counts);
  out.jensen_shannon = jensen_shannon_distance(reference.counts, current.counts);
  out.l_infinity = l_infinity_distance(reference.counts, current.counts);
  const ChiSquaredResult chi = chi_squared_homogeneity(reference.counts, current.counts);
  out.chi_squared = chi.statistic;
  out.chi_squared_p_value = chi.p_value;
  out.chi_squared_dof = chi.dof;
}

// The value a metric is decided on (a p-value for tests), and the distance that the dynamic
// policy tracks for it (the KS statistic; Cramer's V for chi-squared).
double decision_value(DriftMetric metric, const FeatureStatistics& s) {
  switch (metric) {
    case DriftMetric::kPsi:
      return *s.psi;
    case DriftMetric::kJensenShannon:
      return *s.jensen_shannon;
    case DriftMetric::kWasserstein:
      return *s.wasserstein;
    case DriftMetric::kKolmogorovSmirnov:
      return *s.ks_p_value;
    case DriftMetric::kChiSquared:
      return *s.chi_squared_p_value;
    case DriftMetric::kLInfinity:
      return *s.l_infinity;
  }
  return 0;
}

double dynamic_distance(const FeatureDrift& f) {
  const FeatureStatistics& s = f.statistics;
  if (f.metric == DriftMetric::kKolmogorovSmirnov) return *s.ks_statistic;
  if (f.metric == DriftMetric::kChiSquared) {
    const double n = static_cast<double>(f.reference_count + f.current_count);
    return std::sqrt(*s.chi_squared / n);
  }
  return f.value;
}

void decide_dynamic(FeatureDrift& f, std::size_t index, const DecisionOptions& options,
                    DistanceHistory& history) {
  const double distance = dynamic_distance(f);
  std::vector<double> past(history.of(index).begin(), history.of(index).end());
  history.push(index, distance, options.history);
  f.value = distance;
  if (past.size() < options.min_history) {
    f.evaluated = false;
    f.note = "calibrating: " + std::to_string(past.size()) + " of " +
             std::to_string(options.min_history) + " past distances";
    return;
  }
  std::sort(past.begin(), past.end());
  f.threshold = quantile_linear(past, options.quantile);
  f.drifted = distance > f.threshold;
}

// Static policy: p-value tests after the correction, distances against their threshold.
void decide_static(std::vector<FeatureDrift>& features, const DecisionOptions& options) {
  std::vector<std::size_t> tested;
  std::vector<double> p_values;
  for (std::size_t i = 0; i < features.size(); ++i) {
    FeatureDrift& f = features[i];
    if (!f.evaluated) continue;
    if (!is_p_value_test(f.metric)) {
      f.drifted = f.value >= f.threshold;
      continue;
    }
    tested.push_back(i);
    p_values.push_back(f.value);
  }
  if (options.correction == Correction::kBonferroni) p_values = bonferroni(p_values);
  if (options.correction == Correction::kBenjaminiHochberg) {
    p_values = benjamini_hochberg(p_values);
  }
  for (std::size_t k = 0; k < tested.size(); ++k) {
    FeatureDrift& f = features[tested[k]];
    f.value = p_values[k];
    f.drifted = f.value < f.threshold;
  }
}

FeatureDrift compare_numeric(const ReferenceSummary& reference, const FeatureCounts& current,
                             std::size_t f, const DecisionOptions& options,
                             const KsSamples& samples) {
  const NumericCounts& ref = reference.counts().numeric[f];
  const NumericCounts& cur = current.numeric[f];
  FeatureDrift out;
  out.feature = reference.columns().numeric_names[f];
  out.metric = options.numeric_metric;
  out.threshold = options.numeric_threshold.value_or(default_threshold(out.metric));
  out.reference_count = ref.present;
  out.reference_missing = ref.missing;
  out.current_count = cur.present;
  out.current_missing = cur.missing;
  if (ref.present < options.min_samples || cur.present < options.min_samples) return out;
  const std::vector<double>* sample = samples.current != nullptr ? &(*samples.current)[f] : nullptr;
  numeric_statistics(reference.numeric()[f], ref, cur, sample, out.statistics);
  out.evaluated = true;
  return out;
}

FeatureDrift compare_categorical(const ReferenceSummary& reference, const FeatureCounts& current,
                                 std::size_t f, const DecisionOptions& options) {
  const CategoricalCounts& ref = reference.counts().categorical[f];
  const CategoricalCounts& cur = current.categorical[f];
  FeatureDrift out;
  out.feature = reference.columns().categorical_names[f];
  out.categorical = true;
  out.metric = options.categorical_metric;
  out.threshold = options.categorical_threshold.value_or(default_threshold(out.metric));
  out.reference_count = ref.present;
  out.reference_missing = ref.missing;
  out.current_count = cur.present;
  out.current_missing = cur.missing;
  out.current_unseen = cur.unseen;
  out.unseen_examples = cur.unseen_examples;
  if (ref.present < options.min_samples || cur.present < options.min_samples) return out;
  categorical_statistics(ref, cur, out.statistics);
  out.evaluated = true;
  return out;
}

template <typename T>
void put(nlohmann::json& out, const char* key, const std::optional<T>& value) {
  if (value) out[key] = *value;
}

std::string_view to_string(Correction correction) {
  switch (correction) {
    case Correction::kNone:
      return "none";
    case Correction::kBonferroni:
      return "bonferroni";
    case Correction::kBenjaminiHochberg:
      return "benjamini_hochberg";
  }
  return "none";
}

}  // namespace

std::string_view to_string(DriftMetric metric) {
  for (const MetricName& entry : kMetricNames) {
    if (entry.metric == metric) return entry.name;
  }
  return "unknown";
}

std::optional<DriftMetric> parse_metric(std::string_view text) {
  for (const MetricName& entry : kMetricNames) {
    if (text == entry.name || text == entry.short_name) return entry.metric;
  }
  return std::nullopt;
}

bool applies_to_numeric(DriftMetric metric) {
  return metric != DriftMetric::kChiSquared && metric != DriftMetric::kLInfinity;
}

bool applies_to_categorical(DriftMetric metric) {
  return metric != DriftMetric::kWasserstein && metric != DriftMetric::kKolmogorovSmirnov;
}

bool is_p_value_test(DriftMetric metric) {
  return metric == DriftMetric::kKolmogorovSmirnov || metric == DriftMetric::kChiSquared;
}

double default_threshold(DriftMetric metric) {
  return is_p_value_test(metric) ? kDefaultAlpha : kDefaultDistanceThreshold;
}

std::string validate(const DecisionOptions& options) {
  if (!applies_to_numeric(options.numeric_metric)) {
    return std::string(to_string(options.numeric_metric)) + " does not apply to numeric features";
  }
  if (!applies_to_categorical(options.categorical_metric)) {
    return std::string(to_string(options.categorical_metric)) +
           " does not apply to categorical features";
  }
  const auto bad_threshold = [](DriftMetric metric, const std::optional<double>& threshold) {
    if (!threshold) return false;
    return is_p_value_test(metric) ? !(*threshold > 0 && *threshold < 1)
                                   : !(*threshold >= 0 && std::isfinite(*threshold));
  };
  if (bad_threshold(options.numeric_metric, options.numeric_threshold) ||
      bad_threshold(options.categorical_metric, options.categorical_threshold)) {
    return "thresholds must be >= 0 for distances and in (0, 1) for p-value tests (alpha)";
  }
  if (!(options.quantile >= 0 && options.quantile <= 1)) return "quantile must be in [0, 1]";
  if (options.history < 1 || options.min_history > options.history) {
    return "dynamic history must be >= 1 and >= its minimum";
  }
  if (!(options.drift_share > 0 && options.drift_share <= 1)) {
    return "drift share must be in (0, 1]";
  }
  if (options.min_samples < 1) return "min samples must be >= 1";
  return {};
}

void DistanceHistory::push(std::size_t feature, double distance, std::size_t capacity) {
  std::deque<double>& past = distances_.at(feature);
  past.push_back(distance);
  while (past.size() > capacity) past.pop_front();
}

DriftReport check(const ReferenceSummary& reference, const FeatureCounts& current,
                  const DecisionOptions& options, DistanceHistory* history,
                  const KsSamples& samples) {
  DriftReport report;
  report.options = options;
  const std::size_t numeric = reference.numeric().size();
  for (std::size_t f = 0; f < numeric; ++f) {
    report.features.push_back(compare_numeric(reference, current, f, options, samples));
  }
  for (std::size_t f = 0; f < reference.categories().size(); ++f) {
    report.features.push_back(compare_categorical(reference, current, f, options));
  }
  for (FeatureDrift& f : report.features) {
    if (f.evaluated) {
      f.value = decision_value(f.metric, f.statistics);
    } else {
      f.note = "fewer than " + std::to_string(options.min_samples) + " present values";
    }
  }
  if (options.policy == ThresholdPolicy::kDynamicQuantile && history != nullptr) {
    for (std::size_t i = 0; i < report.features.size(); ++i) {
      if (report.features[i].evaluated) decide_dynamic(report.features[i], i, options, *history);
    }
  } else {
    decide_static(report.features, options);
  }
  DatasetDrift& dataset = report.dataset;
  for (const FeatureDrift& f : report.features) {
    dataset.evaluated_features += f.evaluated ? 1 : 0;
    dataset.drifted_features += f.drifted ? 1 : 0;
  }
  if (dataset.evaluated_features > 0) {
    dataset.share = static_cast<double>(dataset.drifted_features) /
                    static_cast<double>(dataset.evaluated_features);
    dataset.drifted = options.rule == DatasetRule::kAny ? dataset.drifted_features > 0
                                                        : dataset.share >= options.drift_share;
  }
  return report;
}

nlohmann::json to_json(const FeatureDrift& f) {
  nlohmann::json statistics = nlohmann::json::object();
  const FeatureStatistics& s = f.statistics;
  put(statistics, "psi", s.psi);
  put(statistics, "jensen_shannon", s.jensen_shannon);
  put(statistics, "wasserstein", s.wasserstein);
  put(statistics, "wasserstein_error_bound", s.wasserstein_error_bound);
  put(statistics, "ks_statistic", s.ks_statistic);
  put(statistics, "ks_p_value", s.ks_p_value);
  put(statistics, "ks_error_bound", s.ks_error_bound);
  put(statistics, "ks_sample_reference", s.ks_sample_reference);
  put(statistics, "ks_sample_current", s.ks_sample_current);
  put(statistics, "chi2", s.chi_squared);
  put(statistics, "chi2_p_value", s.chi_squared_p_value);
  put(statistics, "chi2_dof", s.chi_squared_dof);
  put(statistics, "linf", s.l_infinity);
  nlohmann::json current = {{"count", f.current_count}, {"missing", f.current_missing}};
  if (f.categorical) {
    current["unseen"] = f.current_unseen;
    current["unseen_examples"] = f.unseen_examples;
  }
  nlohmann::json out = {
      {"feature", f.feature},
      {"type", f.categorical ? "categorical" : "numeric"},
      {"metric", to_string(f.metric)},
      {"evaluated", f.evaluated},
      {"value", f.value},
      {"threshold", f.threshold},
      {"drifted", f.drifted},
      {"statistics", statistics},
      {"reference", {{"count", f.reference_count}, {"missing", f.reference_missing}}},
      {"current", current},
  };
  if (!f.note.empty()) out["note"] = f.note;
  return out;
}

nlohmann::json to_json(const DriftReport& report) {
  nlohmann::json features = nlohmann::json::array();
  for (const FeatureDrift& f : report.features) features.push_back(to_json(f));
  const DecisionOptions& o = report.options;
  nlohmann::json dataset = {
      {"drifted", report.dataset.drifted},
      {"drifted_features", report.dataset.drifted_features},
      {"evaluated_features", report.dataset.evaluated_features},
      {"share", report.dataset.share},
      {"rule", o.rule == DatasetRule::kAny ? "any" : "share"},
      {"drift_share", o.drift_share},
      {"correction", to_string(o.correction)},
      {"policy", o.policy == ThresholdPolicy::kStatic ? "static" : "dynamic_quantile"},
  };
  if (o.policy == ThresholdPolicy::kDynamicQuantile) {
    dataset["quantile"] = o.quantile;
    dataset["history"] = o.history;
    dataset["min_history"] = o.min_history;
  }
  return {{"features", features}, {"dataset", dataset}};
}

}  // namespace ctd::triggers::drift
