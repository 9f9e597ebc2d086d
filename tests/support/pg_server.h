// A throwaway PostgreSQL server for tests: initdb into a fresh temporary directory, started on
// a free loopback port, removed in the destructor. Works as root (the server runs as the
// `postgres` system user, which owns the directory) and as an ordinary user.
//
// Server binaries: $CTD_PG_BINDIR if set, else the highest /usr/lib/postgresql/<v>/bin that
// holds both `postgres` and `initdb`, else `pg_config --bindir`.
//
// Thread-safety: not thread-safe; owned by one test fixture.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ctd::testing {

class PgServer {
 public:
  // Starts a new server; throws std::runtime_error with the server log tail on failure.
  static std::unique_ptr<PgServer> start();
  // Stops the server (immediate shutdown) if it runs and removes the temporary directory.
  ~PgServer();

  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // A libpq connection string for the superuser on the given database ("postgres" exists;
  // create others with create_database()).
  std::string dsn(const std::string& database = "postgres") const;
  int port() const { return port_; }
  // The cluster's data directory (PGDATA); it lies inside the temporary directory.
  const std::string& data_dir() const { return data_dir_; }

  void create_database(const std::string& name);  // via psql or libpq
  void stop();     // fast shutdown; dsn() stays valid for a later restart()
  void restart();  // start again on the same port and data directory
  bool running() const { return running_; }

 private:
  PgServer() = default;

  void make_directories();
  void init_cluster();
  void start_on_free_port();
  // Runs `pg_ctl start` on port_; returns false if the server could not bind the port.
  bool try_start(std::uintmax_t log_offset);
  void wait_until_ready();
  int pg_ctl(const std::vector<std::string>& args) const;
  int run_tool(const std::string& tool, const std::vector<std::string>& args) const;
  [[noreturn]] void fail(const std::string& what) const;

  std::string root_dir_;  // the temporary directory; holds data, logs and the socket
  std::string bin_dir_;
  std::string data_dir_;
  std::string log_file_;  // the server's log (pg_ctl -l)
  std::string tool_log_;  // stdout/stderr of initdb and pg_ctl
  int port_ = 0;
  bool running_ = false;
};

}  // namespace ctd::testing
