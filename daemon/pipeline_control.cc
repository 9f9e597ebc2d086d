#include "daemon/pipeline_control.h"

namespace ctd::loop {

std::future<ManualResult> PipelineControl::request_manual(ManualRequest request) {
  std::lock_guard lock(mutex_);
  pending_.push_back({std::move(request), {}});
  return pending_.back().answer.get_future();
}

std::vector<PipelineControl::Pending> PipelineControl::take_requests() {
  std::lock_guard lock(mutex_);
  return std::exchange(pending_, {});
}

void PipelineControl::publish(bool leads, bool paused, nlohmann::json engine) {
  std::lock_guard lock(mutex_);
  snapshot_ = {leads, paused, leads ? std::move(engine) : nlohmann::json(),
               std::chrono::system_clock::now()};
}

PipelineControl::Snapshot PipelineControl::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

}  // namespace ctd::loop
