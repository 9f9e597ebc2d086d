// Dataset snapshots: the immutable training data of one run, as a safetensors file that
// ctd-train reads without database access and that Python opens with numpy alone.
//
// Tensors (n rows):
//   numeric      F32 [n, numeric features]      NaN where a value is missing
//   categorical  I64 [n, categorical features]  0 = missing or unknown, k = vocabulary[k-1]
//   label        F32 [n]                        0/1, class index, or regression target
//   weight       F32 [n]
//   seq          I64 [n]                        the sample's sequence number in its pipeline
//   event_time   I64 [n]                        Unix epoch milliseconds
// Metadata "ctd.snapshot": a JSON document (SnapshotInfo), with the content hash over the
// tensor data and the schema (feature names, vocabularies, task).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctd::trainers {

enum class Task { kBinary, kMulticlass, kRegression };
std::string_view task_name(Task task);  // "binary", "multiclass", "regression"
std::optional<Task> parse_task(std::string_view name);

struct CategoricalFeature {
  std::string name;
  // Code k (1-based) = vocabulary[k-1]; 0 = missing or unknown. Not necessarily sorted: a
  // retrained model keeps its predecessor's codes and appends new values (see
  // daemon/snapshot_export.h), so warm-started weights stay aligned.
  std::vector<std::string> vocabulary;
};

struct SnapshotInfo {
  std::string snapshot_id;  // "<pipeline>/<seq_first>-<seq_last>"
  std::string pipeline;
  Task task = Task::kBinary;
  int num_classes = 2;  // 2 for binary, K for multiclass, 0 for regression
  std::int64_t seq_first = 0, seq_last = 0, rows = 0;
  std::optional<std::int64_t> event_time_from_ms, event_time_to_ms;  // the window, if any
  std::vector<std::string> numeric_features;
  std::vector<CategoricalFeature> categorical_features;
  std::string content_sha256;
  std::string created_at;  // RFC 3339

  // The part of the info that the content hash covers (schema, not provenance).
  nlohmann::json schema_json() const;
  nlohmann::json to_json() const;
  static SnapshotInfo from_json(const nlohmann::json& j);  // throws std::runtime_error
};

// Column data of a snapshot, row-major.
struct Dataset {
  SnapshotInfo info;
  std::vector<float> numeric;             // rows * numeric width
  std::vector<std::int64_t> categorical;  // rows * categorical width
  std::vector<float> labels;
  std::vector<float> weights;
  std::vector<std::int64_t> seqs;
  std::vector<std::int64_t> event_time_ms;

  std::size_t rows() const { return labels.size(); }
  std::size_t numeric_width() const { return info.numeric_features.size(); }
  std::size_t categorical_width() const { return info.categorical_features.size(); }
};

// Incremental SHA-256 supplied by the caller (the daemon uses OpenSSL; ctd-train never hashes).
struct ContentHasher {
  std::function<void(std::span<const std::byte>)> update;
  std::function<std::string()> hex_digest;
};

// Sets dataset.info.rows and content_sha256, then writes `path` atomically.
// Throws std::runtime_error on inconsistent column sizes or I/O failure.
void write_snapshot(const std::filesystem::path& path, Dataset& dataset, ContentHasher hasher);

// Throws std::runtime_error naming the problem.
Dataset read_snapshot(const std::filesystem::path& path);

// The deterministic train/validation split: a sample is in the validation set when the
// SplitMix64 hash of its sequence number, as a fraction of 2^64, is below `fraction`.
bool in_validation_split(std::int64_t seq, double fraction);

}  // namespace ctd::trainers
