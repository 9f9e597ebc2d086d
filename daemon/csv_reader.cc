#include "daemon/csv_reader.h"

namespace ctd::csv {

std::variant<std::unique_ptr<CsvReader>, std::string> CsvReader::open(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return path + ": cannot open";
  std::unique_ptr<CsvReader> reader(new CsvReader(path, std::move(in)));
  std::string error;
  if (!reader->next(reader->header_, error)) {
    return error.empty() ? path + ": empty file (a header row is required)" : error;
  }
  return reader;
}

bool CsvReader::next(std::vector<std::string>& fields, std::string& error) {
  while (std::getline(in_, buffer_)) {
    ++line_;
    if (!buffer_.empty() && buffer_.back() == '\r') buffer_.pop_back();
    if (buffer_.empty()) continue;
    if (!split(buffer_, fields, error)) return false;
    if (!header_.empty() && fields.size() != header_.size()) {
      error = path_ + ":" + std::to_string(line_) + ": " + std::to_string(fields.size()) +
              " fields, the header has " + std::to_string(header_.size());
      return false;
    }
    return true;
  }
  if (in_.bad()) error = path_ + ": read error";
  return false;
}

bool CsvReader::split(const std::string& text, std::vector<std::string>& fields,
                      std::string& error) const {
  fields.clear();
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c != '"') {
        field += c;
      } else if (i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
    } else {
      field += c;
    }
  }
  if (quoted) {
    error = path_ + ":" + std::to_string(line_) + ": unterminated quote";
    return false;
  }
  fields.push_back(std::move(field));
  return true;
}

}  // namespace ctd::csv
