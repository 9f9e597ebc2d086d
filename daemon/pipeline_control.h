// The thread-safe handle between the API's handlers (HTTP thread) and one pipeline's
// loop::PipelineManager (leader thread): a queue of manual training requests the manager
// drains at the start of each round, answering each through a future, and the snapshot the
// manager publishes every round (whether this replica leads the pipeline, whether it is paused,
// the engine's describe()). Pause itself lives in PostgreSQL (pipeline_controls, read by the
// leader each round), not here.
//
// Owned by the daemon's wiring (daemon.cc), shared by the manager and the API; it outlives
// both. Thread-safety: every method may be called from any thread (one mutex).
#pragma once

#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctd::loop {

struct ManualRequest {
  std::string trigger;  // a manual trigger's name; "" = the pipeline's first manual trigger
  std::string reason, requested_by;
};

struct ManualResult {
  bool accepted = false;    // false: refused (no such manual trigger); `message` says why
  std::string message;      // the decision in words
  nlohmann::json decision;  // triggers::Decision::to_json()
};

class PipelineControl {
 public:
  // Queues a request for the manager's next round.
  std::future<ManualResult> request_manual(ManualRequest request);

  struct Pending {
    ManualRequest request;
    std::promise<ManualResult> answer;
  };
  // The manager's side: the queued requests, oldest first.
  std::vector<Pending> take_requests();
  // The manager's side, every round: `leads` false (after a reset) clears the engine state.
  void publish(bool leads, bool paused, nlohmann::json engine);

  struct Snapshot {
    bool leads = false, paused = false;
    nlohmann::json engine;  // null unless leads
    std::chrono::system_clock::time_point at{};
  };
  Snapshot snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::vector<Pending> pending_;
  Snapshot snapshot_;
};

}  // namespace ctd::loop
