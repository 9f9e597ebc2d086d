#include "daemon/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace ctd::metrics {
namespace {

// Lock-free add for std::atomic<double> (relaxed: values are independent statistics).
void atomic_add(std::atomic<double>& target, double amount) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + amount, std::memory_order_relaxed)) {
  }
}

bool is_name_char(char c, bool first, bool allow_colon) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  const bool colon = allow_colon && c == ':';
  return alpha || colon || (!first && c >= '0' && c <= '9');
}

bool is_valid_name(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (std::size_t index = 0; index < name.size(); ++index) {
    if (!is_name_char(name[index], index == 0, allow_colon)) return false;
  }
  return true;
}

void validate_names(const std::string& name, const std::vector<std::string>& label_names,
                    bool is_histogram) {
  if (!is_valid_name(name, /*allow_colon=*/true)) {
    throw std::invalid_argument("invalid metric name: '" + name + "'");
  }
  for (std::size_t index = 0; index < label_names.size(); ++index) {
    const std::string& label = label_names[index];
    if (!is_valid_name(label, /*allow_colon=*/false)) {
      throw std::invalid_argument("invalid label name '" + label + "' for " + name);
    }
    if (is_histogram && label == "le") {
      throw std::invalid_argument("label name 'le' is reserved for histogram " + name);
    }
    if (std::find(label_names.begin(), label_names.begin() + index, label) !=
        label_names.begin() + index) {
      throw std::invalid_argument("duplicate label name '" + label + "' for " + name);
    }
  }
}

// Sample values and bounds: integers (counts, the common case) in plain digits, others in
// shortest round-trip form; NaN and infinities as Prometheus spells them.
void append_number(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buffer[64];
    constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
    const bool integral = value == std::trunc(value) && std::fabs(value) < kExactIntegers;
    const auto result =
        integral ? std::to_chars(buffer, buffer + sizeof buffer, static_cast<long long>(value))
                 : std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, result.ptr);
  }
}

void append_escaped(std::string& out, std::string_view text, bool escape_quote) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void append_label(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += "=\"";
  append_escaped(out, value, /*escape_quote=*/true);
  out += '"';
}

// `{a="x",b="y"}` (plus le="..." for histogram buckets), or nothing when there are no labels.
void append_labels(std::string& out, const std::vector<std::string>& names,
                   const LabelValues& values, const std::string* le = nullptr) {
  if (names.empty() && le == nullptr) return;
  out += '{';
  for (std::size_t index = 0; index < names.size(); ++index) {
    if (index > 0) out += ',';
    append_label(out, names[index], values[index]);
  }
  if (le != nullptr) {
    if (!names.empty()) out += ',';
    append_label(out, "le", *le);
  }
  out += '}';
}

void append_header(std::string& out, const std::string& name, const std::string& help,
                   std::string_view type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  append_escaped(out, help, /*escape_quote=*/false);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void append_sample(std::string& out, std::string_view name, const std::vector<std::string>& names,
                   const LabelValues& values, double value, const std::string* le = nullptr) {
  out += name;
  append_labels(out, names, values, le);
  out += ' ';
  append_number(out, value);
  out += '\n';
}

// One child's lines, by metric kind; the family renders through these overloads.
std::string_view type_name(const Counter*) { return "counter"; }
std::string_view type_name(const Gauge*) { return "gauge"; }
std::string_view type_name(const Histogram*) { return "histogram"; }

void append_child(std::string& out, const std::string& name, const std::vector<std::string>& names,
                  const LabelValues& values, const Counter& counter) {
  append_sample(out, name, names, values, counter.value());
}

void append_child(std::string& out, const std::string& name, const std::vector<std::string>& names,
                  const LabelValues& values, const Gauge& gauge) {
  append_sample(out, name, names, values, gauge.value());
}

void append_child(std::string& out, const std::string& name, const std::vector<std::string>& names,
                  const LabelValues& values, const Histogram& histogram) {
  const Histogram::Snapshot snapshot = histogram.snapshot();
  const std::string bucket_name = name + "_bucket";
  for (std::size_t index = 0; index < snapshot.cumulative_counts.size(); ++index) {
    const bool is_inf = index == snapshot.upper_bounds.size();
    std::string le;
    append_number(le, is_inf ? HUGE_VAL : snapshot.upper_bounds[index]);
    append_sample(out, bucket_name, names, values,
                  static_cast<double>(snapshot.cumulative_counts[index]), &le);
  }
  append_sample(out, name + "_sum", names, values, snapshot.sum);
  append_sample(out, name + "_count", names, values, static_cast<double>(snapshot.count));
}

std::vector<double> checked_bounds(std::vector<double> bounds) {
  if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0) bounds.pop_back();
  for (std::size_t index = 0; index < bounds.size(); ++index) {
    const bool increasing = index == 0 || bounds[index - 1] < bounds[index];
    if (std::isnan(bounds[index]) || !increasing) {
      throw std::invalid_argument("histogram bounds must be strictly increasing and not NaN");
    }
  }
  return bounds;
}

}  // namespace

