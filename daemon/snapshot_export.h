// Exports a training dataset from PostgreSQL into a snapshot file (trainers/snapshot.h), so
// that ctd-train needs no database access.
//
// A selection is immutable: samples are never updated, so (pipeline, sequence range,
// event-time window) always names the same rows. The export streams them with a binary
// COPY, maps each sample's feature arrays from the schema it was ingested under onto the
// pipeline's current feature layout by name (features it lacks become missing), and encodes
// categorical values by a vocabulary that keeps a predecessor's codes stable.
//
// Blocking; uses the connection it is given. Not thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/options.h"
#include "daemon/pg.h"
#include "trainers/snapshot.h"

namespace ctd::training {

struct DatasetSelection {
  // The newest committed samples are used when seq_last is unset.
  std::optional<std::int64_t> seq_first, seq_last;
  std::optional<std::int64_t> last_samples;        // keep only the newest N of the range
  std::optional<std::int64_t> event_time_from_ms;  // keep event_time >= this
  std::optional<std::int64_t> event_time_to_ms;    // keep event_time < this
  // Read the pipeline's inferences (features seen at serving) instead of its labeled samples;
  // labels read as 0 and weights as 1.
  bool inferences = false;
};

// Resolves a selection against the table: a concrete sequence range (and window). Returns
// nullopt when the pipeline has no samples in it.
struct ResolvedSelection {
  std::int64_t seq_first = 0, seq_last = 0;
  std::optional<std::int64_t> event_time_from_ms, event_time_to_ms;
  bool inferences = false;
};
std::optional<ResolvedSelection> resolve_selection(pg::PgConnection& connection, int pipeline_id,
                                                   const DatasetSelection& selection);

struct ExportOptions {
  // Vocabularies of the model being warm-started, by feature: their codes are kept and new
  // values are appended (sorted). Absent features get a sorted vocabulary.
  std::map<std::string, std::vector<std::string>> base_vocabularies;
};

// The samples of `selection` in memory, as export_snapshot() would write them (without the
// content hash). For the orchestration loop, which feeds them to the trigger engine.
trainers::Dataset load_dataset(pg::PgConnection& connection,
                               const config::PipelineOptions& pipeline, int pipeline_id,
                               const ResolvedSelection& selection, const ExportOptions& options);

// Writes the snapshot of `selection` for `pipeline` to `path` and returns its description
// (rows, content hash, vocabularies). Throws pg::PgError on database errors and
// std::runtime_error on malformed stored data or I/O failure.
trainers::SnapshotInfo export_snapshot(pg::PgConnection& connection,
                                       const config::PipelineOptions& pipeline, int pipeline_id,
                                       const ResolvedSelection& selection,
                                       const ExportOptions& options,
                                       const std::filesystem::path& path);

}  // namespace ctd::training
