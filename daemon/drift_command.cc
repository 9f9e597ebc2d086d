#include "daemon/drift_command.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/csv_reader.h"
#include "triggers/drift_check.h"
#include "triggers/drift_sample.h"
#include "triggers/drift_summary.h"

namespace ctd::cli {
namespace {

namespace drift = triggers::drift;

constexpr int kNoDrift = 0;
constexpr int kDrift = 1;
constexpr int kUsageError = 2;
constexpr std::size_t kBatchRows = 4096;
constexpr std::size_t kDefaultSample = 50000;

constexpr const char* kDriftUsage =
    R"(usage: ctd drift --reference REF.csv --current CUR.csv [options]
  --features a,b          features to compare (default: every column of REF.csv)
  --categorical c,d       features that are categorical (the others are numeric)
  --metric M              deciding metric: psi, js, wasserstein, ks (numeric), psi, js,
                          chi2, linf (categorical); default wasserstein / js
  --threshold X           its threshold (a distance; alpha for ks and chi2)
  --rule share|any        dataset drift: share of drifted features >= --drift-share
                          (default 0.5), or any drifted feature
  --correction none|bonferroni|bh   p-value correction for ks and chi2 (default none)
  --bins N                numeric quantile bins (default 100); --coarse-bins N for psi
                          and js (default 10, must divide N)
  --sample N              rows per file kept for the exact KS test (default 50000)
  --json                  one JSON document instead of the table
exit status: 0 no dataset drift, 1 dataset drift, 2 usage or input error
)";

struct CommandOptions {
  std::string reference, current;
  std::vector<std::string> features, categorical;
  std::optional<drift::DriftMetric> metric;
  std::optional<double> threshold;
  drift::DecisionOptions decision;
  drift::SummaryOptions summary;
  bool json = false;
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::optional<double> parse_double(const std::string& text) {
  double value = 0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  while (begin < end && *begin == ' ') ++begin;
  while (end > begin && end[-1] == ' ') --end;
  if (begin == end) return std::nullopt;
  if (*begin == '+') ++begin;
  auto [stop, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || stop != end) return std::nullopt;
  return value;
}

std::optional<std::size_t> parse_count(const std::string& text) {
  std::size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0) return std::nullopt;
  return value;
}

// Applies one "--flag value" pair; returns an error message or an empty string.
std::string apply_option(CommandOptions& o, const std::string& flag, const std::string& value) {
  const auto bad = [&] { return "bad value for " + flag + ": '" + value + "'"; };
  if (flag == "--reference") {
    o.reference = value;
  } else if (flag == "--current") {
    o.current = value;
  } else if (flag == "--features") {
    o.features = split_list(value);
  } else if (flag == "--categorical") {
    o.categorical = split_list(value);
  } else if (flag == "--metric") {
    o.metric = drift::parse_metric(value);
    if (!o.metric) return bad();
  } else if (flag == "--threshold" || flag == "--drift-share") {
    const std::optional<double> number = parse_double(value);
    if (!number) return bad();
    if (flag == "--threshold") o.threshold = *number;
    if (flag == "--drift-share") o.decision.drift_share = *number;
  } else if (flag == "--rule") {
    if (value != "share" && value != "any") return bad();
    o.decision.rule = value == "any" ? drift::DatasetRule::kAny : drift::DatasetRule::kShare;
  } else if (flag == "--correction") {
    if (value == "none")
      o.decision.correction = drift::Correction::kNone;
    else if (value == "bonferroni")
      o.decision.correction = drift::Correction::kBonferroni;
    else if (value == "bh")
      o.decision.correction = drift::Correction::kBenjaminiHochberg;
    else
      return bad();
  } else if (flag == "--bins" || flag == "--coarse-bins" || flag == "--sample") {
    const std::optional<std::size_t> number = parse_count(value);
    if (!number) return bad();
    if (flag == "--bins") o.summary.bins = *number;
    if (flag == "--coarse-bins") o.summary.coarse_bins = *number;
    if (flag == "--sample") o.summary.sample_size = *number;
  } else {
    return "unknown option " + flag;
  }
  return {};
}

// The metric and threshold flags set the deciding metric of the feature types it applies to.
void apply_metric(CommandOptions& o) {
  drift::DecisionOptions& d = o.decision;
  if (o.metric && drift::applies_to_numeric(*o.metric)) d.numeric_metric = *o.metric;
  if (o.metric && drift::applies_to_categorical(*o.metric)) d.categorical_metric = *o.metric;
  if (!o.threshold) return;
  if (!o.metric || drift::applies_to_numeric(*o.metric)) d.numeric_threshold = o.threshold;
  if (!o.metric || drift::applies_to_categorical(*o.metric)) d.categorical_threshold = o.threshold;
}

std::variant<CommandOptions, std::string> parse(const Args& args) {
  CommandOptions o;
  o.summary.sample_size = kDefaultSample;
  o.summary.keep_sample = true;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") {
      o.json = true;
      continue;
    }
    if (i + 1 >= args.size()) return "option " + args[i] + " needs a value";
    const std::string problem = apply_option(o, args[i], args[i + 1]);
    if (!problem.empty()) return problem;
    ++i;
  }
  if (o.reference.empty() || o.current.empty()) return "--reference and --current are required";
  apply_metric(o);
  for (const std::string& problem : {drift::validate(o.summary), drift::validate(o.decision)}) {
    if (!problem.empty()) return problem;
  }
  return o;
}

