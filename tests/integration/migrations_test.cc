// Schema migrations against a real PostgreSQL: first application, idempotence, the checksum
// and unknown-migration guards, pending detection, transactional failure, and concurrent
// `migrate()` calls serialised by the advisory lock. One server per suite, a fresh database
// per test.
#include "daemon/schema.h"

#include <gtest/gtest.h>

#include <latch>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "daemon/pg.h"
#include "daemon/sha256.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace ctd::schema {
namespace {

using Names = std::vector<std::string>;

// The tables that 0001_ingestion.sql creates.
const std::vector<std::string> kIngestionTables = {
    "pipelines",  "stream_sequences", "topics",     "feature_schemas", "samples",
    "inferences", "metric_points",    "quarantine", "consumer_offsets"};

Migration migration(std::string name, std::string sql) {
  std::string checksum = sha256_hex(sql);
  return {std::move(name), std::move(sql), std::move(checksum)};
}

std::vector<std::string> names_of(const std::vector<Migration>& migrations) {
  std::vector<std::string> out;
  for (const Migration& m : migrations) out.push_back(m.name);
  return out;
}

// One row of schema_migrations, every column as text.
struct AppliedRow {
  std::string name;
  std::string checksum;
  std::string applied_at;
  bool operator==(const AppliedRow&) const = default;
};

std::vector<AppliedRow> applied_rows(pg::PgConnection& connection) {
  pg::PgResult rows = connection.exec(
      "SELECT name, checksum, applied_at::text FROM schema_migrations ORDER BY name");
  std::vector<AppliedRow> out;
  for (int row = 0; row < rows.rows(); ++row) {
    out.push_back({std::string(rows.text(row, 0)), std::string(rows.text(row, 1)),
                   std::string(rows.text(row, 2))});
  }
  return out;
}

std::vector<std::string> applied_names(pg::PgConnection& connection) {
  std::vector<std::string> out;
  for (const AppliedRow& row : applied_rows(connection)) out.push_back(row.name);
  return out;
}

bool table_exists(pg::PgConnection& connection, const std::string& table) {
  return connection.exec("SELECT to_regclass($1) IS NOT NULL", {table}).text(0, 0) == "t";
}

// Relations (tables, indexes, sequences) in the public schema, with their kind.
std::vector<std::string> public_relations(pg::PgConnection& connection) {
  pg::PgResult rows = connection.exec(
      "SELECT c.relname || ':' || c.relkind::text FROM pg_class c "
      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1");
  std::vector<std::string> out;
  for (int row = 0; row < rows.rows(); ++row) out.emplace_back(rows.text(row, 0));
  return out;
}

long long advisory_locks_held(pg::PgConnection& connection) {
  return connection.exec("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").integer(0, 0);
}

// Whether `text` contains `part`, showing `text` when it does not.
::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

// The message of the std::runtime_error that `call` throws; fails the test if none is thrown.
template <typename Call>
std::string runtime_error_of(Call call) {
  try {
    call();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected std::runtime_error";
  return "";
}

class MigrationsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = testing::PgServer::start(); }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    database_ = new_database();
    connection_ = std::make_unique<pg::PgConnection>(server_->dsn(database_));
  }

  // A new, empty database; returns its name.
  static std::string new_database() {
    static int counter = 0;
    const std::string name = "migrations_" + std::to_string(++counter);
    server_->create_database(name);
    return name;
  }

  pg::PgConnection& connection() { return *connection_; }

  static std::unique_ptr<testing::PgServer> server_;
  std::string database_;
  std::unique_ptr<pg::PgConnection> connection_;
};

std::unique_ptr<testing::PgServer> MigrationsTest::server_;

