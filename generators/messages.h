// Records as the messages ctd ingests (README.md, "Message formats"), in the order a producer
// sends them. Every record becomes a label — {"id", "event_time", "features", "label"} — and,
// when inferences are on, an inference with the same id, event time and features. With a
// label delay of N, the label of record i is sent after the inference of record i + N, as
// labels that arrive later than their predictions do; the labels still held back go out at
// the end. With metrics on, every `metric_every` labels sent (and the rest at the end) give a
// metric point of the labels' class shares: "positive_rate" (the share of label 1) for a
// binary stream, "class_K_rate" for each class K of a multiclass one, with "count" the
// labels in the window, the event time of its last label, the model `model`, version 0.
//
// Record i has id `<id_prefix><i>` and event time start_time_ms + round(i * event_interval_ms).
//
// Thread-safety: none.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "generators/concept.h"
#include "generators/drift_stream.h"

namespace ctd::generators {

inline constexpr std::int64_t kDefaultStartTimeMs = 1767225600000;  // 2026-01-01T00:00:00Z

enum class Topic { kLabels, kInferences, kMetrics };

struct Message {
  Topic topic = Topic::kLabels;
  std::string key;      // the record's id; the model for metric points
  std::string payload;  // one JSON object
};

struct MessageOptions {
  std::string id_prefix = "gen-";
  std::int64_t start_time_ms = kDefaultStartTimeMs;
  double event_interval_ms = 1000;  // >= 0
  bool inferences = false;
  std::uint64_t label_delay = 0;  // needs inferences
  bool metrics = false;
  std::uint64_t metric_every = 1000;  // >= 1
  std::string model = "gen";          // metric points' "model"
};

// Empty when the options are usable, otherwise what is wrong.
std::string validate(const MessageOptions& options);

// The JSON of one message (no trailing newline). Numeric features are written as the shortest
// decimal that reads back as the same double; categorical ones as their category's name.
std::string label_json(const StreamSchema& schema, const Record& record, const std::string& id,
                       std::int64_t event_time_ms);
std::string inference_json(const StreamSchema& schema, const Record& record, const std::string& id,
                           std::int64_t event_time_ms);

class MessagePlan {
 public:
  // REQUIRES: validate(options) is empty.
  MessagePlan(StreamSchema schema, MessageOptions options);
  // Appends the messages due once `record` exists.
  void add(const Record& record, std::vector<Message>& out);
  // Appends the labels still held back by the delay and the last partial metric window.
  void finish(std::vector<Message>& out);

  std::int64_t event_time_ms(std::uint64_t index) const;

 private:
  void send_label(Message label, int class_index, std::int64_t event_time_ms,
                  std::vector<Message>& out);
  void send_metrics(std::vector<Message>& out);

  struct HeldLabel {
    Message message;
    int label;
    std::int64_t event_time_ms;
  };

  StreamSchema schema_;
  MessageOptions options_;
  std::deque<HeldLabel> held_;
  std::vector<std::uint64_t> class_counts_;  // labels per class in the metric window
  std::uint64_t window_labels_ = 0;
  std::int64_t window_end_ms_ = 0;
};

}  // namespace ctd::generators
