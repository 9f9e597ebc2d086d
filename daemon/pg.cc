#include "daemon/pg.h"

#include <charconv>
#include <regex>

namespace ctd::pg {

bool PgError::is_transient() const {
  if (connection_lost_) return true;
  if (sqlstate_.size() != 5) return false;
  const std::string_view cls = std::string_view(sqlstate_).substr(0, 2);
  return cls == "08" || cls == "53" || cls == "57" || sqlstate_ == "40001" || sqlstate_ == "40P01";
}

std::string_view PgResult::text(int row, int column) const {
  return {PQgetvalue(result_.get(), row, column),
          static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

long long PgResult::integer(int row, int column) const {
  const std::string_view value = text(row, column);
  long long out = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || end != value.data() + value.size()) {
    throw PgError("not an integer: '" + std::string(value) + "'", "", false);
  }
  return out;
}

long long PgResult::affected() const {
  const char* tuples = PQcmdTuples(result_.get());
  return (tuples && *tuples) ? std::atoll(tuples) : 0;
}

PgConnection::PgConnection(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str()), &PQfinish) {
  if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
    std::string message = conn_ ? PQerrorMessage(conn_.get()) : "out of memory";
    while (!message.empty() && message.back() == '\n') message.pop_back();
    throw PgError("cannot connect to PostgreSQL (" + mask_dsn(dsn) + "): " + message, "08001",
                  true);
  }
  PQsetNoticeProcessor(
      conn_.get(), [](void*, const char*) {}, nullptr);
}

void PgConnection::fail(const std::string& what, PGresult* result) {
  std::string sqlstate;
  std::string message;
  if (result) {
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (state) sqlstate = state;
    message = PQresultErrorMessage(result);
    PQclear(result);
  }
  if (message.empty()) message = PQerrorMessage(conn_.get());
  while (!message.empty() && message.back() == '\n') message.pop_back();
  const bool lost = PQstatus(conn_.get()) != CONNECTION_OK;
  throw PgError(what + ": " + message, sqlstate, lost);
}

PgResult PgConnection::check(PGresult* result, const std::string& what) {
  const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_COPY_IN) {
    fail(what, result);
  }
  return PgResult(result);
}

PgResult PgConnection::exec(const std::string& sql) {
  return check(PQexec(conn_.get(), sql.c_str()), "query failed");
}

PgResult PgConnection::exec(const std::string& sql, const std::vector<Param>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Param& p : params) values.push_back(p ? p->c_str() : nullptr);
  return check(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                            values.data(), nullptr, nullptr, 0),
               "query failed");
}

void PgConnection::copy_in(const std::string& copy_sql, std::string_view data) {
  PGresult* start = PQexec(conn_.get(), copy_sql.c_str());
  if (!start || PQresultStatus(start) != PGRES_COPY_IN) fail("COPY failed to start", start);
  PQclear(start);
  constexpr std::size_t kChunk = 1 << 20;
  for (std::size_t pos = 0; pos < data.size(); pos += kChunk) {
    const std::size_t n = std::min(kChunk, data.size() - pos);
    if (PQputCopyData(conn_.get(), data.data() + pos, static_cast<int>(n)) != 1) {
      fail("COPY data failed", nullptr);
    }
  }
  if (PQputCopyEnd(conn_.get(), nullptr) != 1) fail("COPY end failed", nullptr);
  PGresult* result = PQgetResult(conn_.get());
  check(result, "COPY failed");
  while (PGresult* extra = PQgetResult(conn_.get())) PQclear(extra);
}

void PgConnection::copy_out(const std::string& copy_sql,
                            const std::function<void(std::string_view)>& on_data) {
  PGresult* start = PQexec(conn_.get(), copy_sql.c_str());
  if (!start || PQresultStatus(start) != PGRES_COPY_OUT) fail("COPY failed to start", start);
  PQclear(start);
  while (true) {
    char* buffer = nullptr;
    const int n = PQgetCopyData(conn_.get(), &buffer, /*async=*/0);
    if (n == -1) break;  // done; the final result follows
    if (n < 0) fail("COPY data failed", nullptr);
    std::unique_ptr<char, decltype(&PQfreemem)> owned(buffer, &PQfreemem);
    on_data(std::string_view(buffer, static_cast<std::size_t>(n)));
  }
  PGresult* result = PQgetResult(conn_.get());
  check(result, "COPY failed");
  while (PGresult* extra = PQgetResult(conn_.get())) PQclear(extra);
}

std::string PgConnection::quote_identifier(std::string_view identifier) {
  char* quoted = PQescapeIdentifier(conn_.get(), identifier.data(), identifier.size());
  if (!quoted) fail("cannot quote identifier", nullptr);
  std::string out(quoted);
  PQfreemem(quoted);
  return out;
}

Transaction::Transaction(PgConnection& connection) : connection_(connection) {
  connection_.exec("BEGIN");
}

Transaction::~Transaction() {
  if (done_ || !connection_.healthy()) return;
  try {
    connection_.exec("ROLLBACK");
  } catch (const PgError&) {
    // The connection is unusable; its owner will notice and reconnect.
  }
}

void Transaction::commit() {
  connection_.exec("COMMIT");
  done_ = true;
}

namespace {

// Appends `key=value` to a URI or key=value DSN unless the key is already there.
std::string with_setting(const std::string& dsn, const std::string& key, const std::string& value) {
  if (dsn.find(key) != std::string::npos) return dsn;
  const std::string setting = key + "=" + value;
  const bool uri = dsn.rfind("postgres://", 0) == 0 || dsn.rfind("postgresql://", 0) == 0;
  if (!uri) return dsn + (dsn.empty() ? "" : " ") + setting;
  return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + setting;
}

}  // namespace

std::string with_connect_timeout(const std::string& dsn, int seconds) {
  return with_setting(dsn, "connect_timeout", std::to_string(seconds));
}

std::string with_liveness_checks(const std::string& dsn, int connect_seconds) {
  std::string out = with_connect_timeout(dsn, connect_seconds);
  out = with_setting(out, "keepalives_idle", "10");
  out = with_setting(out, "keepalives_interval", "5");
  out = with_setting(out, "keepalives_count", "3");
  return with_setting(out, "tcp_user_timeout", "30000");
}

std::string mask_dsn(const std::string& dsn) {
  static const std::regex uri_password(R"(^([a-zA-Z]+://[^:/@]*:)[^@]*@)");
  static const std::regex kv_password(R"((password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+))");
  std::string out = std::regex_replace(dsn, uri_password, "$1*****@");
  return std::regex_replace(out, kv_password, "$1*****");
}

}  // namespace ctd::pg
