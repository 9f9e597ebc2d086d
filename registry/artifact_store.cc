#include "registry/artifact_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>
#include <utility>

#include "registry/durable_io.h"

namespace ctd::registry {
namespace {

namespace fs = std::filesystem;
using Kind = ArtifactError::Kind;

constexpr char kCurrentDir[] = "current";
constexpr char kStagingDir[] = ".tmp";
constexpr char kModelFile[] = "model.pt";
constexpr char kManifestFile[] = "manifest.json";
// Stored files never change after the rename; read-only modes say so to anyone looking.
constexpr mode_t kStoredFileMode = 0444;
constexpr mode_t kStoredDirMode = 0755;
// Puts that keep finding a corrupt copy that someone else keeps replacing give up eventually.
constexpr int kInstallAttempts = 4;
constexpr std::size_t kMaxModelNameLength = 63;

bool is_sha256(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Hashes name directories, so anything else could reach outside the root ("../..").
void check_sha256(const std::string& sha256) {
  if (!is_sha256(sha256)) {
    throw ArtifactError(Kind::kMissing, "invalid artifact hash '" + sha256 +
                                            "': expected 64 lowercase hex digits (SHA-256)");
  }
}

void check_model_name(const std::string& model) {
  const bool valid =
      !model.empty() && model.size() <= kMaxModelNameLength &&
      std::all_of(model.begin(), model.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      });
  if (!valid) {
    throw std::invalid_argument("invalid model name '" + model + "': must match [a-z0-9_-]{1,63}");
  }
}

bool is_missing(const std::system_error& error) {
  return error.code() == std::errc::no_such_file_or_directory ||
         error.code() == std::errc::not_a_directory;
}

// What current/<model>.pt contains: relative, so the root can be moved or mounted elsewhere.
std::string link_target(const std::string& sha256) { return "../" + sha256 + "/" + kModelFile; }

// The hash a current/ link points at, if it has the form link_target() writes.
std::optional<std::string> hash_of_link_target(const fs::path& target) {
  const std::string sha256 = target.parent_path().filename().string();
  if (!is_sha256(sha256) || target != fs::path(link_target(sha256))) return std::nullopt;
  return sha256;
}

// When `path` (not following symlinks) was last modified; nullopt when it has gone.
std::optional<std::chrono::system_clock::time_point> modified_at(const fs::path& path) {
  struct stat status {};
  if (::lstat(path.c_str(), &status) != 0) {
    if (errno == ENOENT) return std::nullopt;
    io::throw_errno("stat", path);
  }
  const auto since_epoch = std::chrono::seconds(status.st_mtim.tv_sec) +
                           std::chrono::nanoseconds(status.st_mtim.tv_nsec);
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch));
}

// A staging entry is as young as the newest of itself and its direct children: a put copying
// a large model keeps its model.pt's mtime fresh while the directory's stays at creation.
std::optional<std::chrono::system_clock::time_point> staging_modified_at(const fs::path& entry) {
  auto newest = modified_at(entry);
  if (!newest) return std::nullopt;
  std::error_code error;
  if (!fs::is_directory(fs::symlink_status(entry, error))) return newest;
  for (fs::directory_iterator it(entry, error), end; !error && it != end; it.increment(error)) {
    const auto child = modified_at(it->path());
    if (child && *child > *newest) newest = child;
  }
  return newest;
}

bool older_than(const std::optional<std::chrono::system_clock::time_point>& modified,
                std::chrono::seconds min_age) {
  return modified && std::chrono::system_clock::now() - *modified >= min_age;
}

