// ctd-train: trains one model from a run directory, or scores a model on a snapshot.
//
//   ctd-train train --run-dir DIR
//       reads DIR/spec.json and the snapshot it names; writes DIR/model.pt, DIR/metrics.json
//       and DIR/manifest.json; reports progress as JSON lines on stdout.
//   ctd-train evaluate --model FILE --snapshot FILE [--slices a,b] [--validation-fraction F]
//                      [--predictions OUT.safetensors] [--output OUT.json]
//       prints the model's metrics on the snapshot (all rows, or its validation split) as JSON,
//       or writes them to OUT.json (atomically) when --output is given. A model written by
//       ctd-train is fed the snapshot in its own input layout (features matched by name,
//       categorical values re-encoded with its vocabulary, unseen ones as 0); slices are
//       formed from the snapshot's own values.
//   ctd-train version
//
// Exit codes: 0 done, 1 unexpected error, 2 bad usage or spec, 3 training failed (the last
// stdout line says why).
#include <torch/script.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <span>
#include <unordered_map>

#include "trainers/run_spec.h"
#include "trainers/safetensors.h"
#include "trainers/snapshot.h"
#include "trainers/trainer.h"

#ifndef CTD_VERSION
#define CTD_VERSION "unknown"
#endif

namespace ctd::trainers {
namespace {

constexpr int kExitError = 1, kExitUsage = 2, kExitTrainingFailed = 3;

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

void emit(const nlohmann::json& line) {
  std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n'
            << std::flush;
}

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void write_json_atomically(const std::filesystem::path& path, const nlohmann::json& j) {
  const auto temp = path.string() + ".tmp";
  {
    std::ofstream out(temp);
    out << j.dump(2) << '\n';
    if (!out.flush()) throw std::runtime_error("cannot write " + temp);
  }
  std::filesystem::rename(temp, path);
}

std::map<std::string, std::string> parse_flags(std::span<char*> args) {
  std::map<std::string, std::string> flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a.rfind("--", 0) != 0 || i + 1 >= args.size())
      throw UsageError("expected --flag VALUE, got " + a);
    flags[a.substr(2)] = args[++i];
  }
  return flags;
}

std::string required(const std::map<std::string, std::string>& flags, const std::string& name) {
  auto it = flags.find(name);
  if (it == flags.end()) throw UsageError("--" + name + " is required");
  return it->second;
}

nlohmann::json input_layout(const SnapshotInfo& info) {
  nlohmann::json categorical = nlohmann::json::array();
  for (const auto& c : info.categorical_features)
    categorical.push_back({{"name", c.name}, {"vocabulary", c.vocabulary}});
  return {{"dtype", "float32"},
          {"columns", "numeric features, then categorical codes (0 = missing or unknown)"},
          {"numeric_features", info.numeric_features},
          {"categorical_features", categorical}};
}

int run_train(const std::map<std::string, std::string>& flags) {
  const std::filesystem::path dir = required(flags, "run-dir");
  const auto started = std::chrono::steady_clock::now();
  const std::string started_at = utc_now();
  RunSpec spec;
  try {
    std::ifstream in(dir / "spec.json");
    if (!in) throw UsageError("cannot open " + (dir / "spec.json").string());
    spec = parse_run_spec(nlohmann::json::parse(in));
  } catch (const nlohmann::json::exception& e) {
    throw UsageError("spec.json is not valid JSON: " + std::string(e.what()));
  } catch (const std::runtime_error& e) {
    throw UsageError(e.what());
  }
  auto resolve = [&](const std::string& p) {
    return std::filesystem::path(p).is_absolute() ? std::filesystem::path(p) : dir / p;
  };
  spec.model.script_path =
      spec.model.script_path.empty() ? "" : resolve(spec.model.script_path).string();
  spec.init_model_path = spec.init_model_path.empty() ? "" : resolve(spec.init_model_path).string();

  emit({{"phase", "load"}, {"snapshot", spec.snapshot}});
  const Dataset data = read_snapshot(resolve(spec.snapshot));
  emit({{"phase", "start"},
        {"rows", data.rows()},
        {"task", task_name(data.info.task)},
        {"snapshot_sha256", data.info.content_sha256},
        {"seed", spec.seed},
        {"libtorch", TORCH_VERSION}});

  TrainResult result = train(spec, data, emit);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  std::unordered_map<std::string, std::string> extra_files;
  nlohmann::json manifest = {{"run_id", spec.run_id},
                             {"pipeline", spec.pipeline},
                             {"snapshot",
                              {{"id", data.info.snapshot_id},
                               {"sha256", data.info.content_sha256},
                               {"rows", data.info.rows},
                               {"seq_first", data.info.seq_first},
                               {"seq_last", data.info.seq_last}}},
                             {"task", task_name(data.info.task)},
                             {"num_classes", data.info.num_classes},
                             {"input", input_layout(data.info)},
                             {"spec", spec.to_json()},
                             {"seed", spec.seed},
                             {"device", result.device},
                             {"libtorch_version", TORCH_VERSION},
                             {"ctd_version", CTD_VERSION},
                             {"code_version", spec.code_version},
                             {"started_at", started_at},
                             {"finished_at", utc_now()},
                             {"wall_seconds", wall},
                             {"train_rows", result.train_rows},
                             {"validation_rows", result.validation_rows},
                             {"artifact", "model.pt"}};
  extra_files["ctd_manifest.json"] = manifest.dump();
  const auto model_temp = (dir / "model.pt.tmp").string();
  result.model.save(model_temp, extra_files);
  std::filesystem::rename(model_temp, dir / "model.pt");
  write_json_atomically(dir / "metrics.json", result.metrics);
  write_json_atomically(dir / "manifest.json", manifest);
  emit({{"phase", "done"},
        {"wall_seconds", wall},
        {"device", result.device},
        {"metrics", result.metrics.value("validation", nlohmann::json::object())}});
  return 0;
}