TEST_F(MigrationsTest, AppliesAllBuiltinMigrationsToAnEmptyDatabase) {
  const std::vector<Migration> builtin = builtin_migrations();
  ASSERT_FALSE(builtin.empty());
  EXPECT_EQ(builtin.front().name, "0001_ingestion.sql");

  const SchemaStatus before = inspect(connection(), builtin);
  EXPECT_FALSE(before.current());
  EXPECT_EQ(before.pending, names_of(builtin));
  EXPECT_FALSE(table_exists(connection(), "schema_migrations"));  // inspect changes nothing

  const MigrateResult result = migrate(connection(), builtin);
  EXPECT_EQ(result.applied, names_of(builtin));

  const std::vector<AppliedRow> rows = applied_rows(connection());
  ASSERT_EQ(rows.size(), builtin.size());
  for (std::size_t i = 0; i < builtin.size(); ++i) {
    EXPECT_EQ(rows[i].name, builtin[i].name);
    EXPECT_EQ(rows[i].checksum, builtin[i].checksum);
    // PostgreSQL's own SHA-256 of the SQL text agrees with the recorded checksum.
    const pg::PgResult server_hash =
        connection().exec("SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')", {builtin[i].sql});
    EXPECT_EQ(rows[i].checksum, server_hash.text(0, 0)) << rows[i].name;
    EXPECT_FALSE(rows[i].applied_at.empty());
  }

  const SchemaStatus after = inspect(connection(), builtin);
  EXPECT_TRUE(after.current());
  EXPECT_EQ(after.describe(), "database schema is current");
  for (const std::string& table : kIngestionTables) {
    EXPECT_TRUE(table_exists(connection(), table)) << table;
  }
  EXPECT_EQ(advisory_locks_held(connection()), 0);
}

TEST_F(MigrationsTest, BuiltinMigrationsMatchTheFilesInTheSourceTree) {
  const std::vector<Migration> builtin = builtin_migrations();
  const std::vector<Migration> files = load_directory(CTD_SOURCE_DIR "/migrations");
  ASSERT_EQ(names_of(builtin), names_of(files));
  for (std::size_t i = 0; i < builtin.size(); ++i) {
    EXPECT_EQ(builtin[i].sql, files[i].sql) << builtin[i].name;
    EXPECT_EQ(builtin[i].checksum, files[i].checksum) << builtin[i].name;
  }
}

TEST_F(MigrationsTest, SecondMigrateAppliesNothingAndChangesNothing) {
  const std::vector<Migration> builtin = builtin_migrations();
  ASSERT_EQ(migrate(connection(), builtin).applied.size(), builtin.size());
  const std::vector<AppliedRow> rows_before = applied_rows(connection());
  const std::vector<std::string> relations_before = public_relations(connection());

  const MigrateResult second = migrate(connection(), builtin);
  EXPECT_TRUE(second.applied.empty());
  EXPECT_EQ(applied_rows(connection()), rows_before);
  EXPECT_EQ(public_relations(connection()), relations_before);
  EXPECT_TRUE(inspect(connection(), builtin).current());

  // A new connection sees the same: nothing to do.
  pg::PgConnection other(server_->dsn(database_));
  EXPECT_TRUE(migrate(other, builtin).applied.empty());
  EXPECT_EQ(applied_rows(other), rows_before);
}

TEST_F(MigrationsTest, ModifiedMigrationIsRefusedAndNothingElseApplied) {
  std::vector<Migration> migrations = builtin_migrations();
  ASSERT_FALSE(migrate(connection(), migrations).applied.empty());
  const std::vector<AppliedRow> rows_before = applied_rows(connection());

  const std::string edited = migrations.front().name;
  migrations.front() = migration(edited, migrations.front().sql + "\n-- edited afterwards\n");
  migrations.push_back(migration("9000_later.sql", "CREATE TABLE later_table (id int);"));

  const std::string message = runtime_error_of([&] { migrate(connection(), migrations); });
  EXPECT_TRUE(contains(message, edited));
  EXPECT_TRUE(contains(message, "checksum"));

  const SchemaStatus status = inspect(connection(), migrations);
  EXPECT_EQ(status.modified, Names({edited}));
  EXPECT_EQ(status.pending, Names({"9000_later.sql"}));
  EXPECT_TRUE(status.unknown.empty());
  EXPECT_FALSE(status.current());
  EXPECT_TRUE(contains(status.describe(), "checksum"));

  EXPECT_FALSE(table_exists(connection(), "later_table"));
  EXPECT_EQ(applied_rows(connection()), rows_before);
  EXPECT_EQ(advisory_locks_held(connection()), 0);
}