// Where each feature is in a CSV file's columns, numeric then categorical (as the layout).
struct ColumnMap {
  triggers::FeatureLayout layout;
  std::vector<std::size_t> numeric, categorical;
};

// `features`: the names to find in `header` (all of it when empty).
std::variant<ColumnMap, std::string> map_columns(const CommandOptions& o,
                                                 const std::vector<std::string>& wanted,
                                                 const std::vector<std::string>& header,
                                                 const std::string& path) {
  const std::vector<std::string>& features = wanted.empty() ? header : wanted;
  ColumnMap map;
  for (const std::string& name : o.categorical) {
    if (std::find(features.begin(), features.end(), name) == features.end()) {
      return "--categorical names '" + name + "', which is not a compared feature";
    }
  }
  for (const std::string& name : features) {
    const auto column = std::find(header.begin(), header.end(), name);
    if (column == header.end()) return path + ": missing column '" + name + "'";
    const bool categorical =
        std::find(o.categorical.begin(), o.categorical.end(), name) != o.categorical.end();
    (categorical ? map.layout.categorical : map.layout.numeric).push_back(name);
    (categorical ? map.categorical : map.numeric).push_back(column - header.begin());
  }
  return map;
}

// Rows of a CSV file gathered into a FeatureBatchView.
class Batch {
 public:
  explicit Batch(const ColumnMap& map) : map_(map) {}

  std::string add(const std::vector<std::string>& fields, const csv::CsvReader& reader) {
    for (std::size_t f = 0; f < map_.numeric.size(); ++f) {
      const std::string& text = fields[map_.numeric[f]];
      if (is_missing(text)) {
        numeric_.push_back(std::numeric_limits<double>::quiet_NaN());
        continue;
      }
      const std::optional<double> value = parse_double(text);
      if (!value) {
        return reader.path() + ":" + std::to_string(reader.line()) + ": column '" +
               map_.layout.numeric[f] + "' is numeric but holds '" + text + "'";
      }
      numeric_.push_back(*value);
    }
    for (std::size_t f = 0; f < map_.categorical.size(); ++f) {
      const std::string& text = fields[map_.categorical[f]];
      categorical_.push_back(text);
      present_.push_back(text.empty() ? 0 : 1);
    }
    ++rows_;
    return {};
  }
  triggers::FeatureBatchView view() const {
    return {.rows = rows_,
            .numeric_width = map_.numeric.size(),
            .categorical_width = map_.categorical.size(),
            .numeric = numeric_,
            .categorical = categorical_,
            .categorical_set = present_};
  }
  std::size_t rows() const { return rows_; }
  void clear() {
    numeric_.clear();
    categorical_.clear();
    present_.clear();
    rows_ = 0;
  }

