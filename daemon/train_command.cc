// ctd train: one training run now, from the command line, through the same TrainingService
// the daemon uses (snapshot export, supervised ctd-train, run recorded in PostgreSQL), then,
// unless --no-promote, the promotion gate: the model becomes a candidate version and is
// promoted, staged or rejected (daemon/promotion_service.h). Without --seq-last the newest
// samples are left out of training as the gate's held-out data. SIGINT/SIGTERM cancel the run.
// Exit codes: 0 succeeded (whatever the gate decided), 1 failed, 2 usage or configuration
// error, 3 cancelled.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <limits>
#include <thread>

#include <spdlog/spdlog.h>

#include "daemon/cli.h"
#include "daemon/launcher.h"
#include "daemon/registry_wiring.h"
#include "daemon/run_store.h"
#include "daemon/schema.h"
#include "daemon/signals.h"
#include "daemon/training_service.h"

namespace ctd::cli {
namespace {

constexpr int kExitFailed = 1, kExitUsage = 2, kExitCancelled = 3;

// Applies --last-samples, --seq-first/--seq-last and the pipeline's dataset window.
std::optional<training::DatasetSelection> selection_from(const Args& args,
                                                         const config::PipelineOptions& p) {
  training::DatasetSelection s = training::dataset_selection(p);
  for (const auto& [flag, target] :
       {std::pair{"--last-samples", &s.last_samples}, std::pair{"--seq-first", &s.seq_first},
        std::pair{"--seq-last", &s.seq_last}}) {
    if (auto v = flag_value(args, flag)) {
      const auto n = parse_int64(*v, 1, std::numeric_limits<std::int64_t>::max());
      if (!n) {
        std::cerr << flag << " must be a positive integer, got '" << *v << "'\n";
        return std::nullopt;
      }
      *target = *n;
    }
  }
  return s;
}

}  // namespace

int train(const Args& args) {
  const sigset_t signals = block_shutdown_signals();
  const auto path = config_path(args);
  if (!path) return kExitUsage;
  const auto options = load_config(*path);
  if (!options) return kExitUsage;
  configure_command_logging(options->log);
  const auto name = flag_value(args, "--pipeline");
  const config::PipelineOptions* pipeline = nullptr;
  for (const auto& p : options->pipelines)
    if (name && p.name == *name) pipeline = &p;
  if (!pipeline) {
    std::cerr << "--pipeline NAME is required and must name a configured pipeline\n";
    return kExitUsage;
  }
  training::RunRequest request;
  request.pipeline = *pipeline;
  request.spec = pipeline->training;
  request.reason = "manual: " + flag_value(args, "--reason").value_or("ctd train");
  request.requested_by = "cli";
  const auto selection = selection_from(args, *pipeline);
  if (!selection) return kExitUsage;
  request.selection = *selection;
  if (auto epochs = flag_value(args, "--epochs")) {
    const auto n = parse_int(*epochs, 1, 100000);
    if (!n) {
      std::cerr << "--epochs must be in [1, 100000]\n";
      return kExitUsage;
    }
    request.spec.epochs = *n;
  }
  if (auto device = flag_value(args, "--device")) request.spec.device = *device;
  const bool promote = !has_flag(args, "--no-promote");

  try {
    {
      pg::PgConnection connection(pg::with_connect_timeout(options->postgres.dsn, 10));
      const auto migrations = schema::builtin_migrations();
      if (has_flag(args, "--migrate")) schema::migrate(connection, migrations);
      const auto status = schema::inspect(connection, migrations);
      if (!status.current()) {
        std::cerr << status.describe() << " (or pass --migrate)\n";
        return kExitUsage;
      }
    }
    wiring::RegistryParts registry(*options);
    std::optional<int> parent_version;
    if (request.spec.init == trainers::InitKind::kProduction) {
      if (const auto production = registry.registry.production(pipeline->name)) {
        request.warm_start = training::WarmStart{registry.registry.verified_artifact(*production),
                                                 promotion::vocabularies_of(production->manifest)};
        parent_version = production->version;
      } else {
        std::cerr << "note: init is production but " << pipeline->name
                  << " has no production model yet; training from scratch\n";
        request.spec.init = trainers::InitKind::kScratch;
      }
    }
    training::RunStore store(options->postgres.dsn, training::this_supervisor());
    if (promote && !request.selection.seq_last) {
      // Leave the newest samples out: they are the promotion gate's held-out data.
      pg::PgConnection connection(pg::with_connect_timeout(options->postgres.dsn, 10));
      request.selection.seq_last = promotion::training_seq_last(
          connection, store.pipeline_id(pipeline->name), pipeline->promotion);
    }
    for (auto id : store.recover_abandoned())
      spdlog::warn("training run {} was left unfinished by a stopped daemon; marked failed", id);
    training::LocalProcessLauncher launcher;
    training::TrainingService service(wiring::training_settings(options->training),
                                      options->postgres.dsn, launcher, store);
    const std::string request_reason = request.reason;
    const std::int64_t run_id = service.start(std::move(request));
    std::cerr << "training run " << run_id << " started\n";

    std::atomic<bool> finished{false};
    std::thread canceller([&] {
      const timespec tick{0, 200'000'000};
      while (!finished) {
        if (sigtimedwait(&signals, nullptr, &tick) > 0)
          service.cancel(run_id, "interrupted (ctd train received a signal)");
      }
    });
    const training::RunResult result = service.wait(run_id);
    finished = true;
    canceller.join();

    const auto row = store.get(run_id);
    nlohmann::json summary = {{"run_id", run_id},
                              {"state", training::run_state_name(result.state)},
                              {"run_dir", result.run_dir.string()}};
    if (!result.failure_reason.empty()) summary["failure_reason"] = result.failure_reason;
    if (row && row->snapshot_id) summary["snapshot_id"] = *row->snapshot_id;
    if (!result.metrics.is_null())
      summary["metrics"] = result.metrics.value("validation", nlohmann::json());
    if (promote && result.state == training::RunState::kSucceeded) {
      promotion::PromotionService gatekeeper(wiring::promotion_settings(*options),
                                             options->postgres.dsn, launcher, registry.registry);
      const auto outcome = gatekeeper.consider_run(
          *pipeline, run_id, {{"type", "manual"}, {"reason", request_reason}}, parent_version);
      summary["promotion"] = {
          {"version", outcome.version},
          {"verdict", promotion::verdict_name(outcome.verdict)},
          {"reason", outcome.reason},
          {"previous_version",
           outcome.previous_version ? nlohmann::json(*outcome.previous_version) : nullptr}};
    }
    std::cout << summary.dump(2) << std::endl;
    switch (result.state) {
      case training::RunState::kSucceeded:
        return 0;
      case training::RunState::kCancelled:
        return kExitCancelled;
      default:
        return kExitFailed;
    }
  } catch (const std::exception& e) {
    std::cerr << "ctd train failed: " << e.what() << "\n";
    return kExitFailed;
  }
}

}  // namespace ctd::cli
