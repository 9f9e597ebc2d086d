// A thin RAII adapter over libpq: one connection, parameterised statements, binary COPY.
//
// Why libpq and not libpqxx: ingestion writes with binary-format COPY inside the same
// transaction as its offset bookkeeping, which Debian's libpqxx 6.4 cannot do; every other
// use is a handful of statements. Errors leave this file as PgError (with SQLSTATE), which
// callers classify with is_transient(). Thread-safety: a PgConnection is used by one thread.
#pragma once

#include <libpq-fe.h>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ctd::pg {

class PgError : public std::runtime_error {
 public:
  PgError(const std::string& message, std::string sqlstate, bool connection_lost)
      : std::runtime_error(message),
        sqlstate_(std::move(sqlstate)),
        connection_lost_(connection_lost) {}
  const std::string& sqlstate() const { return sqlstate_; }
  bool connection_lost() const { return connection_lost_; }
  // Worth retrying after a backoff: the connection broke, the server is shutting down or
  // starting, out of resources, or a serialization failure / deadlock.
  bool is_transient() const;

 private:
  std::string sqlstate_;
  bool connection_lost_;
};

// The rows of one statement. Values are text-format strings.
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result, &PQclear) {}
  int rows() const { return PQntuples(result_.get()); }
  int columns() const { return PQnfields(result_.get()); }
  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column); }
  std::string_view text(int row, int column) const;
  long long integer(int row, int column) const;  // throws PgError if not an integer
  // Rows affected by INSERT/UPDATE/DELETE.
  long long affected() const;

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

using Param = std::optional<std::string>;  // nullopt is SQL NULL

class PgConnection {
 public:
  // Connects (blocking); throws PgError on failure.
  explicit PgConnection(const std::string& dsn);
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  PgResult exec(const std::string& sql);  // may hold several statements
  PgResult exec(const std::string& sql, const std::vector<Param>& params);

  // Runs `copy_sql` (a COPY ... FROM STDIN statement) and streams `data` to it.
  void copy_in(const std::string& copy_sql, std::string_view data);
  // Runs `copy_sql` (a COPY ... TO STDOUT statement) and hands each chunk of its output to
  // `on_data` as it arrives (libpq delivers one row per chunk; callers must not rely on it).
  // If on_data throws, the connection is left inside the COPY: discard it.
  void copy_out(const std::string& copy_sql, const std::function<void(std::string_view)>& on_data);

  bool healthy() const { return PQstatus(conn_.get()) == CONNECTION_OK; }
  std::string quote_identifier(std::string_view identifier);

 private:
  PgResult check(PGresult* result, const std::string& what);
  [[noreturn]] void fail(const std::string& what, PGresult* result);
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_;
};

// A transaction scope: BEGIN on construction, ROLLBACK in the destructor unless commit() ran.
class Transaction {
 public:
  explicit Transaction(PgConnection& connection);
  ~Transaction();
  void commit();

 private:
  PgConnection& connection_;
  bool done_ = false;
};

// The DSN with connect_timeout set (URI or key=value form), unless it sets one already.
std::string with_connect_timeout(const std::string& dsn, int seconds);

// For long-lived connections: connect_timeout as above, plus TCP keepalives and
// tcp_user_timeout (each unless the DSN sets it), so that a vanished server fails a
// statement within about half a minute instead of hanging it for the kernel's minutes.
std::string with_liveness_checks(const std::string& dsn, int connect_seconds);

// Masks the password of a libpq connection string (URI or key=value form) for logs.
std::string mask_dsn(const std::string& dsn);

}  // namespace ctd::pg
