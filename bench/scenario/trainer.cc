#include "bench/scenario/trainer.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "daemon/sha256.h"
#include "trainers/snapshot.h"

extern char** environ;

namespace ctd::bench {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string tail(const std::string& text, std::size_t bytes) {
  return text.size() <= bytes ? text : text.substr(text.size() - bytes);
}

trainers::Dataset dataset_of(const StreamData& data, std::int64_t from, std::int64_t to) {
  trainers::Dataset d;
  d.info.pipeline = data.name;
  d.info.snapshot_id = data.name + "/" + std::to_string(from) + "-" + std::to_string(to - 1);
  d.info.task = data.task;
  d.info.num_classes = data.num_classes;
  d.info.seq_first = from;
  d.info.seq_last = to - 1;
  d.info.numeric_features = data.layout.numeric;
  d.info.created_at = "2026-01-01T00:00:00Z";
  const std::size_t w = data.width();
  for (std::int64_t i = from; i < to; ++i) {
    const std::size_t row = static_cast<std::size_t>(i);
    for (std::size_t f = 0; f < w; ++f)
      d.numeric.push_back(static_cast<float>(data.numeric[row * w + f]));
    d.labels.push_back(static_cast<float>(data.labels[row]));
    d.weights.push_back(1.0F);
    d.seqs.push_back(i);
    d.event_time_ms.push_back(i * 1000);  // one sample a second, as the benchmark's clock
  }
  return d;
}

}  // namespace

Trainer::Trainer(std::filesystem::path ctd_train, std::filesystem::path work_dir,
                 trainers::RunSpec spec)
    : ctd_train_(std::move(ctd_train)), work_dir_(std::move(work_dir)), spec_(std::move(spec)) {}

void Trainer::write_run_dir(const std::filesystem::path& dir, const StreamData& data,
                            std::int64_t from, std::int64_t to) const {
  std::filesystem::create_directories(dir);
  trainers::Dataset dataset = dataset_of(data, from, to);
  Sha256 hasher;
  trainers::write_snapshot(dir / "snapshot.safetensors", dataset,
                           {[&](std::span<const std::byte> bytes) { hasher.update(bytes); },
                            [&] { return hasher.hex_digest(); }});
  trainers::RunSpec spec = spec_;
  spec.run_id = dir.filename().string();
  spec.pipeline = data.name;
  spec.snapshot = "snapshot.safetensors";
  std::ofstream(dir / "spec.json") << spec.to_json().dump(2) << "\n";
}

void Trainer::run_trainer(const std::filesystem::path& dir) const {
  const std::string out = (dir / "stdout.log").string(), err = (dir / "stderr.log").string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> args = {ctd_train_.string(), "train", "--run-dir", dir.string()};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + args[0] + ": " + std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error("waitpid: " + std::string(std::strerror(errno)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("ctd-train failed in " + dir.string() + ": " +
                             tail(read_file(err), 2000) + tail(read_file(out), 500));
}

const TrainedModel& Trainer::train(const StreamData& data, std::int64_t from, std::int64_t to) {
  const auto key = std::make_tuple(data.name, from, to);
  if (const auto it = cache_.find(key); it != cache_.end()) {
    ++reused_;
    return it->second;
  }
  const std::filesystem::path dir =
      work_dir_ / (data.name + "-" + std::to_string(from) + "-" + std::to_string(to));
  write_run_dir(dir, data, from, to);
  const auto started = std::chrono::steady_clock::now();
  run_trainer(dir);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ++runs_;
  seconds_ += seconds;
  TrainedModel trained;
  trained.model = dir / "model.pt";
  trained.validation =
      nlohmann::json::parse(read_file(dir / "metrics.json")).value("validation", nlohmann::json{});
  trained.rows = to - from;
  trained.seconds = seconds;
  // The snapshot is no longer needed once the model exists; keep the disk use small.
  std::filesystem::remove(dir / "snapshot.safetensors");
  return cache_.emplace(key, std::move(trained)).first->second;
}

}  // namespace ctd::bench
