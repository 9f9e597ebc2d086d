#include "daemon/service_notify.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdint>
#include <cstring>

namespace ctd {
namespace {

// STATUS= is one line: newlines would start another assignment.
std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}

}  // namespace

ServiceNotifier::ServiceNotifier() {
  std::uint64_t usec = 0;
  const int enabled = sd_watchdog_enabled(0, &usec);
  if (enabled > 0 && usec > 0) watchdog_ = std::chrono::microseconds(usec);
  if (enabled < 0)
    spdlog::warn("ignoring the systemd watchdog settings: {}", std::strerror(-enabled));
}

ServiceNotifier::~ServiceNotifier() { stop_watchdog(); }

void ServiceNotifier::notify(const std::string& message) {
  const int rc = sd_notify(0, message.c_str());
  if (rc < 0) spdlog::warn("sd_notify failed: {}", std::strerror(-rc));
}

void ServiceNotifier::ready(const std::string& status) {
  notify("READY=1\nSTATUS=" + one_line(status));
}

void ServiceNotifier::stopping(const std::string& status) {
  notify("STOPPING=1\nSTATUS=" + one_line(status));
}

void ServiceNotifier::status(const std::string& status) { notify("STATUS=" + one_line(status)); }

void ServiceNotifier::start_watchdog(std::function<bool()> alive) {
  if (!watchdog_ || thread_.joinable()) return;
  const auto half = *watchdog_ / 2;
  spdlog::info("systemd watchdog: keep-alive every {} ms", half.count() / 1000);
  thread_ = std::thread([this, half, alive = std::move(alive)] {
    std::unique_lock lock(mutex_);
    bool was_alive = true;
    while (!wake_.wait_for(lock, half, [this] { return stop_; })) {
      lock.unlock();
      const bool ok = alive();
      if (ok) notify("WATCHDOG=1");
      if (ok != was_alive) {
        if (!ok)
          spdlog::error("liveness check failed: withholding the systemd watchdog keep-alive");
        was_alive = ok;
      }
      lock.lock();
    }
  });
}

void ServiceNotifier::stop_watchdog() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ctd
