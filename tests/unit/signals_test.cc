// wait_for_shutdown_signal_until (daemon/signals.h): a pending signal is taken, a deadline
// without one gives up. Signals are raised at this thread with them blocked, so they stay
// pending for it and nothing else sees them.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>

#include "daemon/signals.h"

namespace ctd {
namespace {

using Clock = std::chrono::steady_clock;

class SignalsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pthread_sigmask(SIG_SETMASK, nullptr, &saved_);
    signals_ = block_shutdown_signals();
  }
  void TearDown() override { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  sigset_t saved_;
  sigset_t signals_;
};

TEST_F(SignalsTest, APendingSignalIsTakenBeforeTheDeadline) {
  raise(SIGTERM);
  EXPECT_EQ(wait_for_shutdown_signal_until(signals_, Clock::now() + std::chrono::seconds(30)),
            SIGTERM);
  raise(SIGINT);
  EXPECT_EQ(wait_for_shutdown_signal_until(signals_, Clock::now() - std::chrono::seconds(1)),
            SIGINT);  // a deadline already passed still takes what is pending
}

TEST_F(SignalsTest, NoSignalByTheDeadlineGivesNothing) {
  EXPECT_EQ(wait_for_shutdown_signal_until(signals_, Clock::now() - std::chrono::seconds(1)),
            std::nullopt);
  const auto deadline = Clock::now() + std::chrono::milliseconds(50);
  EXPECT_EQ(wait_for_shutdown_signal_until(signals_, deadline), std::nullopt);
  EXPECT_GE(Clock::now(), deadline);
}

}  // namespace
}  // namespace ctd
