// Tests for the throwaway PostgreSQL server that the other integration tests build on.
#include "tests/support/pg_server.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace ctd::testing {
namespace {

namespace fs = std::filesystem;

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

Connection connect(const std::string& dsn) {
  Connection connection(PQconnectdb(dsn.c_str()), &PQfinish);
  EXPECT_EQ(PQstatus(connection.get()), CONNECTION_OK) << PQerrorMessage(connection.get());
  return connection;
}

void execute(PGconn* connection, const std::string& sql) {
  const Result result(PQexec(connection, sql.c_str()), &PQclear);
  EXPECT_EQ(PQresultStatus(result.get()), PGRES_COMMAND_OK)
      << sql << ": " << PQerrorMessage(connection);
}

// The first column of the first row of a query's result.
std::string query_value(PGconn* connection, const std::string& sql) {
  const Result result(PQexec(connection, sql.c_str()), &PQclear);
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) < 1) {
    ADD_FAILURE() << sql << ": " << PQerrorMessage(connection);
    return "";
  }
  return PQgetvalue(result.get(), 0, 0);
}

// Sets an environment variable for one scope and restores the old value afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(PgServerTest, StoresAndReadsBackRows) {
  const auto server = PgServer::start();
  ASSERT_TRUE(server->running());
  const Connection connection = connect(server->dsn());
  execute(connection.get(), "CREATE TABLE runs (id int PRIMARY KEY, name text)");
  execute(connection.get(), "INSERT INTO runs VALUES (1, 'first'), (2, 'second')");
  EXPECT_EQ(query_value(connection.get(), "SELECT name FROM runs WHERE id = 2"), "second");
  EXPECT_EQ(query_value(connection.get(), "SELECT count(*) FROM runs"), "2");
}

TEST(PgServerTest, CreateDatabaseGivesAConnectableDsn) {
  const auto server = PgServer::start();
  const std::string name = "it's an \"odd\" name; DROP";  // quoted, never interpreted
  server->create_database(name);
  const Connection connection = connect(server->dsn(name));
  EXPECT_EQ(query_value(connection.get(), "SELECT current_database()"), name);
}

TEST(PgServerTest, CreateDatabaseThrowsWithTheServerMessage) {
  const auto server = PgServer::start();
  server->create_database("ctd");
  try {
    server->create_database("ctd");
    FAIL() << "a second CREATE DATABASE ctd succeeded";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("already exists"), std::string::npos) << error.what();
  }
}

TEST(PgServerTest, StopMakesConnectionsFail) {
  const auto server = PgServer::start();
  ASSERT_EQ(PQping(server->dsn().c_str()), PQPING_OK);
  server->stop();
  EXPECT_FALSE(server->running());
  EXPECT_NE(PQping(server->dsn().c_str()), PQPING_OK);
  server->stop();  // stopping twice is harmless
}

TEST(PgServerTest, RestartKeepsCommittedData) {
  const auto server = PgServer::start();
  const int port = server->port();
  {
    const Connection connection = connect(server->dsn());
    execute(connection.get(), "CREATE TABLE offsets (topic text PRIMARY KEY, next bigint)");
    execute(connection.get(), "INSERT INTO offsets VALUES ('events', 42)");
  }
  server->stop();
  server->restart();
  EXPECT_TRUE(server->running());
  EXPECT_EQ(server->port(), port);
  const Connection connection = connect(server->dsn());
  EXPECT_EQ(query_value(connection.get(), "SELECT next FROM offsets WHERE topic = 'events'"), "42");
}

TEST(PgServerTest, RestartThrowsWhenAnotherProcessTookThePort) {
  const auto server = PgServer::start();
  server->stop();
  const int squatter = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(squatter, 0);
  // The stopped server's port may still have connections in TIME_WAIT, which refuse a plain
  // bind; a listening socket holds the port against PostgreSQL's bind all the same.
  const int on = 1;
  ASSERT_EQ(setsockopt(squatter, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(server->port()));
  ASSERT_EQ(bind(squatter, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(squatter, 1), 0);
  try {
    server->restart();
    ADD_FAILURE() << "restart succeeded on a taken port";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("was taken"), std::string::npos) << error.what();
  }
  close(squatter);
  EXPECT_FALSE(server->running());
}

TEST(PgServerTest, TwoServersRunSideBySideOnDifferentPorts) {
  const auto first = PgServer::start();
  const auto second = PgServer::start();
  EXPECT_NE(first->port(), second->port());
  EXPECT_NE(first->data_dir(), second->data_dir());
  EXPECT_EQ(PQping(first->dsn().c_str()), PQPING_OK);
  EXPECT_EQ(PQping(second->dsn().c_str()), PQPING_OK);
}

TEST(PgServerTest, DestructorRemovesTheDataDirectory) {
  auto server = PgServer::start();
  const fs::path data_dir = server->data_dir();
  const std::string dsn = server->dsn();
  ASSERT_TRUE(fs::exists(data_dir / "PG_VERSION"));
  server.reset();
  EXPECT_FALSE(fs::exists(data_dir));
  EXPECT_FALSE(fs::exists(data_dir.parent_path()));
  EXPECT_NE(PQping(dsn.c_str()), PQPING_OK);
}

TEST(PgServerTest, ServerFilesBelongToPostgresWhenRunAsRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "only meaningful when the tests run as root";
  const auto server = PgServer::start();
  struct stat info {};
  ASSERT_EQ(stat(server->data_dir().c_str(), &info), 0);
  const passwd* postgres = getpwnam("postgres");
  ASSERT_NE(postgres, nullptr);
  EXPECT_EQ(info.st_uid, postgres->pw_uid);
}

TEST(PgServerTest, FailedStartRemovesItsDirectory) {
  std::string parent = (fs::temp_directory_path() / "ctd-pg-test-XXXXXX").string();
  ASSERT_NE(mkdtemp(parent.data()), nullptr);
  {
    const ScopedEnv tmpdir("TMPDIR", parent);
    const ScopedEnv bindir("CTD_PG_BINDIR", "/nonexistent");
    EXPECT_THROW(PgServer::start(), std::runtime_error);
  }
  EXPECT_TRUE(fs::is_empty(parent));
  fs::remove_all(parent);
}

}  // namespace
}  // namespace ctd::testing
