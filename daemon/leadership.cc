#include "daemon/leadership.h"

#include <spdlog/spdlog.h>

namespace ctd {

Leadership::Leadership(std::string dsn, std::vector<std::string> pipelines,
                       ChangeCallback on_change)
    : dsn_(pg::with_liveness_checks(dsn, 10)),
      pipelines_(std::move(pipelines)),
      on_change_(std::move(on_change)) {
  for (const auto& p : pipelines_) leads_[p] = false;
}

Leadership::~Leadership() = default;

void Leadership::set(const std::string& pipeline, bool leads) {
  if (leads_[pipeline] == leads) return;
  leads_[pipeline] = leads;
  if (leads)
    spdlog::info("leading pipeline {}: its triggers, training and promotion run here", pipeline);
  else
    spdlog::warn("no longer leading pipeline {}", pipeline);
  if (on_change_) on_change_(pipeline, leads);
}

void Leadership::refresh() {
  std::lock_guard lock(mutex_);
  try {
    if (connection_) connection_->exec("SELECT 1");
  } catch (const std::exception& e) {
    spdlog::warn("leadership connection lost: {}", e.what());
    connection_.reset();
  }
  if (!connection_) {
    for (const auto& p : pipelines_) set(p, false);  // a new session holds no locks
    try {
      connection_ = std::make_unique<pg::PgConnection>(dsn_);
    } catch (const std::exception& e) {
      spdlog::warn("leadership: cannot connect: {}", e.what());
      return;
    }
  }
  try {
    for (const auto& p : pipelines_) {
      if (leads_[p]) continue;
      if (!ids_.count(p))
        ids_[p] = static_cast<int>(
            connection_
                ->exec("WITH ins AS (INSERT INTO pipelines (name) VALUES ($1) ON CONFLICT (name) "
                       "DO NOTHING RETURNING pipeline_id) SELECT pipeline_id FROM ins UNION ALL "
                       "SELECT pipeline_id FROM pipelines WHERE name = $1",
                       {p})
                .integer(0, 0));
      const auto r = connection_->exec(
          "SELECT pg_try_advisory_lock(" + std::to_string(kLockClass) + ", $1::int)",
          {std::to_string(ids_[p])});
      if (r.text(0, 0) == "t") set(p, true);
    }
  } catch (const std::exception& e) {
    spdlog::warn("leadership: {}", e.what());
    connection_.reset();
    for (const auto& p : pipelines_) set(p, false);
  }
}

bool Leadership::leads(const std::string& pipeline) const {
  std::lock_guard lock(mutex_);
  const auto it = leads_.find(pipeline);
  return it != leads_.end() && it->second;
}

std::vector<std::string> Leadership::led() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [p, leads] : leads_)
    if (leads) out.push_back(p);
  return out;
}

}  // namespace ctd