TEST_F(MigrationsTest, UnknownAppliedMigrationIsRefused) {
  std::vector<Migration> migrations = builtin_migrations();
  ASSERT_FALSE(migrate(connection(), migrations).applied.empty());
  connection().exec("INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                    {"9999_future.sql", sha256_hex("future")});
  const std::vector<AppliedRow> rows_before = applied_rows(connection());

  const SchemaStatus status = inspect(connection(), migrations);
  EXPECT_EQ(status.unknown, Names({"9999_future.sql"}));
  EXPECT_TRUE(status.modified.empty());
  EXPECT_TRUE(status.pending.empty());
  EXPECT_FALSE(status.current());

  migrations.push_back(migration("5000_pending.sql", "CREATE TABLE pending_table (id int);"));
  const std::string message = runtime_error_of([&] { migrate(connection(), migrations); });
  EXPECT_TRUE(contains(message, "9999_future.sql"));
  EXPECT_TRUE(contains(message, "newer ctd"));

  EXPECT_FALSE(table_exists(connection(), "pending_table"));
  EXPECT_EQ(applied_rows(connection()), rows_before);
}

TEST_F(MigrationsTest, PendingMigrationsFromADirectoryAreReported) {
  testing::TempDir dir("ctd-migrations");
  dir.write("0001_a.sql", "CREATE TABLE table_a (id int PRIMARY KEY);\n");
  dir.write("0002_b.sql", "CREATE TABLE table_b (id int PRIMARY KEY);\n");
  const std::vector<Migration> all = load_directory(dir.path());
  ASSERT_EQ(names_of(all), Names({"0001_a.sql", "0002_b.sql"}));

  EXPECT_EQ(migrate(connection(), {all[0]}).applied, Names({"0001_a.sql"}));
  EXPECT_TRUE(table_exists(connection(), "table_a"));
  EXPECT_FALSE(table_exists(connection(), "table_b"));

  const SchemaStatus status = inspect(connection(), all);
  EXPECT_EQ(status.pending, Names({"0002_b.sql"}));
  EXPECT_TRUE(status.modified.empty());
  EXPECT_TRUE(status.unknown.empty());
  EXPECT_FALSE(status.current());
  EXPECT_TRUE(contains(status.describe(), "ctd migrate"));
  EXPECT_TRUE(contains(status.describe(), "0002_b.sql"));

  // Catching up applies only the pending one.
  EXPECT_EQ(migrate(connection(), all).applied, Names({"0002_b.sql"}));
  EXPECT_TRUE(table_exists(connection(), "table_b"));
  EXPECT_TRUE(inspect(connection(), all).current());
  EXPECT_EQ(applied_names(connection()), Names({"0001_a.sql", "0002_b.sql"}));
}

TEST_F(MigrationsTest, FailingMigrationIsRolledBackAndStopsTheRun) {
  const std::vector<Migration> migrations = {
      migration("0001_ok.sql", "CREATE TABLE ok_table (id int);"),
      // CREATE TABLE succeeds, then the SELECT fails: the whole file must roll back.
      migration("0002_bad.sql", "CREATE TABLE t1 (id int);\nSELECT broken_syntax;;\n"),
      migration("0003_after.sql", "CREATE TABLE after_table (id int);"),
  };

  const std::string message = runtime_error_of([&] { migrate(connection(), migrations); });
  EXPECT_TRUE(contains(message, "0002_bad.sql"));
  EXPECT_TRUE(contains(message, "broken_syntax"));  // the server's message

  EXPECT_EQ(applied_names(connection()), Names({"0001_ok.sql"}));
  EXPECT_TRUE(table_exists(connection(), "ok_table"));
  EXPECT_FALSE(table_exists(connection(), "t1"));
  EXPECT_FALSE(table_exists(connection(), "after_table"));
  EXPECT_EQ(advisory_locks_held(connection()), 0);

  const SchemaStatus status = inspect(connection(), migrations);
  EXPECT_EQ(status.pending, Names({"0002_bad.sql", "0003_after.sql"}));

  // The connection stays usable: with the file fixed, the run completes.
  std::vector<Migration> fixed = migrations;
  fixed[1] = migration("0002_bad.sql", "CREATE TABLE t1 (id int);\n");
  EXPECT_EQ(migrate(connection(), fixed).applied, Names({"0002_bad.sql", "0003_after.sql"}));
  EXPECT_TRUE(table_exists(connection(), "t1"));
}

TEST_F(MigrationsTest, MigrationAndItsRecordCommitTogether) {
  // The file itself succeeds, but makes its own schema_migrations row fail to insert. A
  // multi-statement query is atomic by itself; only one transaction around both the file and
  // its record undoes the file when the record cannot be written.
  const std::vector<Migration> migrations = {
      migration("0001_ok.sql", "CREATE TABLE ok_table (id int);"),
      migration("0002_unrecordable.sql",
                "CREATE TABLE t2 (id int);\n"
                "ALTER TABLE schema_migrations ADD CONSTRAINT refuse_0002 "
                "CHECK (name <> '0002_unrecordable.sql');\n"),
  };

  const std::string message = runtime_error_of([&] { migrate(connection(), migrations); });
  EXPECT_TRUE(contains(message, "0002_unrecordable.sql"));
  EXPECT_EQ(applied_names(connection()), Names({"0001_ok.sql"}));
  EXPECT_FALSE(table_exists(connection(), "t2"));
  EXPECT_EQ(connection()
                .exec("SELECT count(*) FROM pg_constraint WHERE conname = 'refuse_0002'")
                .integer(0, 0),
            0);
}

TEST_F(MigrationsTest, ConcurrentMigrateAppliesEachMigrationExactlyOnce) {
  constexpr int kThreads = 6;
  constexpr int kRounds = 4;
  std::vector<Migration> migrations = builtin_migrations();
  // A slow migration widens the window in which the callers overlap.
  migrations.push_back(
      migration("9000_slow.sql", "SELECT pg_sleep(0.05); CREATE TABLE slow_table (id int);"));

  for (int round = 0; round < kRounds; ++round) {
    const std::string database = new_database();
    std::vector<std::unique_ptr<pg::PgConnection>> connections;
    for (int i = 0; i < kThreads; ++i) {
      connections.push_back(std::make_unique<pg::PgConnection>(server_->dsn(database)));
    }
    std::vector<MigrateResult> results(kThreads);
    std::vector<std::string> errors(kThreads);
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        try {
          results[i] = migrate(*connections[i], migrations);
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      });
    }
    for (std::thread& thread : threads) thread.join();

    std::map<std::string, int> times_applied;
    for (int i = 0; i < kThreads; ++i) {
      EXPECT_EQ(errors[i], "") << "round " << round << ", thread " << i;
      for (const std::string& name : results[i].applied) ++times_applied[name];
    }
    for (const Migration& m : migrations) {
      EXPECT_EQ(times_applied[m.name], 1) << "round " << round << ": " << m.name;
    }
    pg::PgConnection check(server_->dsn(database));
    EXPECT_EQ(check.exec("SELECT count(*) FROM schema_migrations").integer(0, 0),
              static_cast<long long>(migrations.size()))
        << "round " << round;
    EXPECT_TRUE(inspect(check, migrations).current()) << "round " << round;
  }
}

