// A trainer's output as the launcher sees it: one pipe copied to a log file and split into
// lines (bounded in length), and a bounded tail of lines for a run's failure record. Part of
// `LocalProcessLauncher` (daemon/launcher.h).
//
// Thread-safety: both classes are used by one supervising thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/child_process.h"

namespace ctd::training {

// The last `capacity` lines added, each cut to `max_line_bytes` (with a "…" marker).
class LineTail {
 public:
  LineTail(std::size_t capacity, std::size_t max_line_bytes)
      : capacity_(capacity), max_line_bytes_(max_line_bytes) {}

  void add(std::string_view line);
  std::vector<std::string> lines() const { return {lines_.begin(), lines_.end()}; }

 private:
  std::size_t capacity_;
  std::size_t max_line_bytes_;
  std::deque<std::string> lines_;
};

// Reads one pipe (non-blocking read end) until EOF: every byte is appended to the log file
// (up to `log_limit_bytes`, 0 = unlimited, then one marker line and nothing more), and each
// line, without its newline, goes to the line handler. A line longer than `max_line_bytes` is
// handed on cut to its first `max_line_bytes` bytes; the rest of it is dropped (it is still in
// the log), so memory stays bounded whatever the child writes.
class OutputStream {
 public:
  using LineHandler = std::function<void(std::string_view line)>;

  OutputStream(FileDescriptor pipe, FileDescriptor log, std::uint64_t log_limit_bytes,
               std::size_t max_line_bytes, LineHandler on_line);

  int fd() const { return pipe_.get(); }
  bool open() const { return pipe_.valid(); }
  // Reads what is available (one read); at EOF or a read error, hands on the unterminated last
  // line and closes the pipe.
  void read_available();
  // Stops reading (the writer is gone but something still holds the pipe); hands on the
  // unterminated last line.
  void close();
  // Why the log file stopped being written, empty if it did not.
  const std::string& log_error() const { return log_error_; }

 private:
  void consume(std::string_view chunk);
  void end_line();
  void write_log(std::string_view bytes);

  FileDescriptor pipe_;
  FileDescriptor log_;
  std::uint64_t log_limit_bytes_;
  std::size_t max_line_bytes_;
  LineHandler on_line_;
  std::string line_;  // the current line, at most max_line_bytes_
  bool line_started_ = false;
  std::uint64_t logged_bytes_ = 0;
  std::string log_error_;
};

}  // namespace ctd::training
