// ArtifactStore on a real filesystem: every test gets a fresh root under its own temporary
// directory. Hashes are checked against sha256sum (coreutils) and a published test vector,
// not against the store's own hashing.
#include "registry/artifact_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <thread>

#include "tests/support/temp_dir.h"

namespace ctd::registry {
namespace {

namespace fs = std::filesystem;
using Kind = ArtifactError::Kind;

// SHA-256("abc"), FIPS 180-2 appendix B.1.
constexpr char kAbcSha256[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The hash that coreutils' sha256sum reports for `path`.
std::string sha256sum(const fs::path& path) {
  const std::string command = "sha256sum '" + path.string() + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed");
  char hex[65] = {};
  const std::size_t got = fread(hex, 1, 64, pipe);
  if (pclose(pipe) != 0 || got != 64) throw std::runtime_error("sha256sum failed");
  return hex;
}

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 random(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(random() & 0xff);
  return bytes;
}

// Flips one byte of a stored (read-only) file in place.
void flip_byte(const fs::path& path, std::size_t offset) {
  fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(static_cast<std::streamoff>(offset));
  const char c = static_cast<char>(file.get());
  file.seekp(static_cast<std::streamoff>(offset));
  file.put(static_cast<char>(c ^ 0x01));
}

// Sets the mtime of `path` itself (a symlink's own, too) to `age` ago.
void make_old(const fs::path& path, std::chrono::hours age) {
  const timespec when{.tv_sec = time(nullptr) - std::chrono::seconds(age).count(), .tv_nsec = 0};
  const timespec times[2] = {when, when};
  if (utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    throw std::runtime_error("utimensat failed on " + path.string());
  }
}

std::vector<std::string> sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

Kind error_kind(const std::function<void()>& action) {
  try {
    action();
  } catch (const ArtifactError& e) {
    return e.kind();
  }
  ADD_FAILURE() << "no ArtifactError";
  return Kind::kIo;
}

class ArtifactStoreTest : public ::testing::Test {
 protected:
  ctd::testing::TempDir dir_{"ctd-artifact-store"};
  fs::path root_ = fs::path(dir_.path()) / "artifacts";
  ArtifactStore store_{root_};

  fs::path model_file(const std::string& name, const std::string& content) {
    return dir_.write(name, content);
  }
};

TEST_F(ArtifactStoreTest, CreatesItsLayout) {
  EXPECT_TRUE(fs::is_directory(root_ / "current"));
  EXPECT_TRUE(fs::is_directory(root_ / ".tmp"));
  EXPECT_EQ(store_.root(), root_);
}

TEST_F(ArtifactStoreTest, PutStoresTheContentUnderItsHash) {
  const StoredArtifact stored = store_.put(model_file("abc.pt", "abc"), {{"run", 1}});
  EXPECT_EQ(stored.sha256, kAbcSha256);
  EXPECT_EQ(stored.size, 3u);
  EXPECT_EQ(stored.path, root_ / kAbcSha256 / "model.pt");
  EXPECT_EQ(read_file(stored.path), "abc");
  EXPECT_TRUE(entries(root_ / ".tmp").empty());
}

TEST_F(ArtifactStoreTest, PutStreamsLargeFilesAcrossManyBlocks) {
  const std::string content = random_bytes(5 * 1024 * 1024 + 17, 1);
  const fs::path model = model_file("large.pt", content);
  const StoredArtifact stored = store_.put(model, {});
  EXPECT_EQ(stored.sha256, sha256sum(model));
  EXPECT_EQ(stored.size, content.size());
  EXPECT_EQ(read_file(stored.path), content);
}

TEST_F(ArtifactStoreTest, PutWritesTheManifest) {
  const nlohmann::json manifest = {{"run_id", 42}, {"snapshot", "s-7"}, {"spec", {{"lr", 0.01}}}};
  const StoredArtifact stored = store_.put(model_file("m.pt", "model bytes"), manifest);
  EXPECT_EQ(nlohmann::json::parse(read_file(root_ / stored.sha256 / "manifest.json")), manifest);
  EXPECT_EQ(entries(root_ / stored.sha256),
            (std::vector<std::string>{"manifest.json", "model.pt"}));
}

TEST_F(ArtifactStoreTest, PutOfStoredContentKeepsTheExistingCopy) {
  const fs::path model = model_file("m.pt", "same bytes");
  const StoredArtifact first = store_.put(model, {{"run_id", 1}});
  const StoredArtifact second = store_.put(model, {{"run_id", 2}});
  EXPECT_EQ(first.sha256, second.sha256);
  EXPECT_EQ(first.path, second.path);
  EXPECT_EQ(entries(root_), sorted({".tmp", first.sha256, "current"}));
  EXPECT_EQ(nlohmann::json::parse(read_file(root_ / first.sha256 / "manifest.json"))["run_id"], 1);
  EXPECT_TRUE(entries(root_ / ".tmp").empty());
}

TEST_F(ArtifactStoreTest, PutRepairsACorruptStoredCopy) {
  const std::string content = random_bytes(100000, 2);
  const fs::path model = model_file("m.pt", content);
  const StoredArtifact stored = store_.put(model, {});
  flip_byte(stored.path, 5000);
  EXPECT_EQ(error_kind([&] { store_.verified_path(stored.sha256); }), Kind::kCorrupt);

  EXPECT_EQ(store_.put(model, {}).sha256, stored.sha256);
  EXPECT_EQ(store_.verified_path(stored.sha256), stored.path);
  EXPECT_EQ(read_file(stored.path), content);
  EXPECT_TRUE(entries(root_ / ".tmp").empty());
}

TEST_F(ArtifactStoreTest, PutRepairsAStoredCopyWithoutItsModelFile) {
  const fs::path model = model_file("m.pt", "bytes");
  const StoredArtifact stored = store_.put(model, {});
  fs::remove(stored.path);
  store_.put(model, {});
  EXPECT_EQ(read_file(store_.verified_path(stored.sha256)), "bytes");
}

TEST_F(ArtifactStoreTest, PutOfAMissingFileIsMissing) {
  EXPECT_EQ(error_kind([&] { store_.put(root_ / "no-such.pt", {}); }), Kind::kMissing);
  EXPECT_TRUE(entries(root_ / ".tmp").empty());
}

TEST_F(ArtifactStoreTest, VerifiedPathDetectsAFlippedByte) {
  const StoredArtifact stored = store_.put(model_file("m.pt", random_bytes(4096, 3)), {});
  flip_byte(stored.path, 4095);
  const std::string found = sha256sum(stored.path);
  try {
    store_.verified_path(stored.sha256);
    FAIL() << "corruption not detected";
  } catch (const ArtifactError& e) {
    EXPECT_EQ(e.kind(), Kind::kCorrupt);
    const std::string message = e.what();
    EXPECT_NE(message.find("sha256 mismatch: expected " + stored.sha256 + ", found " + found),
              std::string::npos)
        << message;
    EXPECT_NE(message.find(stored.path.string()), std::string::npos) << message;
  }
}

TEST_F(ArtifactStoreTest, VerifiedPathOfAnAbsentArtifactIsMissing) {
  try {
    store_.verified_path(kAbcSha256);
    FAIL() << "no error";
  } catch (const ArtifactError& e) {
    EXPECT_EQ(e.kind(), Kind::kMissing);
    EXPECT_NE(std::string(e.what()).find(kAbcSha256), std::string::npos) << e.what();
  }
}

TEST_F(ArtifactStoreTest, InvalidHashStringsAreRejected) {
  const StoredArtifact stored = store_.put(model_file("m.pt", "abc"), {});
  std::string upper = stored.sha256;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  const std::vector<std::string> invalid = {"",
                                            upper,
                                            stored.sha256.substr(1),
                                            stored.sha256 + "0",
                                            "../" + stored.sha256.substr(3),
                                            "current",
                                            ".tmp",
                                            std::string(64, 'g'),
                                            std::string(62, '0') + "/."};
  for (const std::string& hash : invalid) {
    SCOPED_TRACE("hash '" + hash + "'");
    try {
      store_.verified_path(hash);
      ADD_FAILURE() << "accepted";
    } catch (const ArtifactError& e) {
      EXPECT_EQ(e.kind(), Kind::kMissing);
      EXPECT_NE(std::string(e.what()).find("invalid artifact hash"), std::string::npos) << e.what();
    }
    EXPECT_EQ(error_kind([&] { store_.uri(hash); }), Kind::kMissing);
    EXPECT_EQ(error_kind([&] { store_.set_current("churn", hash); }), Kind::kMissing);
  }
  EXPECT_FALSE(store_.current("churn"));
}

TEST_F(ArtifactStoreTest, UriNamesTheStoredFile) {
  EXPECT_EQ(store_.uri(kAbcSha256), "file://" + root_.string() + "/" + kAbcSha256 + "/model.pt");
}

TEST_F(ArtifactStoreTest, SetCurrentPointsAtTheArtifactAndIsReplaced) {
  const StoredArtifact first = store_.put(model_file("a.pt", "model a"), {});
  const StoredArtifact second = store_.put(model_file("b.pt", "model b"), {});
  EXPECT_FALSE(store_.current("churn"));

  store_.set_current("churn", first.sha256);
  EXPECT_EQ(store_.current("churn"), first.sha256);
  const fs::path link = root_ / "current" / "churn.pt";
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(fs::read_symlink(link), fs::path("../" + first.sha256 + "/model.pt"));
  EXPECT_EQ(read_file(link), "model a");

  store_.set_current("churn", second.sha256);
  EXPECT_EQ(store_.current("churn"), second.sha256);
  EXPECT_EQ(read_file(link), "model b");
  EXPECT_FALSE(store_.current("fraud"));
  EXPECT_EQ(entries(root_ / "current"), std::vector<std::string>{"churn.pt"});
  EXPECT_TRUE(entries(root_ / ".tmp").empty());
}

TEST_F(ArtifactStoreTest, CurrentLinksSurviveMovingTheRoot) {
  const StoredArtifact stored = store_.put(model_file("a.pt", "model a"), {});
  store_.set_current("churn", stored.sha256);
  const fs::path moved = fs::path(dir_.path()) / "moved";
  fs::rename(root_, moved);
  ArtifactStore reopened(moved);
  EXPECT_EQ(reopened.current("churn"), stored.sha256);
  EXPECT_EQ(read_file(moved / "current" / "churn.pt"), "model a");
}

TEST_F(ArtifactStoreTest, SetCurrentOfAnUnknownOrCorruptArtifactFails) {
  EXPECT_EQ(error_kind([&] { store_.set_current("churn", kAbcSha256); }), Kind::kMissing);
  EXPECT_FALSE(fs::exists(fs::symlink_status(root_ / "current" / "churn.pt")));

  const StoredArtifact stored = store_.put(model_file("a.pt", "model a"), {});
  flip_byte(stored.path, 0);
  EXPECT_EQ(error_kind([&] { store_.set_current("churn", stored.sha256); }), Kind::kCorrupt);
  EXPECT_FALSE(store_.current("churn"));
}

TEST_F(ArtifactStoreTest, InvalidModelNamesAreRejected) {
  const StoredArtifact stored = store_.put(model_file("a.pt", "model a"), {});
  for (const std::string& name :
       {std::string(), std::string("Churn"), std::string("a/b"), std::string(".."),
        std::string("a.b"), std::string(64, 'a'), std::string("churn ")}) {
    SCOPED_TRACE("model '" + name + "'");
    EXPECT_THROW(store_.set_current(name, stored.sha256), std::invalid_argument);
    EXPECT_THROW(store_.current(name), std::invalid_argument);
  }
  store_.set_current(std::string(63, 'a'), stored.sha256);
  store_.set_current("fraud_v2-eu", stored.sha256);
  EXPECT_EQ(store_.current("fraud_v2-eu"), stored.sha256);
}

TEST_F(ArtifactStoreTest, CollectGarbageRemovesOnlyOldUnreferencedArtifacts) {
  const auto referenced = store_.put(model_file("a.pt", "referenced"), {});
  const auto unreferenced = store_.put(model_file("b.pt", "unreferenced"), {});
  const auto young = store_.put(model_file("c.pt", "young"), {});
  const auto current = store_.put(model_file("d.pt", "current"), {});
  store_.set_current("churn", current.sha256);
  for (const auto* old : {&referenced, &unreferenced, &current}) {
    make_old(root_ / old->sha256, std::chrono::hours(2));
  }

  const auto removed = store_.collect_garbage({referenced.sha256}, std::chrono::hours(1));
  EXPECT_EQ(removed, std::vector<std::string>{unreferenced.sha256});
  EXPECT_FALSE(fs::exists(root_ / unreferenced.sha256));
  for (const auto* kept : {&referenced, &young, &current}) {
    EXPECT_EQ(store_.verified_path(kept->sha256), kept->path);
  }
  EXPECT_EQ(store_.current("churn"), current.sha256);
  EXPECT_TRUE(entries(root_ / ".tmp").empty());
  EXPECT_TRUE(store_.collect_garbage({referenced.sha256}, std::chrono::hours(1)).empty());
}

TEST_F(ArtifactStoreTest, PutOfStoredContentMakesItYoungAgain) {
  const fs::path model = model_file("a.pt", "again");
  const auto stored = store_.put(model, {});
  make_old(root_ / stored.sha256, std::chrono::hours(2));
  store_.put(model, {});  // being registered again right now
  EXPECT_TRUE(store_.collect_garbage({}, std::chrono::hours(1)).empty());
  EXPECT_EQ(store_.verified_path(stored.sha256), stored.path);
}

TEST_F(ArtifactStoreTest, CollectGarbageRemovesStaleStagingOnly) {
  const fs::path staging = root_ / ".tmp";
  fs::create_directory(staging / "put-stale");
  std::ofstream(staging / "put-stale" / "model.pt") << "half a model";
  make_old(staging / "put-stale" / "model.pt", std::chrono::hours(3));
  make_old(staging / "put-stale", std::chrono::hours(3));
  // A put still copying: its directory is old but the file it writes is not.
  fs::create_directory(staging / "put-busy");
  std::ofstream(staging / "put-busy" / "model.pt") << "being written";
  make_old(staging / "put-busy", std::chrono::hours(3));
  fs::create_directory(staging / "put-fresh");
  std::ofstream(staging / "stale-file") << "x";
  make_old(staging / "stale-file", std::chrono::hours(3));
  fs::create_symlink("../nowhere/model.pt", staging / "stale-link");  // from set_current()
  make_old(staging / "stale-link", std::chrono::hours(3));

  EXPECT_TRUE(store_.collect_garbage({}, std::chrono::hours(1)).empty());
  EXPECT_EQ(entries(staging), (std::vector<std::string>{"put-busy", "put-fresh"}));
  EXPECT_TRUE(store_.collect_garbage({}, std::chrono::seconds(0)).empty());
  EXPECT_TRUE(entries(staging).empty());
}

TEST_F(ArtifactStoreTest, CollectGarbageIgnoresOtherNamesInTheRoot) {
  fs::create_directory(root_ / "notes");
  std::ofstream(root_ / "README") << "x";
  make_old(root_ / "notes", std::chrono::hours(2));
  EXPECT_TRUE(store_.collect_garbage({}, std::chrono::seconds(0)).empty());
  EXPECT_TRUE(fs::exists(root_ / "notes"));
  EXPECT_TRUE(fs::exists(root_ / "README"));
}

TEST_F(ArtifactStoreTest, ConcurrentProcessesPuttingTheSameContentLeaveOneCopy) {
  const std::string content = random_bytes(3 * 1024 * 1024, 4);
  const fs::path model = model_file("m.pt", content);
  const std::string expected = sha256sum(model);
  constexpr int kProcesses = 4;
  std::vector<pid_t> children;
  for (int i = 0; i < kProcesses; ++i) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int status = 1;
      try {
        ArtifactStore store(root_);
        status = store.put(model, {{"process", i}}).sha256 == expected ? 0 : 2;
      } catch (...) {
        status = 3;
      }
      _exit(status);
    }
    children.push_back(pid);
  }
  for (const pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  }
  EXPECT_EQ(entries(root_), sorted({".tmp", expected, "current"}));
  EXPECT_TRUE(entries(root_ / ".tmp").empty());
  EXPECT_EQ(read_file(store_.verified_path(expected)), content);
}

TEST_F(ArtifactStoreTest, ConcurrentThreadsPuttingTheSameContentLeaveOneCopy) {
  const std::string content = random_bytes(2 * 1024 * 1024, 5);
  const fs::path model = model_file("m.pt", content);
  const std::string expected = sha256sum(model);
  constexpr int kThreads = 8;
  std::vector<std::string> hashes(kThreads);
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        try {
          hashes[i] = ArtifactStore(root_).put(model, {}).sha256;
        } catch (const std::exception& e) {
          hashes[i] = e.what();
        }
      });
    }
  }
  for (const std::string& hash : hashes) EXPECT_EQ(hash, expected);
  EXPECT_EQ(entries(root_), sorted({".tmp", expected, "current"}));
  EXPECT_TRUE(entries(root_ / ".tmp").empty());
  EXPECT_EQ(read_file(store_.verified_path(expected)), content);
}

}  // namespace
}  // namespace ctd::registry