 private:
  // Empty fields and the usual spellings of "no value" are missing values, counted as such.
  static bool is_missing(const std::string& text) {
    static const std::set<std::string> kMissing = {"", "NA", "NaN", "nan", "null", "NULL", "None"};
    return kMissing.count(text) > 0;
  }

  const ColumnMap& map_;
  std::vector<double> numeric_;
  std::vector<std::string> categorical_;
  std::vector<std::uint8_t> present_;
  std::size_t rows_ = 0;
};

using BatchFunction = std::function<void(const triggers::FeatureBatchView&)>;

// Streams the rows of `path` in batches to `consume`; returns the row count or an error.
std::variant<std::size_t, std::string> stream(const CommandOptions& o, const std::string& path,
                                              const BatchFunction& consume,
                                              std::optional<ColumnMap>& map) {
  auto opened = csv::CsvReader::open(path);
  if (auto* error = std::get_if<std::string>(&opened)) return *error;
  csv::CsvReader& reader = *std::get<std::unique_ptr<csv::CsvReader>>(opened);
  // Later files are read for the reference's features, in its order.
  std::vector<std::string> wanted = o.features;
  if (map) {
    wanted = map->layout.numeric;
    wanted.insert(wanted.end(), map->layout.categorical.begin(), map->layout.categorical.end());
  }
  auto mapped = map_columns(o, wanted, reader.header(), path);
  if (auto* error = std::get_if<std::string>(&mapped)) return *error;
  map = std::get<ColumnMap>(std::move(mapped));
  Batch batch(*map);
  std::vector<std::string> fields;
  std::string error;
  std::size_t rows = 0;
  while (reader.next(fields, error)) {
    error = batch.add(fields, reader);
    if (!error.empty()) return error;
    ++rows;
    if (batch.rows() == kBatchRows) {
      consume(batch.view());
      batch.clear();
    }
  }
  if (!error.empty()) return error;
  if (batch.rows() > 0) consume(batch.view());
  if (rows == 0) return path + ": no data rows";
  return rows;
}

std::string number(const std::optional<double>& value) {
  if (!value) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", *value);
  return text;
}

void print_table(const drift::DriftReport& report, std::ostream& out) {
  char line[512];
  std::snprintf(line, sizeof line,
                "%-16s %-11s %-14s %-9s %-9s %-7s %-9s %-9s %-9s %-9s %-9s %-9s %-9s %-13s %s\n",
                "feature", "type", "metric", "value", "threshold", "drifted", "psi", "js",
                "wasserst.", "ks", "ks_p", "chi2_p", "linf", "missing r/c", "unseen");
  out << line;
  for (const drift::FeatureDrift& f : report.features) {
    const drift::FeatureStatistics& s = f.statistics;
    const std::string missing =
        std::to_string(f.reference_missing) + "/" + std::to_string(f.current_missing);
    const std::string drifted = !f.evaluated ? "n/a" : f.drifted ? "yes" : "no";
    std::snprintf(line, sizeof line,
                  "%-16s %-11s %-14s %-9s %-9s %-7s %-9s %-9s %-9s %-9s %-9s %-9s %-9s %-13s %s\n",
                  f.feature.c_str(), f.categorical ? "categorical" : "numeric",
                  std::string(drift::to_string(f.metric)).c_str(),
                  number(f.evaluated ? std::optional(f.value) : std::nullopt).c_str(),
                  number(f.threshold).c_str(), drifted.c_str(), number(s.psi).c_str(),
                  number(s.jensen_shannon).c_str(), number(s.wasserstein).c_str(),
                  number(s.ks_statistic).c_str(), number(s.ks_p_value).c_str(),
                  number(s.chi_squared_p_value).c_str(), number(s.l_infinity).c_str(),
                  missing.c_str(), f.categorical ? std::to_string(f.current_unseen).c_str() : "-");
    out << line;
    if (!f.note.empty()) out << "  " << f.feature << ": " << f.note << "\n";
  }
}

std::string ks_note(std::size_t sample, std::size_t reference_rows, std::size_t current_rows) {
  if (reference_rows <= sample && current_rows <= sample) {
    return "KS: exact two-sample statistic on all rows of both files";
  }
  return "KS: exact two-sample statistic on uniform samples of at most " + std::to_string(sample) +
         " rows per file (reference " + std::to_string(reference_rows) + " rows, current " +
         std::to_string(current_rows) + " rows); other statistics use every row";
}

