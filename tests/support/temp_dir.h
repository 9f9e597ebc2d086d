// A scratch directory for one test (or one DaemonProcess): created empty under the system's
// temporary directory, removed with everything in it when the object goes away. Tests write
// their config files, migrations and logs here instead of sharing fixed paths.
//
// Thread-safety: owned by one test; not copyable.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace ctd::testing {

class TempDir {
 public:
  // Creates TMPDIR/PREFIX-XXXXXX (e.g. /tmp/ctd-cli-a1B2c3); throws if it cannot.
  explicit TempDir(const std::string& prefix) {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

  // Writes `content` to the file `name` in the directory; returns the file's path.
  std::string write(const std::string& name, const std::string& content) const {
    const std::string file = path_ + "/" + name;
    std::ofstream out(file, std::ios::binary);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + file);
    return file;
  }

 private:
  std::string path_;
};

}  // namespace ctd::testing
