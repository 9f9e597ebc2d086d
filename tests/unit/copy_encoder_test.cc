#include "daemon/copy_encoder.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace ctd::pg {
namespace {

constexpr std::size_t kHeaderBytes = 19;  // 11-byte signature, flags, extension length
constexpr std::int32_t kNullLength = -1;
constexpr std::int32_t kArrayHeaderBytes = 20;  // ndim, has-null, oid, then size + lower bound

// Reads big-endian values back from an encoder's buffer, front to back.
class Reader {
 public:
  explicit Reader(std::string_view data, std::size_t start = 0) : data_(data), pos_(start) {}

  std::uint64_t be(std::size_t bytes) {
    EXPECT_LE(pos_ + bytes, data_.size()) << "read past the end";
    if (pos_ + bytes > data_.size()) return 0;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) {
      v = (v << 8) | static_cast<unsigned char>(data_[pos_ + i]);
    }
    pos_ += bytes;
    return v;
  }
  std::int16_t i16() { return static_cast<std::int16_t>(be(2)); }
  std::int32_t i32() { return static_cast<std::int32_t>(be(4)); }
  std::int64_t i64() { return static_cast<std::int64_t>(be(8)); }
  double f64() { return std::bit_cast<double>(be(8)); }
  std::string bytes(std::size_t count) {
    EXPECT_LE(pos_ + count, data_.size()) << "read past the end";
    if (pos_ + count > data_.size()) return {};
    std::string out(data_.substr(pos_, count));
    pos_ += count;
    return out;
  }

  std::size_t pos() const { return pos_; }
  bool at_end() const { return pos_ == data_.size(); }

 private:
  std::string_view data_;
  std::size_t pos_;
};

// Bytes written after the header, to compare layouts byte for byte.
std::string body(const CopyEncoder& encoder) { return encoder.data().substr(kHeaderBytes); }

TEST(CopyEncoderTest, BeginWritesSignatureFlagsAndHeaderExtension) {
  CopyEncoder encoder;
  encoder.begin();
  const std::string expected =
      std::string("PGCOPY\n\377\r\n\0", 11) + std::string(4, '\0') + std::string(4, '\0');
  EXPECT_EQ(encoder.data(), expected);
  EXPECT_EQ(encoder.data().size(), kHeaderBytes);
}

TEST(CopyEncoderTest, BeginClearsWhatWasWritten) {
  CopyEncoder encoder;
  encoder.begin();
  encoder.row(1);
  encoder.int4(5);
  encoder.finish();
  encoder.begin();
  EXPECT_EQ(encoder.data().size(), kHeaderBytes);
}

TEST(CopyEncoderTest, ScalarFieldsAreLengthPrefixedBigEndian) {
  CopyEncoder encoder;
  encoder.begin();
  encoder.row(4);
  encoder.int4(-2);
  encoder.int8(0x0102030405060708);
  encoder.float8(1.5);
  encoder.null();
  EXPECT_EQ(body(encoder), std::string("\x00\x04"                          // field count
                                       "\x00\x00\x00\x04\xff\xff\xff\xfe"  // int4 -2
                                       "\x00\x00\x00\x08\x01\x02\x03\x04\x05\x06\x07\x08"
                                       "\x00\x00\x00\x08\x3f\xf8\x00\x00\x00\x00\x00\x00"
                                       "\xff\xff\xff\xff",  // null
                                       2 + 8 + 12 + 12 + 4));
}

