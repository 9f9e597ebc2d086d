#include "bench/scenario/stream_data.h"

#include <stdexcept>

namespace ctd::bench {

triggers::FeatureBatchView StreamData::view(std::int64_t from, std::int64_t to) const {
  triggers::FeatureBatchView v;
  v.rows = static_cast<std::size_t>(to - from);
  v.numeric_width = width();
  v.numeric = std::span<const double>(numeric).subspan(static_cast<std::size_t>(from) * width(),
                                                       v.rows * width());
  return v;
}

std::span<const double> StreamData::labels_of(std::int64_t from, std::int64_t to) const {
  return std::span<const double>(labels).subspan(static_cast<std::size_t>(from),
                                                 static_cast<std::size_t>(to - from));
}

StreamData generate(std::string name, const generators::StreamSpec& spec, std::int64_t samples) {
  if (const std::string problem = generators::validate(spec); !problem.empty())
    throw std::invalid_argument(name + ": " + problem);
  generators::DriftStream stream(spec);
  StreamData data;
  data.name = std::move(name);
  for (const generators::FeatureDef& feature : stream.schema().features) {
    if (feature.categorical)
      throw std::invalid_argument(data.name + ": categorical feature " + feature.name);
    data.layout.numeric.push_back(feature.name);
  }
  data.num_classes = stream.schema().num_classes;
  data.task = data.num_classes == 2 ? trainers::Task::kBinary : trainers::Task::kMulticlass;
  data.numeric.reserve(static_cast<std::size_t>(samples) * data.width());
  data.labels.reserve(static_cast<std::size_t>(samples));
  for (std::int64_t i = 0; i < samples; ++i) {
    const generators::Record record = stream.next();
    data.numeric.insert(data.numeric.end(), record.sample.values.begin(),
                        record.sample.values.end());
    data.labels.push_back(record.sample.label);
  }
  return data;
}

}  // namespace ctd::bench
