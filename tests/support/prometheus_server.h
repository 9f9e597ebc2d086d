// A real Prometheus server (Debian's `prometheus`), or Alertmanager, as a child process of a test:
// its config and any rule files written to a temporary directory, its TSDB there too, listening on
// a free port on 127.0.0.1 only. Queries go to its HTTP API with HTTP/1.0 (no chunked replies) and
// a receive timeout, so a stuck server fails a test instead of hanging it.
//
// Ownership: the object owns the process (SIGTERM, then SIGKILL after 10 s, in the destructor;
// PDEATHSIG kills it if the test process dies) and the directory. Thread-safety: owned by one
// test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace ctd::testing {

class PrometheusServer {
 public:
  // The prometheus binary: $CTD_PROMETHEUS, else /usr/bin/prometheus; nullopt if neither exists.
  static std::optional<std::string> binary();

  // Writes `files` (name -> content; prometheus.yml among them) and starts the server on a free
  // port. Throws if the binary is missing or it cannot be started.
  explicit PrometheusServer(const std::map<std::string, std::string>& files);
  // A real Alertmanager (Debian's `prometheus-alertmanager`, or $CTD_ALERTMANAGER) the same way:
  // `files` holds alertmanager.yml; its API (/api/v2/...) answers through get_json().
  static std::unique_ptr<PrometheusServer> alertmanager(
      const std::map<std::string, std::string>& files);
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  // Polls /-/ready until it answers 200; false if the process exited or time ran out.
  bool wait_ready(std::chrono::seconds timeout);
  // GET `path_and_query` (already URL-encoded); the parsed JSON body of a 200 reply, else
  // nullopt.
  std::optional<nlohmann::json> get_json(const std::string& path_and_query);
  // /api/v1/query?query=... ; the result vector of a successful instant query, else nullopt.
  std::optional<nlohmann::json> query(const std::string& promql);
  bool running();
  int port() const { return port_; }
  std::string log() const;

 private:
  struct Alertmanager {};
  PrometheusServer(Alertmanager, const std::map<std::string, std::string>& files);
  void spawn(const std::vector<std::string>& args);

  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool exited_ = false;
};

// Percent-encoding of a query-string value (RFC 3986 unreserved characters kept).
std::string url_encode(const std::string& value);

}  // namespace ctd::testing
