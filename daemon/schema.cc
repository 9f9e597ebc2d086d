#include "daemon/schema.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "daemon/sha256.h"
#include "migrations/embedded_migrations.h"

namespace ctd::schema {
namespace {

// Key of the advisory lock held while migrating: the bytes "ctd_migr" as a big-endian int64.
constexpr const char* kLockKey = "7166463268073596786";

constexpr const char* kCreateTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  name        text PRIMARY KEY,
  checksum    text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
))sql";

Migration make(std::string name, std::string sql) {
  std::string checksum = sha256_hex(sql);
  return {std::move(name), std::move(sql), std::move(checksum)};
}

std::map<std::string, std::string> applied_checksums(pg::PgConnection& connection) {
  std::map<std::string, std::string> out;
  pg::PgResult exists = connection.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (exists.text(0, 0) != "t") return out;
  pg::PgResult rows = connection.exec("SELECT name, checksum FROM schema_migrations");
  for (int row = 0; row < rows.rows(); ++row) {
    out.emplace(std::string(rows.text(row, 0)), std::string(rows.text(row, 1)));
  }
  return out;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

std::vector<Migration> builtin_migrations() {
  std::vector<Migration> out;
  for (const migrations::EmbeddedMigration& m : migrations::embedded()) {
    out.push_back(make(std::string(m.file_name), std::string(m.sql)));
  }
  return out;
}

std::vector<Migration> load_directory(const std::string& directory) {
  std::vector<Migration> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(directory, ec)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".sql") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream body;
    body << in.rdbuf();
    if (!in) throw std::runtime_error("cannot read migration " + entry.path().string());
    out.push_back(make(entry.path().filename().string(), body.str()));
  }
  if (ec) throw std::runtime_error("cannot list " + directory + ": " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const Migration& a, const Migration& b) { return a.name < b.name; });
  return out;
}

std::string SchemaStatus::describe() const {
  if (current()) return "database schema is current";
  if (!modified.empty()) {
    return "applied migrations were modified since (checksum mismatch): " + join(modified) +
           "; restore the original files";
  }
  if (!unknown.empty()) {
    return "database has migrations this ctd does not know (" + join(unknown) +
           "); it was migrated by a newer ctd";
  }
  return "database schema is behind: " + std::to_string(pending.size()) +
         " pending migration(s) (" + join(pending) +
         "); run `ctd migrate -c FILE` or start with --migrate";
}

SchemaStatus inspect(pg::PgConnection& connection, const std::vector<Migration>& migrations) {
  std::map<std::string, std::string> applied = applied_checksums(connection);
  SchemaStatus status;
  for (const Migration& m : migrations) {
    auto it = applied.find(m.name);
    if (it == applied.end()) {
      status.pending.push_back(m.name);
    } else {
      if (it->second != m.checksum) status.modified.push_back(m.name);
      applied.erase(it);
    }
  }
  for (const auto& [name, checksum] : applied) status.unknown.push_back(name);
  return status;
}

MigrateResult migrate(pg::PgConnection& connection, const std::vector<Migration>& migrations) {
  connection.exec(std::string("SELECT pg_advisory_lock(") + kLockKey + ")");
  struct Unlock {
    pg::PgConnection& c;
    ~Unlock() {
      try {
        c.exec(std::string("SELECT pg_advisory_unlock(") + kLockKey + ")");
      } catch (const pg::PgError&) {
        // A broken connection releases the session lock by itself.
      }
    }
  } unlock{connection};

  connection.exec(kCreateTable);
  const SchemaStatus status = inspect(connection, migrations);
  if (!status.modified.empty() || !status.unknown.empty()) {
    throw std::runtime_error(status.describe());
  }
  std::vector<Migration> ordered = migrations;
  std::sort(ordered.begin(), ordered.end(),
            [](const Migration& a, const Migration& b) { return a.name < b.name; });
  MigrateResult result;
  for (const Migration& m : ordered) {
    if (std::find(status.pending.begin(), status.pending.end(), m.name) == status.pending.end()) {
      continue;
    }
    try {
      pg::Transaction tx(connection);
      connection.exec(m.sql);
      connection.exec("INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                      {m.name, m.checksum});
      tx.commit();
    } catch (const pg::PgError& e) {
      throw std::runtime_error("migration " + m.name + " failed: " + e.what());
    }
    result.applied.push_back(m.name);
  }
  return result;
}

}  // namespace ctd::schema
