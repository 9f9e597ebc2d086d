// A small Prometheus metrics registry and its text exposition (format version 0.0.4).
//
// Families are registered once at start-up (name, help, label names); children are looked up
// by label values and live as long as the registry. Updating a child is lock-free (atomics);
// looking one up takes a mutex, so hot paths keep the child reference. render() may run
// concurrently with updates from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace ctd::metrics {

using LabelValues = std::vector<std::string>;

// A monotonically increasing value.
class Counter {
 public:
  // REQUIRES: amount >= 0. A negative (or NaN) amount is ignored rather than trusted, so a
  // caller's bug cannot make the counter go backwards.
  void inc(double amount = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down.
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double amount = 1.0);
  void dec(double amount = 1.0) { inc(-amount); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Cumulative histogram with fixed upper bounds (a +Inf bucket is implicit). A value v falls in
// the first bucket whose bound satisfies v <= bound; NaN falls in +Inf.
class Histogram {
 public:
  // REQUIRES: bounds strictly increasing and not NaN (std::invalid_argument otherwise); a
  // trailing +Inf bound is dropped since that bucket is implicit.
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  // Snapshot for rendering: cumulative counts per bound (+Inf last), sum and count.
  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<std::uint64_t> cumulative_counts;
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> bucket_counts_;  // non-cumulative, +Inf last
  std::atomic<double> sum_{0.0};
  // No separate count: the snapshot sums the buckets, so _count always equals the +Inf bucket.
};

template <typename Metric>
class Family;

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Names must match [a-zA-Z_:][a-zA-Z0-9_:]*; label names [a-zA-Z_][a-zA-Z0-9_]*.
  // Registering the same name twice throws std::invalid_argument.
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<double> upper_bounds,
                               std::vector<std::string> label_names = {});

  // Called at the start of every render(), e.g. to refresh gauges computed on demand.
  void on_collect(std::function<void()> callback);

  // Text exposition: # HELP, # TYPE, samples; families in registration order, children in
  // label-value order; label values escaped (\\, \", \n).
  std::string render() const;

 private:
  struct FamilyBase;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
  std::vector<std::function<void()>> collectors_;
  template <typename Metric>
  friend class Family;

  // Takes ownership; throws std::invalid_argument if the name is already registered.
  FamilyBase& add_family(std::unique_ptr<FamilyBase> family);
};

// What every family has; the registry renders through it.
struct Registry::FamilyBase {
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  // Appends # HELP, # TYPE and one sample line (or a histogram's lines) per child.
  virtual void render(std::string& out) const = 0;

  const std::string name;
  const std::string help;
  const std::vector<std::string> label_names;
};

// One metric name with its children, one per distinct tuple of label values. Children are
// created on first use and never destroyed, so the references returned stay valid for the
// registry's lifetime; a retired child is kept but not rendered. Thread-safe.
template <typename Metric>
class Family final : public Registry::FamilyBase {
 public:
  // The child for these values (in label-name order). Throws std::invalid_argument if
  // values.size() differs from the number of label names. A retired child is rendered again,
  // with the value it had.
  Metric& with(const LabelValues& values);
  // The single child of a label-less family (created at registration, so it always renders).
  Metric& get() { return with({}); }
  // Stops rendering the child for these values (a series that no longer applies, e.g. a
  // pipeline this replica stopped leading) until with() asks for it again; nothing happens
  // when there is no such child. References to it stay valid.
  void retire(const LabelValues& values);
  // Calls fn(label values, child) for every child that is not retired, in label-value order,
  // under the family's lock (fn must not use this family).
  template <typename Fn>
  void for_each(Fn&& fn) const {
    std::lock_guard lock(mutex_);
    for (const auto& [values, child] : children_)
      if (!retired_.count(values)) fn(values, *child);
  }

 private:
  friend class Registry;
  using Factory = std::function<std::unique_ptr<Metric>()>;
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         Factory make_child);
  void render(std::string& out) const override;

  const Factory make_child_;
  mutable std::mutex mutex_;
  std::map<LabelValues, std::unique_ptr<Metric>> children_;  // label-value order for render
  std::set<LabelValues> retired_;                            // children not rendered
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

}  // namespace ctd::metrics
