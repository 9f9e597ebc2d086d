// Encoder for PostgreSQL's binary COPY format (COPY ... FROM STDIN WITH (FORMAT binary)):
// a signature and header, then per row a field count and length-prefixed big-endian fields,
// then a trailer. See the "Binary Format" section of PostgreSQL's COPY documentation.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ctd::pg {

class CopyEncoder {
 public:
  // Type OIDs of array elements.
  static constexpr std::uint32_t kFloat8Oid = 701;
  static constexpr std::uint32_t kTextOid = 25;

  void begin();  // clears the buffer and writes the header
  void row(std::int16_t fields) { be16(static_cast<std::uint16_t>(fields)); }
  void null() { be32(0xffffffffu); }
  void int4(std::int32_t v) { be32(4), be32(static_cast<std::uint32_t>(v)); }
  void int8(std::int64_t v) { be32(8), be64(static_cast<std::uint64_t>(v)); }
  void float8(double v) { be32(8), be64(std::bit_cast<std::uint64_t>(v)); }
  void text(std::string_view v);  // also bytea
  // timestamptz from Unix epoch milliseconds.
  void timestamp_ms(std::int64_t unix_ms);
  // One-dimensional float8[]; NaN elements are written as NULL.
  void float8_array(const double* values, std::size_t count);
  // One-dimensional text[]; elements with present[i] == 0 are NULL.
  void text_array(const std::string* values, const std::uint8_t* present, std::size_t count);
  void finish() { be16(0xffff); }

  const std::string& data() const { return buffer_; }

 private:
  void be16(std::uint16_t v);
  void be32(std::uint32_t v);
  void be64(std::uint64_t v);
  void array_header(std::uint32_t element_oid, std::size_t count, bool has_null);
  std::string buffer_;
};

}  // namespace ctd::pg
