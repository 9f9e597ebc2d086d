// A content-addressed store of model artifacts on a local (or mounted) filesystem:
//
//   <root>/<sha256>/model.pt        the TorchScript file, named by its SHA-256 (lowercase hex)
//   <root>/<sha256>/manifest.json   what ctd-train wrote about it (run, snapshot, spec, ...)
//   <root>/current/<model>.pt       symlink to the production artifact of each model
//   <root>/.tmp/                    staging area of puts in progress
//
// put() copies into a fresh directory under .tmp, fsyncs the files and the directory, and
// renames it into place (then fsyncs the root), so a crash leaves either the whole artifact or
// nothing under its hash. Writing the artifact comes first and the registry commits the
// version second: a crash in between leaves an unreferenced directory, which collect_garbage()
// removes later; no version ever points at a missing file. Reads verify the hash.
//
// Thread-safety: several threads and processes may use one root at once (puts of the same
// content race benignly: the loser's rename finds the directory present and discards its copy).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctd::registry {

class ArtifactError : public std::runtime_error {
 public:
  enum class Kind { kMissing, kCorrupt, kIo };
  ArtifactError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

struct StoredArtifact {
  std::string sha256;
  std::uint64_t size = 0;
  std::filesystem::path path;  // <root>/<sha256>/model.pt
};

class ArtifactStore {
 public:
  // Creates `root` (and current/, .tmp/) if missing; keeps it as an absolute path (for uri()).
  // Throws ArtifactError(kIo).
  explicit ArtifactStore(std::filesystem::path root);

  const std::filesystem::path& root() const { return root_; }

  // Stores the model file with its manifest; idempotent for content already stored (the
  // existing copy is verified, and replaced if corrupt; its directory's mtime is refreshed so
  // that collect_garbage() treats it as young). Throws ArtifactError(kMissing) when `model`
  // does not exist, kIo on write failures.
  StoredArtifact put(const std::filesystem::path& model, const nlohmann::json& manifest);

  // The path of a stored artifact after checking its content against `sha256`: kMissing when
  // absent, kCorrupt ("sha256 mismatch: expected X, found Y") when changed. Every method taking
  // a hash throws kMissing for a string that is not 64 lowercase hex digits (so no path can
  // leave the root).
  std::filesystem::path verified_path(const std::string& sha256) const;

  // The URI recorded for an artifact: "file://<root>/<sha256>/model.pt".
  std::string uri(const std::string& sha256) const;

  // Points current/<model>.pt at the artifact (atomically: a new symlink renamed over the old
  // one; the link is relative, "../<sha256>/model.pt", so the root may move). The artifact must
  // exist and verify (kMissing, kCorrupt otherwise). `model` must match [a-z0-9_-]{1,63}
  // (std::invalid_argument otherwise), here and in current().
  void set_current(const std::string& model, const std::string& sha256);
  // The hash current/<model>.pt points at, if any; kCorrupt when the link has another form.
  std::optional<std::string> current(const std::string& model) const;

  // Removes every artifact directory whose hash is not in `referenced` and whose directory is
  // older than `min_age` (an artifact being registered right now is young), and staging
  // entries older than `min_age`. Never removes what a current/ link points at. Returns the
  // removed hashes.
  std::vector<std::string> collect_garbage(const std::set<std::string>& referenced,
                                           std::chrono::seconds min_age);

 private:
  std::filesystem::path root_;
};

}  // namespace ctd::registry