TEST_F(MigrationsTest, LoadDirectorySortsByNameAndIgnoresOtherFiles) {
  testing::TempDir dir("ctd-migrations");
  dir.write("0010_c.sql", "SELECT 10;");
  dir.write("0002_b.sql", "SELECT 2;");
  dir.write("0001_a.sql", "SELECT 1;");
  dir.write("README.md", "not a migration");
  dir.write("0003_old.sql.bak", "SELECT 3;");
  dir.write("notes.txt", "SELECT 4;");

  const std::vector<Migration> loaded = load_directory(dir.path());
  ASSERT_EQ(names_of(loaded), Names({"0001_a.sql", "0002_b.sql", "0010_c.sql"}));
  EXPECT_EQ(loaded[0].sql, "SELECT 1;");
  EXPECT_EQ(loaded[2].sql, "SELECT 10;");
  for (const Migration& m : loaded) {
    EXPECT_EQ(m.checksum, sha256_hex(m.sql)) << m.name;
    EXPECT_EQ(m.checksum.size(), 64u) << m.name;
  }
  EXPECT_NE(loaded[0].checksum, loaded[1].checksum);
}

TEST_F(MigrationsTest, LoadDirectoryThrowsForAMissingDirectory) {
  testing::TempDir dir("ctd-migrations");
  const std::string missing = dir.path() + "/does-not-exist";
  EXPECT_TRUE(contains(runtime_error_of([&] { load_directory(missing); }), missing));
}

}  // namespace
}  // namespace ctd::schema
