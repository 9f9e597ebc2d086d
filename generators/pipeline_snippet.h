// The `pipelines:` entry of a ctd configuration that ingests a generated stream: its topics,
// each feature with its type (numeric with the generator's bounds, categorical with its
// categories as allowed_values) and the label's kind. `ctd gen --print-pipeline` prints it.
#pragma once

#include <optional>
#include <string>

#include "generators/concept.h"

namespace ctd::generators {

struct PipelineTopics {
  std::string labels;
  std::optional<std::string> inferences, metrics;
};

// YAML text: "pipelines:\n  - name: ...". Names and topics are written quoted.
std::string pipeline_yaml(const StreamSchema& schema, const std::string& pipeline,
                          const PipelineTopics& topics);

}  // namespace ctd::generators
