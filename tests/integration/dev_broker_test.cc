// `ctd dev-broker --port P`: a real client bootstraps through the fixed port and produces.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/kafka_producer.h"

namespace ctd::testing {
namespace {

TEST(DevBrokerTest, ClientsBootstrapThroughTheFixedPort) {
  const int port = free_port();
  const std::string binary = std::string(CTD_BINARY_DIR) + "/ctd";
  const std::string port_text = std::to_string(port);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const char* argv[] = {binary.c_str(),    "dev-broker",   "--port",
                          port_text.c_str(), "--partitions", "2",
                          "--topic",         "dev.t",        nullptr};
    if (!freopen("/dev/null", "w", stdout)) _exit(126);
    execv(binary.c_str(), const_cast<char* const*>(argv));
    _exit(127);
  }
  // The bootstrap port accepts connections once the broker runs.
  bool listening = false;
  for (int attempt = 0; attempt < 200 && !listening; ++attempt) {
    listening = accepts_connections(port);
    if (!listening) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, WNOHANG), 0) << "dev-broker exited early";
  }
  ASSERT_TRUE(listening);
  {
    TestProducer producer("127.0.0.1:" + port_text);
    for (int i = 0; i < 10; ++i) producer.produce("dev.t", "message " + std::to_string(i), i % 2);
    EXPECT_NO_THROW(producer.flush()) << "every message acknowledged by the broker";
  }
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace ctd::testing
