#include "daemon/run_output.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <array>

#include <fmt/format.h>

namespace ctd::training {

namespace {
constexpr std::size_t kReadChunkBytes = 64 * 1024;
constexpr std::string_view kCutMarker = "…";
}  // namespace

void LineTail::add(std::string_view line) {
  if (capacity_ == 0) return;
  if (lines_.size() == capacity_) lines_.pop_front();
  if (line.size() <= max_line_bytes_) {
    lines_.emplace_back(line);
  } else {
    lines_.emplace_back(std::string(line.substr(0, max_line_bytes_)).append(kCutMarker));
  }
}

OutputStream::OutputStream(FileDescriptor pipe, FileDescriptor log, std::uint64_t log_limit_bytes,
                           std::size_t max_line_bytes, LineHandler on_line)
    : pipe_(std::move(pipe)),
      log_(std::move(log)),
      log_limit_bytes_(log_limit_bytes),
      max_line_bytes_(max_line_bytes),
      on_line_(std::move(on_line)) {}

void OutputStream::read_available() {
  if (!pipe_.valid()) return;
  std::array<char, kReadChunkBytes> buffer;
  const ssize_t got = ::read(pipe_.get(), buffer.data(), buffer.size());
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (got <= 0) {
    close();
    return;
  }
  const std::string_view chunk(buffer.data(), static_cast<std::size_t>(got));
  write_log(chunk);
  consume(chunk);
}

void OutputStream::close() {
  if (!pipe_.valid()) return;
  pipe_.reset();
  if (line_started_) end_line();
}

void OutputStream::consume(std::string_view chunk) {
  while (!chunk.empty()) {
    const std::size_t newline = chunk.find('\n');
    const std::string_view piece = chunk.substr(0, newline);
    const std::size_t room = max_line_bytes_ - line_.size();
    line_.append(piece.substr(0, room));
    line_started_ = true;
    if (newline == std::string_view::npos) return;
    end_line();
    chunk.remove_prefix(newline + 1);
  }
}

void OutputStream::end_line() {
  on_line_(line_);
  line_.clear();
  line_started_ = false;
}

void OutputStream::write_log(std::string_view bytes) {
  if (!log_.valid()) return;
  bool cut = false;
  if (log_limit_bytes_ > 0 && logged_bytes_ + bytes.size() > log_limit_bytes_) {
    bytes = bytes.substr(0, log_limit_bytes_ - logged_bytes_);
    cut = true;
  }
  while (!bytes.empty()) {
    const ssize_t written = ::write(log_.get(), bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      log_error_ = fmt::format("writing the log failed: {}", ::strerror(errno));
      log_.reset();
      return;
    }
    logged_bytes_ += static_cast<std::uint64_t>(written);
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
  if (cut) {
    const std::string marker = fmt::format("\n[ctd: log cut at {} bytes]\n", log_limit_bytes_);
    [[maybe_unused]] const ssize_t ignored = ::write(log_.get(), marker.data(), marker.size());
    log_error_ = fmt::format("log cut at {} bytes", log_limit_bytes_);
    log_.reset();
  }
}

}  // namespace ctd::training
