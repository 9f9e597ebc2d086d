#include "trainers/snapshot.h"

#include <algorithm>
#include <stdexcept>

#include "trainers/safetensors.h"

namespace ctd::trainers {
namespace {

constexpr std::string_view kMetadataKey = "ctd.snapshot";
constexpr std::string_view kFormat = "ctd.snapshot/1";

void require(bool condition, const std::string& what) {
  if (!condition) throw std::runtime_error(what);
}

}  // namespace

std::string_view task_name(Task task) {
  switch (task) {
    case Task::kBinary:
      return "binary";
    case Task::kMulticlass:
      return "multiclass";
    case Task::kRegression:
      return "regression";
  }
  return "?";
}

std::optional<Task> parse_task(std::string_view name) {
  if (name == "binary") return Task::kBinary;
  if (name == "multiclass") return Task::kMulticlass;
  if (name == "regression") return Task::kRegression;
  return std::nullopt;
}

nlohmann::json SnapshotInfo::schema_json() const {
  nlohmann::json categorical = nlohmann::json::array();
  for (const auto& c : categorical_features)
    categorical.push_back({{"name", c.name}, {"vocabulary", c.vocabulary}});
  return {{"task", task_name(task)},
          {"num_classes", num_classes},
          {"numeric_features", numeric_features},
          {"categorical_features", categorical}};
}

nlohmann::json SnapshotInfo::to_json() const {
  nlohmann::json j = schema_json();
  j["format"] = kFormat;
  j["snapshot_id"] = snapshot_id;
  j["pipeline"] = pipeline;
  j["seq_first"] = seq_first;
  j["seq_last"] = seq_last;
  j["rows"] = rows;
  j["event_time_from_ms"] = event_time_from_ms ? nlohmann::json(*event_time_from_ms) : nullptr;
  j["event_time_to_ms"] = event_time_to_ms ? nlohmann::json(*event_time_to_ms) : nullptr;
  j["content_sha256"] = content_sha256;
  j["created_at"] = created_at;
  return j;
}

SnapshotInfo SnapshotInfo::from_json(const nlohmann::json& j) {
  try {
    require(j.value("format", "") == kFormat,
            "not a ctd snapshot (format " + j.value("format", std::string("missing")) + ")");
    SnapshotInfo info;
    info.snapshot_id = j.at("snapshot_id").get<std::string>();
    info.pipeline = j.at("pipeline").get<std::string>();
    const auto task = parse_task(j.at("task").get<std::string>());
    require(task.has_value(), "unknown task " + j.at("task").dump());
    info.task = *task;
    info.num_classes = j.at("num_classes").get<int>();
    info.seq_first = j.at("seq_first").get<std::int64_t>();
    info.seq_last = j.at("seq_last").get<std::int64_t>();
    info.rows = j.at("rows").get<std::int64_t>();
    if (!j.at("event_time_from_ms").is_null())
      info.event_time_from_ms = j.at("event_time_from_ms").get<std::int64_t>();
    if (!j.at("event_time_to_ms").is_null())
      info.event_time_to_ms = j.at("event_time_to_ms").get<std::int64_t>();
    info.numeric_features = j.at("numeric_features").get<std::vector<std::string>>();
    for (const auto& c : j.at("categorical_features"))
      info.categorical_features.push_back(
          {c.at("name").get<std::string>(), c.at("vocabulary").get<std::vector<std::string>>()});
    info.content_sha256 = j.at("content_sha256").get<std::string>();
    info.created_at = j.at("created_at").get<std::string>();
    return info;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("snapshot metadata: ") + e.what());
  }
}

void write_snapshot(const std::filesystem::path& path, Dataset& dataset, ContentHasher hasher) {
  const auto n = static_cast<std::int64_t>(dataset.labels.size());
  const auto nw = static_cast<std::int64_t>(dataset.numeric_width());
  const auto cw = static_cast<std::int64_t>(dataset.categorical_width());
  require(dataset.numeric.size() == static_cast<std::size_t>(n * nw) &&
              dataset.categorical.size() == static_cast<std::size_t>(n * cw) &&
              dataset.weights.size() == static_cast<std::size_t>(n) &&
              dataset.seqs.size() == static_cast<std::size_t>(n) &&
              dataset.event_time_ms.size() == static_cast<std::size_t>(n),
          "snapshot columns have inconsistent lengths");

  SafetensorsWriter writer;
  writer.add<float>("numeric", DType::kF32, {n, nw}, dataset.numeric);
  writer.add<std::int64_t>("categorical", DType::kI64, {n, cw}, dataset.categorical);
  writer.add<float>("label", DType::kF32, {n}, dataset.labels);
  writer.add<float>("weight", DType::kF32, {n}, dataset.weights);
  writer.add<std::int64_t>("seq", DType::kI64, {n}, dataset.seqs);
  writer.add<std::int64_t>("event_time", DType::kI64, {n}, dataset.event_time_ms);

  dataset.info.rows = n;
  const std::string schema = dataset.info.schema_json().dump();
  hasher.update(std::as_bytes(std::span(schema)));
  hasher.update(writer.data());
  dataset.info.content_sha256 = hasher.hex_digest();
  writer.set_metadata(std::string(kMetadataKey), dataset.info.to_json().dump());
  writer.write(path);
}

Dataset read_snapshot(const std::filesystem::path& path) {
  const SafetensorsFile file = SafetensorsFile::read(path);
  auto meta = file.metadata().find(std::string(kMetadataKey));
  require(meta != file.metadata().end(), path.string() + ": no ctd.snapshot metadata");
  Dataset d;
  try {
    d.info = SnapshotInfo::from_json(nlohmann::json::parse(meta->second));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path.string() + ": snapshot metadata is not JSON: " + e.what());
  }
  d.numeric = file.values<float>("numeric", DType::kF32);
  d.categorical = file.values<std::int64_t>("categorical", DType::kI64);
  d.labels = file.values<float>("label", DType::kF32);
  d.weights = file.values<float>("weight", DType::kF32);
  d.seqs = file.values<std::int64_t>("seq", DType::kI64);
  d.event_time_ms = file.values<std::int64_t>("event_time", DType::kI64);
  const auto n = d.labels.size();
  require(static_cast<std::int64_t>(n) == d.info.rows &&
              d.numeric.size() == n * d.numeric_width() &&
              d.categorical.size() == n * d.categorical_width() && d.weights.size() == n &&
              d.seqs.size() == n && d.event_time_ms.size() == n,
          path.string() + ": tensor shapes do not match the snapshot metadata");
  for (std::size_t c = 0; c < d.categorical_width(); ++c) {
    const auto k = static_cast<std::int64_t>(d.info.categorical_features[c].vocabulary.size());
    for (std::size_t r = 0; r < n; ++r) {
      const auto code = d.categorical[r * d.categorical_width() + c];
      require(code >= 0 && code <= k, path.string() + ": categorical code out of range");
    }
  }
  return d;
}

bool in_validation_split(std::int64_t seq, double fraction) {
  // SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijective, well-mixed 64-bit hash.
  std::uint64_t z = static_cast<std::uint64_t>(seq) + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z) < fraction * 18446744073709551616.0;
}

}  // namespace ctd::trainers