void Counter::inc(double amount) {
  if (!(amount >= 0)) return;  // negative or NaN: ignored, see the header
  atomic_add(value_, amount);
}

void Gauge::inc(double amount) { atomic_add(value_, amount); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(checked_bounds(std::move(upper_bounds))),
      bucket_counts_(new std::atomic<std::uint64_t>[upper_bounds_.size() + 1]) {
  for (std::size_t index = 0; index <= upper_bounds_.size(); ++index) {
    bucket_counts_[index].store(0, std::memory_order_relaxed);
  }
}

void Histogram::observe(double v) {
  const auto bound = std::find_if(upper_bounds_.begin(), upper_bounds_.end(),
                                  [v](double upper) { return v <= upper; });
  bucket_counts_[bound - upper_bounds_.begin()].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, v);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  snapshot.upper_bounds = upper_bounds_;
  std::uint64_t running = 0;
  for (std::size_t index = 0; index <= upper_bounds_.size(); ++index) {
    running += bucket_counts_[index].load(std::memory_order_relaxed);
    snapshot.cumulative_counts.push_back(running);
  }
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  snapshot.count = running;
  return snapshot;
}

Registry::FamilyBase::FamilyBase(std::string name, std::string help,
                                 std::vector<std::string> label_names)
    : name(std::move(name)), help(std::move(help)), label_names(std::move(label_names)) {}

template <typename Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                       Factory make_child)
    : FamilyBase(std::move(name), std::move(help), std::move(label_names)),
      make_child_(std::move(make_child)) {
  if (this->label_names.empty()) children_.emplace(LabelValues{}, make_child_());
}

template <typename Metric>
Metric& Family<Metric>::with(const LabelValues& values) {
  if (values.size() != label_names.size()) {
    throw std::invalid_argument(name + ": expected " + std::to_string(label_names.size()) +
                                " label values, got " + std::to_string(values.size()));
  }
  std::lock_guard lock(mutex_);
  auto child = children_.find(values);
  if (child == children_.end()) child = children_.emplace(values, make_child_()).first;
  retired_.erase(values);
  return *child->second;
}

template <typename Metric>
void Family<Metric>::retire(const LabelValues& values) {
  std::lock_guard lock(mutex_);
  if (children_.count(values)) retired_.insert(values);
}

template <typename Metric>
void Family<Metric>::render(std::string& out) const {
  append_header(out, name, help, type_name(static_cast<const Metric*>(nullptr)));
  std::lock_guard lock(mutex_);
  for (const auto& [values, child] : children_) {
    if (!retired_.count(values)) append_child(out, name, label_names, values, *child);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry::FamilyBase& Registry::add_family(std::unique_ptr<FamilyBase> family) {
  std::lock_guard lock(mutex_);
  for (const auto& existing : families_) {
    if (existing->name == family->name) {
      throw std::invalid_argument("metric already registered: " + family->name);
    }
  }
  families_.push_back(std::move(family));
  return *families_.back();
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
  validate_names(name, label_names, /*is_histogram=*/false);
  std::unique_ptr<FamilyBase> family(new Family<Counter>(
      name, help, std::move(label_names), [] { return std::make_unique<Counter>(); }));
  return static_cast<Family<Counter>&>(add_family(std::move(family)));
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names) {
  validate_names(name, label_names, /*is_histogram=*/false);
  std::unique_ptr<FamilyBase> family(new Family<Gauge>(name, help, std::move(label_names),
                                                       [] { return std::make_unique<Gauge>(); }));
  return static_cast<Family<Gauge>&>(add_family(std::move(family)));
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<double> upper_bounds,
                                       std::vector<std::string> label_names) {
  validate_names(name, label_names, /*is_histogram=*/true);
  auto bounds = checked_bounds(std::move(upper_bounds));  // fail here, not at first use
  std::unique_ptr<FamilyBase> family(
      new Family<Histogram>(name, help, std::move(label_names),
                            [bounds] { return std::make_unique<Histogram>(bounds); }));
  return static_cast<Family<Histogram>&>(add_family(std::move(family)));
}

void Registry::on_collect(std::function<void()> callback) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(callback));
}

std::string Registry::render() const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  // Outside the lock: a callback may look up children or even register families.
  for (const auto& collect : collectors) collect();

  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& family : families_) family->render(out);
  return out;
}

}  // namespace ctd::metrics