TEST(CopyEncoderTest, ScalarFieldsRoundTripAtTheirExtremes) {
  CopyEncoder encoder;
  encoder.begin();
  encoder.row(6);
  encoder.int4(std::numeric_limits<std::int32_t>::min());
  encoder.int4(std::numeric_limits<std::int32_t>::max());
  encoder.int8(std::numeric_limits<std::int64_t>::min());
  encoder.int8(-1);
  encoder.float8(-0.0);
  encoder.float8(std::numeric_limits<double>::quiet_NaN());  // a plain float8 keeps NaN

  Reader reader(encoder.data(), kHeaderBytes);
  EXPECT_EQ(reader.i16(), 6);
  EXPECT_EQ(reader.i32(), 4);
  EXPECT_EQ(reader.i32(), std::numeric_limits<std::int32_t>::min());
  EXPECT_EQ(reader.i32(), 4);
  EXPECT_EQ(reader.i32(), std::numeric_limits<std::int32_t>::max());
  EXPECT_EQ(reader.i32(), 8);
  EXPECT_EQ(reader.i64(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(reader.i32(), 8);
  EXPECT_EQ(reader.i64(), -1);
  EXPECT_EQ(reader.i32(), 8);
  const double negative_zero = reader.f64();
  EXPECT_EQ(negative_zero, 0.0);
  EXPECT_TRUE(std::signbit(negative_zero));
  EXPECT_EQ(reader.i32(), 8);
  EXPECT_TRUE(std::isnan(reader.f64()));
  EXPECT_TRUE(reader.at_end());
}

TEST(CopyEncoderTest, TextIsLengthPrefixedRawBytes) {
  CopyEncoder encoder;
  encoder.begin();
  encoder.text("h\xc3\xa9llo");
  encoder.text("");
  encoder.text(std::string_view("a\0b", 3));  // bytea may hold NUL

  Reader reader(encoder.data(), kHeaderBytes);
  EXPECT_EQ(reader.i32(), 6);
  EXPECT_EQ(reader.bytes(6), "h\xc3\xa9llo");
  EXPECT_EQ(reader.i32(), 0);
  EXPECT_EQ(reader.i32(), 3);
  EXPECT_EQ(reader.bytes(3), std::string("a\0b", 3));
  EXPECT_TRUE(reader.at_end());
}

TEST(CopyEncoderTest, TimestampCountsMicrosecondsFromTheYear2000) {
  CopyEncoder encoder;
  encoder.begin();
  encoder.timestamp_ms(946684800000);  // 2000-01-01T00:00:00Z
  encoder.timestamp_ms(946684800001);
  encoder.timestamp_ms(0);              // 1970-01-01T00:00:00Z
  encoder.timestamp_ms(1709210096000);  // 2024-02-29T12:34:56Z

  Reader reader(encoder.data(), kHeaderBytes);
  EXPECT_EQ(reader.i32(), 8);
  EXPECT_EQ(reader.i64(), 0);
  EXPECT_EQ(reader.i32(), 8);
  EXPECT_EQ(reader.i64(), 1000);
  EXPECT_EQ(reader.i32(), 8);
  EXPECT_EQ(reader.i64(), -946684800000000);
  EXPECT_EQ(reader.i32(), 8);
  EXPECT_EQ(reader.i64(), (1709210096000 - 946684800000) * 1000);
  EXPECT_TRUE(reader.at_end());
  EXPECT_EQ(body(encoder).substr(0, 12), std::string(3, '\0') + '\x08' + std::string(8, '\0'));
}

TEST(CopyEncoderTest, Float8ArrayWritesNanAsNullElement) {
  const std::vector<double> values = {1.0, std::numeric_limits<double>::quiet_NaN(), -2.5};
  CopyEncoder encoder;
  encoder.begin();
  encoder.float8_array(values.data(), values.size());

  Reader reader(encoder.data(), kHeaderBytes);
  const std::int32_t length = reader.i32();
  EXPECT_EQ(length, kArrayHeaderBytes + 12 + 4 + 12);
  const std::size_t payload_start = reader.pos();
  EXPECT_EQ(reader.i32(), 1);  // dimensions
  EXPECT_EQ(reader.i32(), 1);  // has null
  EXPECT_EQ(reader.i32(), 701);
  EXPECT_EQ(reader.i32(), 3);  // size of dimension 1
  EXPECT_EQ(reader.i32(), 1);  // lower bound
  EXPECT_EQ(reader.i32(), 8);
  EXPECT_EQ(reader.f64(), 1.0);
  EXPECT_EQ(reader.i32(), kNullLength);
  EXPECT_EQ(reader.i32(), 8);
  EXPECT_EQ(reader.f64(), -2.5);
  EXPECT_EQ(reader.pos() - payload_start, static_cast<std::size_t>(length));
  EXPECT_TRUE(reader.at_end());
}

TEST(CopyEncoderTest, Float8ArrayWithoutNanHasNoNullFlag) {
  const std::vector<double> values = {0.25, -0.0};
  CopyEncoder encoder;
  encoder.begin();
  encoder.float8_array(values.data(), values.size());
  EXPECT_EQ(body(encoder), std::string("\x00\x00\x00\x2c"  // 20 + 2 * 12 = 44
                                       "\x00\x00\x00\x01"  // dimensions
                                       "\x00\x00\x00\x00"  // no null
                                       "\x00\x00\x02\xbd"  // oid 701
                                       "\x00\x00\x00\x02"  // size
                                       "\x00\x00\x00\x01"  // lower bound
                                       "\x00\x00\x00\x08\x3f\xd0\x00\x00\x00\x00\x00\x00"
                                       "\x00\x00\x00\x08\x80\x00\x00\x00\x00\x00\x00\x00",
                                       4 + 20 + 24));
}

TEST(CopyEncoderTest, EmptyFloat8ArrayIsOneDimensionOfSizeZero) {
  CopyEncoder encoder;
  encoder.begin();
  encoder.float8_array(nullptr, 0);

  Reader reader(encoder.data(), kHeaderBytes);
  EXPECT_EQ(reader.i32(), kArrayHeaderBytes);
  EXPECT_EQ(reader.i32(), 1);
  EXPECT_EQ(reader.i32(), 0);
  EXPECT_EQ(reader.i32(), 701);
  EXPECT_EQ(reader.i32(), 0);
  EXPECT_EQ(reader.i32(), 1);
  EXPECT_TRUE(reader.at_end());
}

TEST(CopyEncoderTest, TextArrayWritesAbsentElementsAsNull) {
  const std::vector<std::string> values = {"de", "ignored", "", "fr"};
  const std::vector<std::uint8_t> present = {1, 0, 1, 1};
  CopyEncoder encoder;
  encoder.begin();
  encoder.text_array(values.data(), present.data(), values.size());

  Reader reader(encoder.data(), kHeaderBytes);
  const std::int32_t length = reader.i32();
  EXPECT_EQ(length, kArrayHeaderBytes + (4 + 2) + 4 + (4 + 0) + (4 + 2));
  const std::size_t payload_start = reader.pos();
  EXPECT_EQ(reader.i32(), 1);  // dimensions
  EXPECT_EQ(reader.i32(), 1);  // has null
  EXPECT_EQ(reader.i32(), 25);
  EXPECT_EQ(reader.i32(), 4);
  EXPECT_EQ(reader.i32(), 1);
  EXPECT_EQ(reader.i32(), 2);
  EXPECT_EQ(reader.bytes(2), "de");
  EXPECT_EQ(reader.i32(), kNullLength);
  EXPECT_EQ(reader.i32(), 0);  // an empty string is present, not null
  EXPECT_EQ(reader.i32(), 2);
  EXPECT_EQ(reader.bytes(2), "fr");
  EXPECT_EQ(reader.pos() - payload_start, static_cast<std::size_t>(length));
  EXPECT_TRUE(reader.at_end());
}

TEST(CopyEncoderTest, TextArrayWithEveryElementPresentHasNoNullFlag) {
  const std::vector<std::string> values = {"a", "bc"};
  const std::vector<std::uint8_t> present = {1, 1};
  CopyEncoder encoder;
  encoder.begin();
  encoder.text_array(values.data(), present.data(), values.size());

  Reader reader(encoder.data(), kHeaderBytes);
  EXPECT_EQ(reader.i32(), kArrayHeaderBytes + 5 + 6);
  EXPECT_EQ(reader.i32(), 1);
  EXPECT_EQ(reader.i32(), 0);
  EXPECT_EQ(reader.i32(), 25);
  EXPECT_EQ(reader.i32(), 2);
  EXPECT_EQ(reader.i32(), 1);
  EXPECT_EQ(reader.i32(), 1);
  EXPECT_EQ(reader.bytes(1), "a");
  EXPECT_EQ(reader.i32(), 2);
  EXPECT_EQ(reader.bytes(2), "bc");
  EXPECT_TRUE(reader.at_end());
}

TEST(CopyEncoderTest, FinishWritesTheTrailer) {
  CopyEncoder encoder;
  encoder.begin();
  encoder.finish();
  EXPECT_EQ(body(encoder), "\xff\xff");
}

// A whole COPY stream, read back row by row as PostgreSQL would.
TEST(CopyEncoderTest, RowsParseBackInOrder) {
  const std::vector<double> features = {3.0, std::numeric_limits<double>::quiet_NaN()};
  const std::vector<std::string> categories = {"us", ""};
  const std::vector<std::uint8_t> present = {1, 0};
  CopyEncoder encoder;
  encoder.begin();
  for (std::int32_t row = 0; row < 2; ++row) {
    encoder.row(5);
    encoder.int4(row);
    encoder.timestamp_ms(946684800000 + row);
    encoder.text(row == 0 ? "r0" : "");
    encoder.float8_array(features.data(), features.size());
    encoder.text_array(categories.data(), present.data(), categories.size());
  }
  encoder.finish();

  Reader reader(encoder.data());
  EXPECT_EQ(reader.bytes(11), std::string("PGCOPY\n\377\r\n\0", 11));
  EXPECT_EQ(reader.i32(), 0);
  EXPECT_EQ(reader.i32(), 0);
  for (std::int32_t row = 0; row < 2; ++row) {
    SCOPED_TRACE(row);
    EXPECT_EQ(reader.i16(), 5);
    EXPECT_EQ(reader.i32(), 4);
    EXPECT_EQ(reader.i32(), row);
    EXPECT_EQ(reader.i32(), 8);
    EXPECT_EQ(reader.i64(), row * 1000);
    const std::int32_t id_length = reader.i32();
    EXPECT_EQ(reader.bytes(static_cast<std::size_t>(id_length)), row == 0 ? "r0" : "");
    const std::int32_t numeric_length = reader.i32();
    EXPECT_EQ(numeric_length, kArrayHeaderBytes + 12 + 4);
    reader.bytes(static_cast<std::size_t>(numeric_length));
    const std::int32_t categorical_length = reader.i32();
    EXPECT_EQ(categorical_length, kArrayHeaderBytes + 6 + 4);
    reader.bytes(static_cast<std::size_t>(categorical_length));
  }
  EXPECT_EQ(reader.i16(), -1);  // 0xffff trailer
  EXPECT_TRUE(reader.at_end());
}

}  // namespace
}  // namespace ctd::pg
