// The SQL migrations of migrations/, embedded at build time (see CMakeLists.txt there).
#pragma once

#include <string_view>
#include <vector>

namespace ctd::migrations {

struct EmbeddedMigration {
  std::string_view file_name;  // e.g. "0001_ingestion.sql"; sorted by name
  std::string_view sql;
};

const std::vector<EmbeddedMigration>& embedded();

}  // namespace ctd::migrations
