#include "generators/messages.h"

#include <cmath>

#include <nlohmann/json.hpp>

namespace ctd::generators {
namespace {

using Json = nlohmann::ordered_json;

Json features_json(const StreamSchema& schema, const Record& record) {
  Json features = Json::object();
  for (std::size_t f = 0; f < schema.features.size(); ++f) {
    const FeatureDef& def = schema.features[f];
    const double value = record.sample.values[f];
    if (def.categorical) {
      features[def.name] = def.values[static_cast<std::size_t>(value)];
    } else {
      features[def.name] = value;
    }
  }
  return features;
}

std::string metric_json(const std::string& model, const std::string& metric, double value,
                        std::uint64_t count, std::int64_t event_time_ms) {
  Json point = {{"model", model},
                {"version", 0},
                {"metric", metric},
                {"value", value},
                {"event_time", event_time_ms},
                {"count", count}};
  return point.dump();
}

}  // namespace

std::string validate(const MessageOptions& o) {
  if (!(o.event_interval_ms >= 0) || !std::isfinite(o.event_interval_ms)) {
    return "--event-interval-ms must be a number >= 0";
  }
  if (o.label_delay > 0 && !o.inferences) {
    return "--label-delay delays labels behind their inferences; it needs --inferences-topic";
  }
  if (o.metric_every == 0) return "--metric-every must be at least 1";
  return {};
}

std::string label_json(const StreamSchema& schema, const Record& record, const std::string& id,
                       std::int64_t event_time_ms) {
  Json message = {{"id", id},
                  {"event_time", event_time_ms},
                  {"features", features_json(schema, record)},
                  {"label", record.sample.label}};
  return message.dump();
}

std::string inference_json(const StreamSchema& schema, const Record& record, const std::string& id,
                           std::int64_t event_time_ms) {
  Json message = {
      {"id", id}, {"event_time", event_time_ms}, {"features", features_json(schema, record)}};
  return message.dump();
}

MessagePlan::MessagePlan(StreamSchema schema, MessageOptions options)
    : schema_(std::move(schema)),
      options_(std::move(options)),
      class_counts_(static_cast<std::size_t>(schema_.num_classes), 0) {}

std::int64_t MessagePlan::event_time_ms(std::uint64_t index) const {
  return options_.start_time_ms +
         std::llround(static_cast<double>(index) * options_.event_interval_ms);
}

void MessagePlan::add(const Record& record, std::vector<Message>& out) {
  const std::string id = options_.id_prefix + std::to_string(record.index);
  const std::int64_t time = event_time_ms(record.index);
  if (options_.inferences) {
    out.push_back({Topic::kInferences, id, inference_json(schema_, record, id, time)});
  }
  held_.push_back(
      {{Topic::kLabels, id, label_json(schema_, record, id, time)}, record.sample.label, time});
  if (held_.size() > options_.label_delay) {
    HeldLabel label = std::move(held_.front());
    held_.pop_front();
    send_label(std::move(label.message), label.label, label.event_time_ms, out);
  }
}

void MessagePlan::finish(std::vector<Message>& out) {
  while (!held_.empty()) {
    HeldLabel label = std::move(held_.front());
    held_.pop_front();
    send_label(std::move(label.message), label.label, label.event_time_ms, out);
  }
  if (window_labels_ > 0) send_metrics(out);
}

void MessagePlan::send_label(Message label, int class_index, std::int64_t event_time_ms,
                             std::vector<Message>& out) {
  out.push_back(std::move(label));
  if (!options_.metrics) return;
  ++class_counts_[static_cast<std::size_t>(class_index)];
  ++window_labels_;
  window_end_ms_ = event_time_ms;
  if (window_labels_ == options_.metric_every) send_metrics(out);
}

void MessagePlan::send_metrics(std::vector<Message>& out) {
  const double n = static_cast<double>(window_labels_);
  if (schema_.num_classes == 2) {
    out.push_back({Topic::kMetrics, options_.model,
                   metric_json(options_.model, "positive_rate", class_counts_[1] / n,
                               window_labels_, window_end_ms_)});
  } else {
    for (std::size_t k = 0; k < class_counts_.size(); ++k) {
      out.push_back({Topic::kMetrics, options_.model,
                     metric_json(options_.model, "class_" + std::to_string(k) + "_rate",
                                 class_counts_[k] / n, window_labels_, window_end_ms_)});
    }
  }
  std::fill(class_counts_.begin(), class_counts_.end(), 0);
  window_labels_ = 0;
}

}  // namespace ctd::generators
