#include "daemon/copy_encoder.h"

#include <cmath>

namespace ctd::pg {
namespace {
// PostgreSQL timestamps count microseconds from 2000-01-01T00:00:00Z.
constexpr std::int64_t kPostgresEpochUnixMs = 946684800000;
}  // namespace

void CopyEncoder::begin() {
  buffer_.clear();
  static constexpr char kSignature[] = "PGCOPY\n\377\r\n";
  buffer_.append(kSignature, 11);
  be32(0);  // flags
  be32(0);  // header extension length
}

void CopyEncoder::be16(std::uint16_t v) {
  const std::uint16_t be = __builtin_bswap16(v);
  buffer_.append(reinterpret_cast<const char*>(&be), 2);
}

void CopyEncoder::be32(std::uint32_t v) {
  const std::uint32_t be = __builtin_bswap32(v);
  buffer_.append(reinterpret_cast<const char*>(&be), 4);
}

void CopyEncoder::be64(std::uint64_t v) {
  const std::uint64_t be = __builtin_bswap64(v);
  buffer_.append(reinterpret_cast<const char*>(&be), 8);
}

void CopyEncoder::text(std::string_view v) {
  be32(static_cast<std::uint32_t>(v.size()));
  buffer_.append(v.data(), v.size());
}

void CopyEncoder::timestamp_ms(std::int64_t unix_ms) {
  int8((unix_ms - kPostgresEpochUnixMs) * 1000);
}

void CopyEncoder::array_header(std::uint32_t element_oid, std::size_t count, bool has_null) {
  be32(1);  // dimensions
  be32(has_null ? 1 : 0);
  be32(element_oid);
  be32(static_cast<std::uint32_t>(count));
  be32(1);  // lower bound
}

void CopyEncoder::float8_array(const double* values, std::size_t count) {
  std::size_t nulls = 0;
  for (std::size_t i = 0; i < count; ++i) nulls += std::isnan(values[i]);
  be32(static_cast<std::uint32_t>(20 + (count - nulls) * 12 + nulls * 4));
  array_header(kFloat8Oid, count, nulls > 0);
  for (std::size_t i = 0; i < count; ++i) {
    if (std::isnan(values[i])) {
      null();
    } else {
      float8(values[i]);
    }
  }
}

void CopyEncoder::text_array(const std::string* values, const std::uint8_t* present,
                             std::size_t count) {
  std::size_t bytes = 20;
  bool has_null = false;
  for (std::size_t i = 0; i < count; ++i) {
    bytes += 4 + (present[i] ? values[i].size() : 0);
    has_null |= !present[i];
  }
  be32(static_cast<std::uint32_t>(bytes));
  array_header(kTextOid, count, has_null);
  for (std::size_t i = 0; i < count; ++i) {
    if (present[i]) {
      text(values[i]);
    } else {
      null();
    }
  }
}

}  // namespace ctd::pg
