// Which replica runs a pipeline's decisions. Several daemons may share one PostgreSQL and one
// Kafka cluster: ingestion splits through the consumer group, but triggers, training and
// promotion of a pipeline must run in exactly one of them. Each daemon keeps one connection
// and holds a session advisory lock (key 1668576371, pipeline_id) for every pipeline it leads;
// PostgreSQL releases the locks when that session ends, so when a leader dies (or loses its
// connection) another replica's next refresh() takes the pipeline over.
//
// A leader that loses its connection stops leading at once (leads() turns false on the first
// failed check) even though the server may hold the old session's locks until it notices; the
// follower takes over when they are released. Between two refreshes a leader does not re-check
// its connection: callers refresh before each round of work.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/pg.h"

namespace ctd {

class Leadership {
 public:
  static constexpr int kLockClass = 1668576371;

  // `on_change(pipeline, leads)` is called (from refresh()) whenever this daemon takes or loses
  // a pipeline.
  using ChangeCallback = std::function<void(const std::string& pipeline, bool leads)>;
  Leadership(std::string dsn, std::vector<std::string> pipelines, ChangeCallback on_change = {});
  ~Leadership();  // closes the connection, which releases the locks

  // Checks the connection and tries to take the pipelines not led yet. Never throws: a broken
  // connection means leading nothing until a later refresh reconnects.
  void refresh();

  bool leads(const std::string& pipeline) const;
  std::vector<std::string> led() const;

 private:
  void set(const std::string& pipeline, bool leads);  // REQUIRES: mutex_ held

  std::string dsn_;
  std::vector<std::string> pipelines_;
  ChangeCallback on_change_;
  mutable std::mutex mutex_;
  std::unique_ptr<pg::PgConnection> connection_;
  std::map<std::string, bool> leads_;
  std::map<std::string, int> ids_;  // pipeline ids, registered on first use
};

}  // namespace ctd
