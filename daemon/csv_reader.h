// Streaming reader of CSV files with a header row (RFC 4180 quoting within a line: fields in
// double quotes, "" for a quote; no line breaks inside fields). Reads one line at a time, so
// memory does not depend on the file's size.
//
// Thread-safety: none; one owner.
#pragma once

#include <cstddef>
#include <fstream>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace ctd::csv {

class CsvReader {
 public:
  // Opens `path` and reads its header; an error names the file and what is wrong (cannot
  // open, empty file).
  static std::variant<std::unique_ptr<CsvReader>, std::string> open(const std::string& path);

  const std::vector<std::string>& header() const { return header_; }
  const std::string& path() const { return path_; }
  std::size_t line() const { return line_; }  // 1-based number of the last line read

  // Reads the next non-empty row into `fields`; false at the end of the file or on an error,
  // which is then in `error` (a wrong number of fields, an unterminated quote).
  bool next(std::vector<std::string>& fields, std::string& error);

 private:
  CsvReader(std::string path, std::ifstream in) : path_(std::move(path)), in_(std::move(in)) {}
  bool split(const std::string& text, std::vector<std::string>& fields, std::string& error) const;

  std::string path_;
  std::ifstream in_;
  std::vector<std::string> header_;
  std::size_t line_ = 0;
  std::string buffer_;
};

}  // namespace ctd::csv