// A fresh directory under .tmp/ ("<prefix>XXXXXX"), removed with its contents on destruction
// unless release()d (after it was renamed into place).
class ScratchDir {
 public:
  ScratchDir(const fs::path& staging_root, const std::string& prefix) {
    std::string pattern = (staging_root / (prefix + "XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) io::throw_errno("mkdtemp", pattern);
    path_ = pattern;
  }
  ~ScratchDir() {
    if (released_) return;
    std::error_code ignored;  // what is left is stale staging for collect_garbage()
    fs::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const fs::path& path() const { return path_; }
  void release() { released_ = true; }

 private:
  fs::path path_;
  bool released_ = false;
};

// Whether <target>/model.pt exists and hashes to `sha256`.
bool copy_is_intact(const fs::path& target, const std::string& sha256) {
  try {
    return io::hash_file(target / kModelFile).sha256 == sha256;
  } catch (const std::system_error& e) {
    if (is_missing(e)) return false;
    throw;
  }
}

// Moves a corrupt artifact directory out of the way (into .tmp/, atomically) and deletes it.
// Someone else may have moved it already, which is just as good.
void set_aside(const fs::path& root, const fs::path& target) {
  ScratchDir holder(root / kStagingDir, "corrupt-");
  if (::rename(target.c_str(), (holder.path() / target.filename()).c_str()) != 0) {
    if (errno == ENOENT) return;
    io::throw_errno("rename " + target.string() + " into", holder.path());
  }
  io::fsync_directory(root);
}

// Marks an existing artifact as just stored, so that collect_garbage() treats it as young
// while the registry commits the version that will reference it.
void touch(const fs::path& directory) {
  if (::utimensat(AT_FDCWD, directory.c_str(), nullptr, 0) != 0) {
    io::throw_errno("touch", directory);
  }
}

// Renames the complete staging directory to <root>/<sha256>, or keeps an intact copy that is
// already there. A copy that fails verification is set aside and the rename retried.
// (Two puts may both find the same corrupt copy; the second to set it aside may then set
// aside the first one's fresh copy and install its own: the end state is still one intact
// copy, with a short moment where the hash is missing.)
void install(const fs::path& root, ScratchDir& staging, const std::string& sha256) {
  const fs::path target = root / sha256;
  for (int attempt = 0; attempt < kInstallAttempts; ++attempt) {
    if (::rename(staging.path().c_str(), target.c_str()) == 0) {
      staging.release();
      io::fsync_directory(root);
      return;
    }
    if (errno != EEXIST && errno != ENOTEMPTY) {
      io::throw_errno("rename " + staging.path().string() + " to", target);
    }
    if (copy_is_intact(target, sha256)) {
      touch(target);
      return;  // our copy goes with `staging`
    }
    set_aside(root, target);
  }
  throw ArtifactError(Kind::kIo, "could not store artifact " + sha256 + ": " + target.string() +
                                     " kept reappearing corrupt");
}

// Every hash some current/ link points at (links of another form are left alone).
std::set<std::string> current_hashes(const fs::path& current_dir) {
  std::set<std::string> hashes;
  std::error_code error;
  for (fs::directory_iterator it(current_dir, error), end; !error && it != end;
       it.increment(error)) {
    std::error_code read_error;
    const fs::path target = fs::read_symlink(it->path(), read_error);
    if (read_error) continue;
    if (auto sha256 = hash_of_link_target(target)) hashes.insert(*sha256);
  }
  if (error) {
    throw ArtifactError(Kind::kIo, "cannot list " + current_dir.string() + ": " + error.message());
  }
  return hashes;
}

void remove_stale_staging(const fs::path& staging_dir, std::chrono::seconds min_age) {
  std::error_code error;
  for (fs::directory_iterator it(staging_dir, error), end; !error && it != end;
       it.increment(error)) {
    if (!older_than(staging_modified_at(it->path()), min_age)) continue;
    std::error_code remove_error;
    fs::remove_all(it->path(), remove_error);
    if (remove_error && remove_error != std::errc::no_such_file_or_directory) {
      throw ArtifactError(Kind::kIo,
                          "cannot remove " + it->path().string() + ": " + remove_error.message());
    }
  }
  if (error) {
    throw ArtifactError(Kind::kIo, "cannot list " + staging_dir.string() + ": " + error.message());
  }
}

// Takes the artifact directory away in one rename (a reader sees it whole or not at all),
// then deletes it. False when it was gone already.
bool remove_artifact(const fs::path& root, const std::string& sha256) {
  ScratchDir holder(root / kStagingDir, "gc-");
  const fs::path target = root / sha256;
  if (::rename(target.c_str(), (holder.path() / sha256).c_str()) != 0) {
    if (errno == ENOENT) return false;
    io::throw_errno("rename " + target.string() + " into", holder.path());
  }
  io::fsync_directory(root);
  return true;
}

}  // namespace

ArtifactStore::ArtifactStore(fs::path root) {
  std::error_code error;
  root_ = fs::absolute(root, error).lexically_normal();
  if (error) {
    throw ArtifactError(Kind::kIo, "artifact root " + root.string() + ": " + error.message());
  }
  if (!root_.has_filename()) root_ = root_.parent_path();  // "/a/b/" -> "/a/b"
  for (const fs::path& dir : {root_, root_ / kCurrentDir, root_ / kStagingDir}) {
    fs::create_directories(dir, error);
    if (error) {
      throw ArtifactError(Kind::kIo, "cannot create " + dir.string() + ": " + error.message());
    }
  }
}

StoredArtifact ArtifactStore::put(const fs::path& model, const nlohmann::json& manifest) {
  const std::string manifest_text = manifest.dump(2) + "\n";
  io::FileDescriptor source;
  try {
    source = io::open_for_reading(model);
  } catch (const std::system_error& e) {
    throw ArtifactError(is_missing(e) ? Kind::kMissing : Kind::kIo,
                        std::string("cannot read the model file: ") + e.what());
  }
  try {
    ScratchDir staging(root_ / kStagingDir, "put-");
    // The hash is of the bytes written, so a model file changing under us cannot give a
    // directory whose name disagrees with its content.
    const io::Digest digest =
        io::copy_to_new_file(source, model, staging.path() / kModelFile, kStoredFileMode);
    io::write_new_file(staging.path() / kManifestFile, manifest_text, kStoredFileMode);
    if (::chmod(staging.path().c_str(), kStoredDirMode) != 0) {
      io::throw_errno("chmod", staging.path());
    }
    io::fsync_directory(staging.path());
    install(root_, staging, digest.sha256);
    return StoredArtifact{digest.sha256, digest.size, root_ / digest.sha256 / kModelFile};
  } catch (const std::system_error& e) {
    throw ArtifactError(Kind::kIo, "storing " + model.string() + " failed: " + e.what());
  }
}

fs::path ArtifactStore::verified_path(const std::string& sha256) const {
  check_sha256(sha256);
  const fs::path file = root_ / sha256 / kModelFile;
  io::Digest digest;
  try {
    digest = io::hash_file(file);
  } catch (const std::system_error& e) {
    if (is_missing(e)) {
      throw ArtifactError(Kind::kMissing,
                          "artifact " + sha256 + " is not in the store (no " + file.string() + ")");
    }
    throw ArtifactError(Kind::kIo, std::string("cannot verify artifact: ") + e.what());
  }
  if (digest.sha256 != sha256) {
    throw ArtifactError(Kind::kCorrupt, file.string() + ": sha256 mismatch: expected " + sha256 +
                                            ", found " + digest.sha256);
  }
  return file;
}

std::string ArtifactStore::uri(const std::string& sha256) const {
  check_sha256(sha256);
  return "file://" + (root_ / sha256 / kModelFile).string();
}

void ArtifactStore::set_current(const std::string& model, const std::string& sha256) {
  check_model_name(model);
  verified_path(sha256);  // production must never point at a missing or corrupt file
  const fs::path link = root_ / kCurrentDir / (model + ".pt");
  try {
    // The new link is made in a private directory under .tmp/ (at the same depth as
    // current/, so the relative target reads the same) and renamed over the old one.
    ScratchDir scratch(root_ / kStagingDir, "link-");
    const fs::path temp_link = scratch.path() / link.filename();
    if (::symlink(link_target(sha256).c_str(), temp_link.c_str()) != 0) {
      io::throw_errno("symlink", temp_link);
    }
    io::rename_path(temp_link, link);
    io::fsync_directory(link.parent_path());
  } catch (const std::system_error& e) {
    throw ArtifactError(Kind::kIo, "cannot set the current artifact of " + model + ": " + e.what());
  }
}

std::optional<std::string> ArtifactStore::current(const std::string& model) const {
  check_model_name(model);
  const fs::path link = root_ / kCurrentDir / (model + ".pt");
  std::error_code error;
  const fs::path target = fs::read_symlink(link, error);
  if (error == std::errc::no_such_file_or_directory) return std::nullopt;
  if (error) {
    throw ArtifactError(Kind::kIo, "cannot read link " + link.string() + ": " + error.message());
  }
  auto sha256 = hash_of_link_target(target);
  if (!sha256) {
    throw ArtifactError(Kind::kCorrupt, link.string() + " points at " + target.string() +
                                            ", not at an artifact of this store");
  }
  return sha256;
}

std::vector<std::string> ArtifactStore::collect_garbage(const std::set<std::string>& referenced,
                                                        std::chrono::seconds min_age) {
  std::vector<std::string> removed;
  try {
    remove_stale_staging(root_ / kStagingDir, min_age);
    std::set<std::string> keep = current_hashes(root_ / kCurrentDir);
    keep.insert(referenced.begin(), referenced.end());
    std::vector<std::string> candidates;
    std::error_code error;
    for (fs::directory_iterator it(root_, error), end; !error && it != end; it.increment(error)) {
      const std::string name = it->path().filename().string();
      if (is_sha256(name) && !keep.contains(name)) candidates.push_back(name);
    }
    if (error) {
      throw ArtifactError(Kind::kIo, "cannot list " + root_.string() + ": " + error.message());
    }
    for (const std::string& sha256 : candidates) {
      if (!older_than(modified_at(root_ / sha256), min_age)) continue;
      if (remove_artifact(root_, sha256)) removed.push_back(sha256);
    }
  } catch (const std::system_error& e) {
    throw ArtifactError(Kind::kIo, std::string("garbage collection failed: ") + e.what());
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

}  // namespace ctd::registry
