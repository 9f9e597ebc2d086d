// SIGHUP in `ctd run` (daemon/config_reload.h): log.level changes in place, every other change
// is named as needing a restart, a broken file changes nothing, and the daemon keeps serving
// through all of it.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <string>

#include "tests/support/daemon_process.h"
#include "tests/support/pg_server.h"

namespace ctd::testing {
namespace {

using namespace std::chrono_literals;

std::string config(const std::string& level, int batch_max_records, const std::string& topic) {
  return R"(
postgres: {dsn: "set by CTD_POSTGRES_DSN"}
kafka: {brokers: embedded, embedded_partitions: 1}
ingest: {batch_max_records: )" +
         std::to_string(batch_max_records) + R"(}
log: {level: )" +
         level + R"(}
pipelines:
  - name: reloaded
    topics: {labels: )" +
         topic + R"(}
    features: [{name: x, type: numeric}]
    label: {kind: regression}
)";
}

void rewrite(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

TEST(ReloadTest, SighupAppliesTheLogLevelAndNamesWhatNeedsARestart) {
  auto pg = PgServer::start();
  DaemonProcess daemon(config("info", 1000, "reload.labels"), {{"CTD_POSTGRES_DSN", pg->dsn()}},
                       {"--migrate"});
  ASSERT_TRUE(daemon.wait_ready(60s)) << daemon.log();

  // Unchanged file.
  daemon.signal(SIGHUP);
  ASSERT_TRUE(daemon.wait_for_log("SIGHUP: " + daemon.config_path() + " unchanged", 10s))
      << daemon.log();

  // log.level reloads; the ingest section and the pipeline need a restart.
  rewrite(daemon.config_path(), config("debug", 500, "other.labels"));
  daemon.signal(SIGHUP);
  ASSERT_TRUE(daemon.wait_for_log("SIGHUP: log.level info -> debug", 10s)) << daemon.log();
  ASSERT_TRUE(
      daemon.wait_for_log("SIGHUP: changed but not reloaded (restart to apply): ingest, "
                          "pipelines.reloaded",
                          10s))
      << daemon.log();
  // The new level is in force: the reload's own debug line appears now, and did not before.
  const std::string debug_line = "debug SIGHUP: " + daemon.config_path() + " compared";
  EXPECT_TRUE(daemon.wait_for_log(debug_line, 10s)) << daemon.log();
  EXPECT_EQ(daemon.log().find(debug_line), daemon.log().rfind(debug_line)) << daemon.log();

  // A broken file: an error, nothing changes, still serving.
  rewrite(daemon.config_path(), "postgres: [not a map\n");
  daemon.signal(SIGHUP);
  ASSERT_TRUE(daemon.wait_for_log(" not reloaded, ", 10s)) << daemon.log();
  const auto ready = http_get(daemon.http_port(), "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_TRUE(daemon.running());

  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait_exit(30s), 0) << daemon.log();
}

}  // namespace
}  // namespace ctd::testing
