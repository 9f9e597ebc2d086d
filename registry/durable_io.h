// POSIX file helpers behind the registry's crash-safe writes (artifact_store.cc, triton.cc):
// streaming copies that hash what they write, fsync of files and directories, renames, and
// files replaced atomically through a temporary file beside them.
//
// Every failure throws std::system_error carrying errno, with a message that names the
// operation and the path ("open /a/b: No such file or directory"); callers map the code
// (ENOENT, ...) to their own error kinds. Private to registry/.
//
// Thread-safety: free functions, safe to call concurrently; a FileDescriptor has one owner.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace ctd::registry::io {

// Owns one file descriptor and closes it on destruction. Move-only.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor();

  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// Throws std::system_error(errno) with the message "<what> <path>: <strerror>".
[[noreturn]] void throw_errno(std::string_view what, const std::filesystem::path& path);

// The SHA-256 (lowercase hex) and length of a byte stream.
struct Digest {
  std::string sha256;
  std::uint64_t size = 0;
};

// Opens an existing file read-only.
FileDescriptor open_for_reading(const std::filesystem::path& path);

// Hashes a file in fixed-size blocks (never the whole file in memory).
Digest hash_file(const std::filesystem::path& path);

// Copies everything readable from `source` (named `source_path` in errors) into the new file
// `target` (which must not exist yet), fsyncs it and returns the digest of the bytes written.
Digest copy_to_new_file(const FileDescriptor& source, const std::filesystem::path& source_path,
                        const std::filesystem::path& target, mode_t mode);

// Writes `content` into the new file `target` (which must not exist yet) and fsyncs it.
void write_new_file(const std::filesystem::path& target, std::string_view content, mode_t mode);

// Flushes a directory's entries (new, renamed or removed names) to disk.
void fsync_directory(const std::filesystem::path& directory);

// rename(2); replaces `to` when it is a file or an empty directory.
void rename_path(const std::filesystem::path& from, const std::filesystem::path& to);

// Atomically replaces (or creates) `target` with a copy of `source` / with `content`: a
// temporary file in the same directory, fsync, rename over `target`, fsync of the directory.
// A crash leaves the old file or the new one, and at worst a ".<name>.tmp-XXXXXX" file.
void replace_file_with_copy(const std::filesystem::path& target, const FileDescriptor& source,
                            const std::filesystem::path& source_path, mode_t mode);
void replace_file_with_content(const std::filesystem::path& target, std::string_view content,
                               mode_t mode);

}  // namespace ctd::registry::io
