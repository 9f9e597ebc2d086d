// PipelineManager's side of the API's PipelineControl (daemon/pipeline_control.h): kept apart
// from pipeline_manager.cc so the loop itself stays as it was.
#include <spdlog/spdlog.h>

#include "daemon/pipeline_manager.h"

namespace ctd::loop {
namespace {

std::string first_manual_trigger(const config::PipelineOptions& pipeline) {
  for (const auto& t : pipeline.triggers.triggers)
    if (t.kind() == triggers::TriggerKind::kManual) return t.name();
  return "";
}

}  // namespace

bool PipelineManager::serve_control() {
  const pg::PgResult r =
      connection_->exec("SELECT paused FROM pipeline_controls WHERE pipeline_id = $1",
                        {std::to_string(pipeline_id_)});
  const bool paused = r.rows() == 1 && r.text(0, 0) == "t";
  if (!control_) return paused;
  for (PipelineControl::Pending& pending : control_->take_requests()) answer(pending);
  return paused;
}

void PipelineManager::answer(PipelineControl::Pending& pending) {
  const ManualRequest& request = pending.request;
  const std::string trigger =
      request.trigger.empty() ? first_manual_trigger(pipeline_) : request.trigger;
  if (trigger.empty()) {
    pending.answer.set_value({false, "the pipeline has no manual trigger", nullptr});
    return;
  }
  auto decision = engine_->request_manual(trigger, request.reason, request.requested_by);
  if (!decision) {
    pending.answer.set_value({false, decision.error().message, nullptr});
    return;
  }
  spdlog::info("{}: manual request by {} ({}): {}", pipeline_.name, request.requested_by,
               request.reason, decision.value().to_json().dump());
  try {
    handle(decision.value());
  } catch (const std::exception& e) {
    pending.answer.set_value({false, std::string("the request failed: ") + e.what(), nullptr});
    throw;
  }
  pending.answer.set_value({true,
                            decision.value().start_training() ? "training started" : "deferred",
                            decision.value().to_json()});
}

}  // namespace ctd::loop
