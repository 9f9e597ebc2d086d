// CsvReader: header, quoting, CRLF and blank lines, and the errors `ctd drift` reports.
#include "daemon/csv_reader.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace ctd::csv {
namespace {

std::unique_ptr<CsvReader> open_ok(const std::string& path) {
  auto opened = CsvReader::open(path);
  if (auto* error = std::get_if<std::string>(&opened)) {
    ADD_FAILURE() << *error;
    return nullptr;
  }
  return std::move(std::get<std::unique_ptr<CsvReader>>(opened));
}

TEST(CsvReader, ReadsQuotedFieldsCrlfAndSkipsBlankLines) {
  testing::TempDir dir("ctd-csv");
  const std::string path =
      dir.write("a.csv", "name,\"note, with comma\"\r\n\r\n\"x \"\"y\"\"\",2\r\n,\n");
  auto reader = open_ok(path);
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->header(), (std::vector<std::string>{"name", "note, with comma"}));
  std::vector<std::string> fields;
  std::string error;
  ASSERT_TRUE(reader->next(fields, error)) << error;
  EXPECT_EQ(fields, (std::vector<std::string>{"x \"y\"", "2"}));
  EXPECT_EQ(reader->line(), 3u);
  ASSERT_TRUE(reader->next(fields, error)) << error;
  EXPECT_EQ(fields, (std::vector<std::string>{"", ""}));
  EXPECT_FALSE(reader->next(fields, error));
  EXPECT_TRUE(error.empty()) << error;
}

TEST(CsvReader, ReportsWrongFieldCountsUnterminatedQuotesAndEmptyFiles) {
  testing::TempDir dir("ctd-csv");
  auto reader = open_ok(dir.write("b.csv", "a,b\n1,2,3\n"));
  ASSERT_TRUE(reader);
  std::vector<std::string> fields;
  std::string error;
  EXPECT_FALSE(reader->next(fields, error));
  EXPECT_NE(error.find("b.csv:2: 3 fields, the header has 2"), std::string::npos) << error;

  reader = open_ok(dir.write("c.csv", "a,b\n\"1,2\n"));
  ASSERT_TRUE(reader);
  error.clear();
  EXPECT_FALSE(reader->next(fields, error));
  EXPECT_NE(error.find("c.csv:2: unterminated quote"), std::string::npos) << error;

  auto empty = CsvReader::open(dir.write("d.csv", "\n\n"));
  ASSERT_TRUE(std::holds_alternative<std::string>(empty));
  EXPECT_NE(std::get<std::string>(empty).find("empty file"), std::string::npos);
  auto missing = CsvReader::open(dir.path() + "/none.csv");
  ASSERT_TRUE(std::holds_alternative<std::string>(missing));
  EXPECT_NE(std::get<std::string>(missing).find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace ctd::csv