int report(const CommandOptions& o, const drift::DriftReport& result, std::size_t reference_rows,
           std::size_t current_rows) {
  const std::size_t sample = o.summary.sample_size;
  if (o.json) {
    nlohmann::json out = drift::to_json(result);
    out["reference"] = {{"path", o.reference}, {"rows", reference_rows}};
    out["current"] = {{"path", o.current}, {"rows", current_rows}};
    out["ks"] = {{"exact", true},
                 {"sample_size", sample},
                 {"all_rows", reference_rows <= sample && current_rows <= sample}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "reference " << o.reference << " (" << reference_rows << " rows), current "
              << o.current << " (" << current_rows << " rows)\n";
    print_table(result, std::cout);
    const bool any_numeric =
        std::any_of(result.features.begin(), result.features.end(),
                    [](const drift::FeatureDrift& f) { return !f.categorical; });
    if (any_numeric) std::cout << ks_note(sample, reference_rows, current_rows) << "\n";
    const drift::DatasetDrift& d = result.dataset;
    char share[64];
    std::snprintf(share, sizeof share, "%.2f", d.share);
    std::cout << "dataset: " << (d.drifted ? "DRIFT" : "no drift") << " (" << d.drifted_features
              << " of " << d.evaluated_features << " features drifted, share " << share
              << (o.decision.rule == drift::DatasetRule::kAny
                      ? "; rule: any feature"
                      : "; rule: share >= " + number(o.decision.drift_share))
              << ")\n";
  }
  return result.dataset.drifted ? kDrift : kNoDrift;
}

int fail(const std::string& message) {
  std::cerr << "ctd drift: " << message << "\n";
  return kUsageError;
}

}  // namespace

int drift(const Args& args) {
  if (std::find(args.begin(), args.end(), "--help") != args.end() ||
      std::find(args.begin(), args.end(), "-h") != args.end()) {
    std::cout << kDriftUsage;
    return kNoDrift;
  }
  auto parsed = parse(args);
  if (auto* problem = std::get_if<std::string>(&parsed)) {
    std::cerr << "ctd drift: " << *problem << "\n" << kDriftUsage;
    return kUsageError;
  }
  const CommandOptions& o = std::get<CommandOptions>(parsed);
  std::optional<ColumnMap> map;
  // Pass 1 needs the layout before the builder exists: read the header first.
  std::optional<drift::ReferenceBuilder> builder;
  const auto sample = [&](const triggers::FeatureBatchView& batch) {
    if (!builder) {
      builder.emplace(drift::FeatureColumns::select(map->layout, {}, nullptr), o.summary);
    }
    builder->sample(batch);
  };
  auto rows = stream(o, o.reference, sample, map);
  if (auto* error = std::get_if<std::string>(&rows)) return fail(*error);
  const std::size_t reference_rows = std::get<std::size_t>(rows);
  rows = stream(
      o, o.reference, [&](const triggers::FeatureBatchView& b) { builder->count(b); }, map);
  if (auto* error = std::get_if<std::string>(&rows)) return fail(*error);
  const drift::ReferenceSummary summary = builder->finish();

  drift::FeatureCounts counts(summary);
  // The current file's side of the exact KS test (its batches hold the features only).
  drift::NumericRowSample current_sample(o.summary.sample_size, summary.columns().numeric,
                                         o.summary.seed + 1);
  rows = stream(
      o, o.current,
      [&](const triggers::FeatureBatchView& batch) {
        counts.add(batch, 0, batch.rows, summary);
        current_sample.add(batch, 0, batch.rows);
      },
      map);
  if (auto* error = std::get_if<std::string>(&rows)) return fail(*error);
  const std::vector<std::vector<double>> samples = current_sample.sorted_columns();
  const drift::DriftReport result =
      drift::check(summary, counts, o.decision, nullptr, drift::KsSamples{&samples});
  return report(o, result, reference_rows, std::get<std::size_t>(rows));
}

}  // namespace ctd::cli
