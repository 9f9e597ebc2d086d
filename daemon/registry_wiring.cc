#include "daemon/registry_wiring.h"

namespace ctd::wiring {
namespace {

std::optional<registry::TritonPublishing> triton_of(const config::RegistryOptions& r) {
  if (!r.triton_repository) return std::nullopt;
  return registry::TritonPublishing{*r.triton_repository, r.triton_max_batch_size};
}

}  // namespace

nlohmann::json version_summary(const registry::ModelVersion& v) {
  return {
      {"version", v.version},
      {"status", registry::status_name(v.status)},
      {"status_reason", v.status_reason},
      {"artifact_sha256", v.artifact_sha256},
      {"run_id", v.run_id ? nlohmann::json(*v.run_id) : nullptr},
      {"samples", {{"seq_first", v.seq_first}, {"seq_last", v.seq_last}, {"rows", v.row_count}}},
      {"gate_passed", v.gate.is_object() ? v.gate.value("passed", nlohmann::json()) : nullptr},
      {"created_at", v.created_at}};
}

std::filesystem::path trainer_path(const config::TrainingOptions& training) {
  if (!training.trainer.empty()) return training.trainer;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path("ctd-train") : self.parent_path() / "ctd-train";
}

RegistryParts::RegistryParts(const config::Options& options)
    : artifacts(options.registry.artifact_root),
      registry(options.postgres.dsn, artifacts, triton_of(options.registry)) {}

training::TrainingSettings training_settings(const config::TrainingOptions& t) {
  training::TrainingSettings s;
  s.trainer = trainer_path(t);
  s.run_root = t.run_root;
  s.timeout = t.timeout;
  s.kill_grace = t.kill_grace;
  s.memory_limit_bytes = t.memory_limit_mb << 20;
  s.max_concurrent_runs = t.max_concurrent_runs;
  s.code_version = std::string("ctd ") + CTD_VERSION;
  return s;
}

promotion::PromotionSettings promotion_settings(const config::Options& options) {
  promotion::PromotionSettings s;
  s.trainer = trainer_path(options.training);
  s.work_root = std::filesystem::path(options.training.run_root) / "evaluations";
  s.timeout = options.training.timeout;
  s.kill_grace = options.training.kill_grace;
  return s;
}

}  // namespace ctd::wiring
