// Database schema migrations: numbered SQL files applied in order, each in its own
// transaction, under a PostgreSQL advisory lock so that concurrent `ctd migrate` runs are safe,
// and recorded with their SHA-256 in schema_migrations. An applied file whose checksum changed
// is an error, as is a database that has migrations this binary does not know.
#pragma once

#include <string>
#include <vector>

#include "daemon/pg.h"

namespace ctd::schema {

struct Migration {
  std::string name;  // file name, e.g. "0001_ingestion.sql"; applied in name order
  std::string sql;
  std::string checksum;  // sha256 hex of sql
};

// The migrations built into this binary (migrations/*.sql).
std::vector<Migration> builtin_migrations();
// The *.sql files of a directory, sorted by name; throws std::runtime_error if unreadable.
std::vector<Migration> load_directory(const std::string& directory);

struct SchemaStatus {
  std::vector<std::string> pending;   // known here, not applied
  std::vector<std::string> modified;  // applied with another checksum
  std::vector<std::string> unknown;   // applied, not known to this binary (newer ctd?)
  bool current() const { return pending.empty() && modified.empty() && unknown.empty(); }
  // One line for people: what is wrong and what to do.
  std::string describe() const;
};

// Compares the database with `migrations` without changing anything.
SchemaStatus inspect(pg::PgConnection& connection, const std::vector<Migration>& migrations);

struct MigrateResult {
  std::vector<std::string> applied;  // names applied by this call
};

// Applies pending migrations under the advisory lock. Throws std::runtime_error (and applies
// nothing) if any applied migration was modified or is unknown; a failing migration throws
// with its name and the server's message, leaving earlier ones applied.
MigrateResult migrate(pg::PgConnection& connection, const std::vector<Migration>& migrations);

}  // namespace ctd::schema
