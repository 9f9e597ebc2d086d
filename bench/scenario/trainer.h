// Trains the scenario benchmark's models with the real trainer: for rows [from, to) of a
// stream it writes a run directory as the daemon does (spec.json and snapshot.safetensors,
// trainers/README.md), runs `ctd-train train --run-dir DIR` as a child process, waits for it
// and returns the model.pt it wrote with its validation metrics. The same rows, spec and seed
// give the same model (ctd-train is deterministic on the CPU), so a window already trained for
// another policy is reused: the cache is keyed by (stream, from, to).
//
// Thread-safety: none; one owner.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <tuple>

#include <nlohmann/json.hpp>

#include "bench/scenario/stream_data.h"
#include "trainers/run_spec.h"

namespace ctd::bench {

struct TrainedModel {
  std::filesystem::path model;  // the model.pt
  nlohmann::json validation;    // metrics.json "validation"
  std::int64_t rows = 0;        // training-set size (the snapshot's rows)
  double seconds = 0;           // wall time of the ctd-train process
};

class Trainer {
 public:
  Trainer(std::filesystem::path ctd_train, std::filesystem::path work_dir, trainers::RunSpec spec);

  // The model trained on rows [from, to) of `data`. Throws std::runtime_error when ctd-train
  // fails, with the end of its stderr.
  const TrainedModel& train(const StreamData& data, std::int64_t from, std::int64_t to);

  int runs() const { return runs_; }           // ctd-train processes started
  int reused() const { return reused_; }       // answers from the cache
  double seconds() const { return seconds_; }  // their total wall time

 private:
  void write_run_dir(const std::filesystem::path& dir, const StreamData& data, std::int64_t from,
                     std::int64_t to) const;
  void run_trainer(const std::filesystem::path& dir) const;

  std::filesystem::path ctd_train_;
  std::filesystem::path work_dir_;
  trainers::RunSpec spec_;
  std::map<std::tuple<std::string, std::int64_t, std::int64_t>, TrainedModel> cache_;
  int runs_ = 0;
  int reused_ = 0;
  double seconds_ = 0;
};

}  // namespace ctd::bench