int run_evaluate(const std::map<std::string, std::string>& flags) {
  const Dataset data = read_snapshot(required(flags, "snapshot"));
  std::unordered_map<std::string, std::string> extra_files{{"ctd_manifest.json", ""}};
  torch::jit::Module module = torch::jit::load(required(flags, "model"), torch::kCPU, extra_files);
  // A model ctd-train wrote carries its input layout: the snapshot's columns are matched to it
  // by feature name and value, so any snapshot of the pipeline can be scored by any version.
  std::optional<Dataset> aligned;
  const std::string& manifest_text = extra_files["ctd_manifest.json"];
  if (!manifest_text.empty()) {
    const auto manifest = nlohmann::json::parse(manifest_text, nullptr, false);
    if (manifest.is_object() && manifest.contains("input"))
      aligned = align_to_model(data, manifest["input"]);
  }
  std::vector<std::int64_t> rows;
  const double fraction =
      flags.count("validation-fraction") ? std::stod(flags.at("validation-fraction")) : 0;
  for (std::size_t r = 0; r < data.rows(); ++r)
    if (fraction <= 0 || in_validation_split(data.seqs[r], fraction))
      rows.push_back(static_cast<std::int64_t>(r));
  std::vector<std::string> slices;
  if (flags.count("slices")) {
    std::stringstream s(flags.at("slices"));
    for (std::string part; std::getline(s, part, ',');) slices.push_back(part);
  }
  Evaluation e = aligned ? evaluate(module, *aligned, rows, slices, torch::kCPU, &data)
                         : evaluate(module, data, rows, slices, torch::kCPU);
  if (flags.count("predictions")) {
    SafetensorsWriter writer;
    const auto n = static_cast<std::int64_t>(rows.size());
    const auto per_row = n > 0 ? static_cast<std::int64_t>(e.scores.size()) / n : 1;
    writer.add<float>("scores", DType::kF32, {n, per_row}, e.scores);
    writer.add<std::int64_t>("rows", DType::kI64, {n}, rows);
    writer.write(flags.at("predictions"));
  }
  if (flags.count("output"))
    write_json_atomically(flags.at("output"), e.metrics);
  else
    std::cout << e.metrics.dump(2) << std::endl;
  return 0;
}

int run_version() {
  std::cout << "ctd-train " << CTD_VERSION << " (LibTorch " << TORCH_VERSION << ", CUDA "
            << (torch::cuda::is_available()
                    ? std::to_string(torch::cuda::device_count()) + " GPU(s)"
                    : std::string("unavailable"))
            << ")\n";
  return 0;
}

int main_impl(int argc, char** argv) {
  const std::string usage =
      "usage: ctd-train train --run-dir DIR | evaluate --model FILE --snapshot FILE "
      "[--slices a,b] [--validation-fraction F] [--predictions OUT] [--output OUT.json] | version";
  if (argc < 2) {
    std::cerr << usage << '\n';
    return kExitUsage;
  }
  const std::string command = argv[1];
  try {
    const auto flags = parse_flags(std::span<char*>(argv + 2, argc - 2));
    if (command == "train") return run_train(flags);
    if (command == "evaluate") return run_evaluate(flags);
    if (command == "version") return run_version();
    throw UsageError("unknown command " + command);
  } catch (const UsageError& e) {
    std::cerr << "ctd-train: " << e.what() << '\n' << usage << '\n';
    emit({{"phase", "failed"}, {"code", "usage"}, {"reason", e.what()}});
    return kExitUsage;
  } catch (const TrainingFailure& e) {
    std::cerr << "ctd-train: training failed: " << e.what() << '\n';
    emit({{"phase", "failed"}, {"code", e.code()}, {"reason", e.what()}});
    return kExitTrainingFailed;
  } catch (const c10::Error& e) {
    std::cerr << "ctd-train: LibTorch error: " << e.what_without_backtrace() << '\n';
    emit({{"phase", "failed"}, {"code", "torch_error"}, {"reason", e.what_without_backtrace()}});
    return kExitError;
  } catch (const std::exception& e) {
    std::cerr << "ctd-train: " << e.what() << '\n';
    emit({{"phase", "failed"}, {"code", "error"}, {"reason", e.what()}});
    return kExitError;
  }
}

}  // namespace
}  // namespace ctd::trainers

int main(int argc, char** argv) { return ctd::trainers::main_impl(argc, argv); }
