#include "registry/durable_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <span>
#include <system_error>
#include <vector>

#include "daemon/sha256.h"

namespace ctd::registry::io {
namespace {

// Large enough that hashing a model of hundreds of MB costs few syscalls, small enough to
// keep on every thread's heap without thought.
constexpr std::size_t kBlockSize = 1 << 20;

void write_all(int fd, const std::byte* data, std::size_t size, const std::filesystem::path& path) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      throw_errno("write", path);
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
}

// Reads `source` to its end, hashing every block and writing it to `target` when given.
Digest stream(int source, const std::filesystem::path& source_path, int target,
              const std::filesystem::path& target_path) {
  std::vector<std::byte> block(kBlockSize);
  Sha256 hash;
  Digest digest;
  while (true) {
    const ssize_t got = ::read(source, block.data(), block.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      throw_errno("read", source_path);
    }
    if (got == 0) break;
    const auto size = static_cast<std::size_t>(got);
    hash.update(std::span(block.data(), size));
    if (target >= 0) write_all(target, block.data(), size, target_path);
    digest.size += size;
  }
  digest.sha256 = hash.hex_digest();
  return digest;
}

FileDescriptor create_new_file(const std::filesystem::path& path, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) throw_errno("create", path);
  return FileDescriptor(fd);
}

void fsync_file(const FileDescriptor& fd, const std::filesystem::path& path) {
  if (::fsync(fd.get()) != 0) throw_errno("fsync", path);
}

// A temporary file ".<name>.tmp-XXXXXX" beside `target`, removed again unless committed.
class TempFileBeside {
 public:
  TempFileBeside(const std::filesystem::path& target, mode_t mode) {
    std::string name = ".";  // appended, not "." + ...: GCC 12 warns falsely on that
    name += target.filename().string();
    name += ".tmp-XXXXXX";
    std::string pattern = (target.parent_path() / name).string();
    const int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
    if (fd < 0) throw_errno("create a temporary file beside", target);
    fd_ = FileDescriptor(fd);
    path_ = pattern;
    if (::fchmod(fd, mode) != 0) {
      const int error = errno;
      ::unlink(path_.c_str());  // the destructor does not run for a constructor that throws
      errno = error;
      throw_errno("chmod", path_);
    }
  }
  ~TempFileBeside() {
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFileBeside(const TempFileBeside&) = delete;
  TempFileBeside& operator=(const TempFileBeside&) = delete;

  const FileDescriptor& fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }

  // fsync, rename over `target`, fsync of the directory.
  void commit(const std::filesystem::path& target) {
    fsync_file(fd_, path_);
    fd_ = FileDescriptor();
    rename_path(path_, target);
    committed_ = true;
    fsync_directory(target.parent_path());
  }

 private:
  FileDescriptor fd_;
  std::filesystem::path path_;
  bool committed_ = false;
};

}  // namespace

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

void throw_errno(std::string_view what, const std::filesystem::path& path) {
  const int error = errno;
  throw std::system_error(error, std::generic_category(), std::string(what) + " " + path.string());
}

FileDescriptor open_for_reading(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("open", path);
  return FileDescriptor(fd);
}

Digest hash_file(const std::filesystem::path& path) {
  const FileDescriptor fd = open_for_reading(path);
  return stream(fd.get(), path, -1, {});
}

Digest copy_to_new_file(const FileDescriptor& source, const std::filesystem::path& source_path,
                        const std::filesystem::path& target, mode_t mode) {
  const FileDescriptor out = create_new_file(target, mode);
  const Digest digest = stream(source.get(), source_path, out.get(), target);
  fsync_file(out, target);
  return digest;
}

void write_new_file(const std::filesystem::path& target, std::string_view content, mode_t mode) {
  const FileDescriptor out = create_new_file(target, mode);
  write_all(out.get(), reinterpret_cast<const std::byte*>(content.data()), content.size(), target);
  fsync_file(out, target);
}

void fsync_directory(const std::filesystem::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("open directory", directory);
  const FileDescriptor owned(fd);
  if (::fsync(fd) != 0) throw_errno("fsync directory", directory);
}

void rename_path(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    throw_errno("rename " + from.string() + " to", to);
  }
}

void replace_file_with_copy(const std::filesystem::path& target, const FileDescriptor& source,
                            const std::filesystem::path& source_path, mode_t mode) {
  TempFileBeside temp(target, mode);
  stream(source.get(), source_path, temp.fd().get(), temp.path());
  temp.commit(target);
}

void replace_file_with_content(const std::filesystem::path& target, std::string_view content,
                               mode_t mode) {
  TempFileBeside temp(target, mode);
  write_all(temp.fd().get(), reinterpret_cast<const std::byte*>(content.data()), content.size(),
            temp.path());
  temp.commit(target);
}

}  // namespace ctd::registry::io
