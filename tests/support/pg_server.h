// A throwaway PostgreSQL server for tests: initdb into a fresh temporary directory, started on
// a free loopback port, removed in the destructor. Works as root (the server runs as the
// `postgres` system user, which owns the directory) and as an ordinary user.
//
// Thread-safety: not thread-safe; owned by one test fixture.
#pragma once

#include <memory>
#include <string>

namespace ctd::testing {

class PgServer {
 public:
  // Starts a new server; throws std::runtime_error with the server log tail on failure.
  static std::unique_ptr<PgServer> start();
  ~PgServer();

  // A libpq connection string for the superuser on the given database ("postgres" exists;
  // create others with create_database()).
  std::string dsn(const std::string& database = "postgres") const;
  int port() const { return port_; }

  void create_database(const std::string& name);  // via psql or libpq
  void stop();     // fast shutdown; dsn() stays valid for a later restart()
  void restart();  // start again on the same port and data directory
  bool running() const { return running_; }

 private:
  PgServer() = default;
  std::string data_dir_;
  std::string log_file_;
  int port_ = 0;
  bool running_ = false;
};

}  // namespace ctd::testing
