#include "daemon/health.h"

#include "daemon/pg.h"
#include "daemon/schema.h"

namespace ctd {

HealthProber::HealthProber(std::string dsn, std::chrono::milliseconds interval)
    : dsn_(std::move(dsn)), interval_(interval) {}

HealthProber::~HealthProber() { stop(); }

void HealthProber::start() {
  thread_ = std::thread([this] {
    while (!stop_) {
      probe_once();
      const auto until = std::chrono::steady_clock::now() + interval_;
      while (!stop_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  });
}

void HealthProber::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string HealthProber::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

void HealthProber::probe_once() {
  try {
    pg::PgConnection connection(pg::with_connect_timeout(dsn_, 3));
    connection.exec("SELECT 1");
    postgres_up_ = true;
    const schema::SchemaStatus status = schema::inspect(connection, schema::builtin_migrations());
    schema_current_ = status.current();
    std::lock_guard lock(mutex_);
    last_error_ = status.current() ? "" : status.describe();
  } catch (const pg::PgError& e) {
    postgres_up_ = false;
    std::lock_guard lock(mutex_);
    last_error_ = e.what();
  }
}

}  // namespace ctd
