#include "generators/pipeline_snippet.h"

#include <charconv>
#include <sstream>

namespace ctd::generators {
namespace {

// The shortest decimal that reads back as `value`.
std::string number(double value) {
  char text[32];
  auto [end, ec] = std::to_chars(text, text + sizeof text, value);
  return ec == std::errc() ? std::string(text, end) : std::string("nan");
}

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

void write_feature(std::ostream& out, const FeatureDef& f) {
  out << "      - {name: " << f.name;
  if (f.categorical) {
    out << ", type: categorical, allowed_values: [";
    for (std::size_t i = 0; i < f.values.size(); ++i) out << (i ? ", " : "") << f.values[i];
    out << "]}\n";
    return;
  }
  out << ", type: numeric";
  if (f.min) out << ", min: " << number(*f.min);
  if (f.max) out << ", max: " << number(*f.max);
  out << "}\n";
}

}  // namespace

std::string pipeline_yaml(const StreamSchema& schema, const std::string& pipeline,
                          const PipelineTopics& topics) {
  std::ostringstream out;
  out << "pipelines:\n  - name: " << quoted(pipeline) << "\n";
  out << "    topics: {labels: " << quoted(topics.labels);
  if (topics.inferences) out << ", inferences: " << quoted(*topics.inferences);
  if (topics.metrics) out << ", metrics: " << quoted(*topics.metrics);
  out << "}\n    features:\n";
  for (const FeatureDef& f : schema.features) write_feature(out, f);
  if (schema.num_classes == 2) {
    out << "    label: {kind: binary}\n";
  } else {
    out << "    label: {kind: multiclass, num_classes: " << schema.num_classes << "}\n";
  }
  return out.str();
}

}  // namespace ctd::generators
