// systemd's notification protocol without systemd: the test binds the unix datagram socket that
// NOTIFY_SOCKET names, as systemd would, and reads what `ctd run` sends: READY=1 once it
// serves, WATCHDOG=1 keep-alives at half of WATCHDOG_USEC (none without it), STOPPING=1 on
// SIGTERM, each with a STATUS= line.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/daemon_process.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace ctd::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr char kConfig[] = R"(
postgres: {dsn: "set by CTD_POSTGRES_DSN"}
kafka: {brokers: embedded, embedded_partitions: 1}
pipelines:
  - name: notified
    topics: {labels: notified.labels}
    features: [{name: x, type: numeric}]
    label: {kind: regression}
)";

// A bound AF_UNIX datagram socket: the receiving end of sd_notify.
class NotifySocket {
 public:
  explicit NotifySocket(std::string path) : path_(std::move(path)) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (fd_ < 0 || path_.size() >= sizeof address.sun_path)
      throw std::runtime_error("cannot create the notify socket");
    path_.copy(address.sun_path, path_.size());
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
      throw std::runtime_error("cannot bind " + path_);
  }
  ~NotifySocket() {
    close(fd_);
    unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

  // The next datagram, or nullopt after `timeout`.
  std::optional<std::string> receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buffer[4096];
    const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<std::size_t>(n));
  }

  // Datagrams until one contains `needle` (returned) or `timeout` passes (nullopt); the
  // others are appended to `seen`.
  std::optional<std::string> wait_for(const std::string& needle, std::chrono::milliseconds timeout,
                                      std::vector<std::string>& seen) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      auto message = receive(std::max(left, 1ms));
      if (!message) continue;
      if (message->find(needle) != std::string::npos) return message;
      seen.push_back(*message);
    }
    return std::nullopt;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

class ServiceNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override { pg_ = PgServer::start(); }
  std::map<std::string, std::string> env(const NotifySocket& socket) const {
    return {{"CTD_POSTGRES_DSN", pg_->dsn()}, {"NOTIFY_SOCKET", socket.path()}};
  }
  std::unique_ptr<PgServer> pg_;
  TempDir dir_{"ctd-notify"};
};

TEST_F(ServiceNotifyTest, ReadyWhenServingWatchdogKeepAlivesAndStoppingOnSigterm) {
  NotifySocket socket(dir_.path() + "/notify");
  auto e = env(socket);
  e["WATCHDOG_USEC"] = "400000";  // keep-alives every 200 ms
  DaemonProcess daemon(kConfig, e, {"--migrate"});

  std::vector<std::string> before;
  const auto ready = socket.wait_for("READY=1", 60s, before);
  ASSERT_TRUE(ready) << daemon.log();
  EXPECT_NE(ready->find("STATUS=serving: 1 pipeline(s), 1 stream(s)"), std::string::npos) << *ready;
  for (const std::string& m : before) EXPECT_EQ(m.find("WATCHDOG=1"), std::string::npos) << m;
  // READY comes after the HTTP server listens.
  const auto health = http_get(daemon.http_port(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  // Keep-alives at about 200 ms: at least 5 in 3 s (10 expected, slack for a loaded machine).
  int keep_alives = 0;
  for (const auto deadline = Clock::now() + 3s; Clock::now() < deadline;) {
    const auto m = socket.receive(100ms);
    if (m && *m == "WATCHDOG=1") ++keep_alives;
  }
  EXPECT_GE(keep_alives, 5);
  EXPECT_LE(keep_alives, 30);

  daemon.signal(SIGTERM);
  std::vector<std::string> during;
  const auto stopping = socket.wait_for("STOPPING=1", 30s, during);
  ASSERT_TRUE(stopping) << daemon.log();
  EXPECT_NE(stopping->find("STATUS=draining"), std::string::npos) << *stopping;
  // What the drain does (shutdown.running_training: cancel, the default).
  EXPECT_NE(stopping->find("cancelling running trainings"), std::string::npos) << *stopping;
  EXPECT_EQ(daemon.wait_exit(30s), 0) << daemon.log();
}

TEST_F(ServiceNotifyTest, NoKeepAlivesWithoutAWatchdog) {
  NotifySocket socket(dir_.path() + "/notify");
  DaemonProcess daemon(kConfig, env(socket), {"--migrate"});
  std::vector<std::string> before;
  ASSERT_TRUE(socket.wait_for("READY=1", 60s, before)) << daemon.log();
  std::vector<std::string> after;
  EXPECT_FALSE(socket.wait_for("WATCHDOG=1", 1500ms, after));
  daemon.signal(SIGTERM);
  EXPECT_TRUE(socket.wait_for("STOPPING=1", 30s, after)) << daemon.log();
  EXPECT_EQ(daemon.wait_exit(30s), 0) << daemon.log();
}

}  // namespace
}  // namespace ctd::testing
