#include "daemon/alerts.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace ctd::alerts {
namespace {

nlohmann::json alert_json(const Alert& alert) {
  return {{"labels", alert.labels},
          {"annotations", alert.annotations},
          {"startsAt", format_time(alert.starts_at)},
          {"endsAt", format_time(alert.ends_at)}};
}

bool success(int status) { return status >= 200 && status < 300; }

class AlertmanagerDestination final : public Destination {
 public:
  AlertmanagerDestination(http::HttpUrl url, std::chrono::milliseconds timeout,
                          std::string generator_url, const tls::ClientTls& tls)
      : url_(std::move(url)),
        timeout_(timeout),
        generator_url_(std::move(generator_url)),
        tls_(url_.tls ? tls::client_context(tls) : nullptr) {
    if (!url_.target.ends_with('/')) url_.target += '/';
    url_.target += "api/v2/alerts";
  }
  const std::string& name() const override { return name_; }
  void send(const Alert& alert) override {
    const auto response = http::post(url_, {{"Content-Type", "application/json"}},
                                     alertmanager_body({alert}, generator_url_), timeout_, tls_);
    if (!success(response.status)) {
      throw std::runtime_error(fmt::format("alertmanager answered {}: {}", response.status,
                                           response.body.substr(0, 200)));
    }
  }

 private:
  const std::string name_ = "alertmanager";
  http::HttpUrl url_;
  std::chrono::milliseconds timeout_;
  std::string generator_url_;
  std::shared_ptr<boost::asio::ssl::context> tls_;  // https: loaded once; null: http
};

class WebhookDestination final : public Destination {
 public:
  WebhookDestination(std::string name, http::HttpUrl url, std::string secret,
                     std::chrono::milliseconds timeout, const tls::ClientTls& tls)
      : name_("webhook:" + name),
        url_(std::move(url)),
        secret_(std::move(secret)),
        timeout_(timeout),
        tls_(url_.tls ? tls::client_context(tls) : nullptr) {}
  const std::string& name() const override { return name_; }
  void send(const Alert& alert) override {
    const std::string body = webhook_body(alert);
    std::map<std::string, std::string> headers{{"Content-Type", "application/json"}};
    if (!secret_.empty()) {
      const std::string timestamp = std::to_string(
          std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch())
              .count());
      headers["X-Ctd-Timestamp"] = timestamp;
      headers["X-Ctd-Signature"] = "sha256=" + hmac_sha256_hex(secret_, timestamp + "." + body);
    }
    const auto response = http::post(url_, headers, body, timeout_, tls_);
    if (!success(response.status)) {
      throw std::runtime_error(fmt::format("{} answered {}", name_, response.status));
    }
  }

 private:
  std::string name_;
  http::HttpUrl url_;
  std::string secret_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<boost::asio::ssl::context> tls_;  // https: loaded once; null: http
};

}  // namespace

Alert event(std::string name, std::string severity, std::map<std::string, std::string> labels,
            std::string summary, std::string description, Clock::time_point now,
            std::chrono::seconds ttl) {
  Alert alert;
  alert.labels = std::move(labels);
  alert.labels["alertname"] = std::move(name);
  alert.labels["severity"] = std::move(severity);
  alert.annotations = {{"summary", std::move(summary)}};
  if (!description.empty()) alert.annotations["description"] = std::move(description);
  alert.starts_at = now;
  alert.ends_at = now + ttl;
  return alert;
}

std::string format_time(Clock::time_point t) {
  const auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(t);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", std::chrono::floor<std::chrono::seconds>(ms),
                     ms.time_since_epoch().count() % 1000);
}

std::string alertmanager_body(const std::vector<Alert>& alerts, const std::string& generator_url) {
  nlohmann::json body = nlohmann::json::array();
  for (const Alert& alert : alerts) {
    nlohmann::json json = alert_json(alert);
    if (!generator_url.empty()) json["generatorURL"] = generator_url;
    body.push_back(std::move(json));
  }
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string webhook_body(const Alert& alert) {
  const nlohmann::json body = {{"version", 1},
                               {"source", "ctd"},
                               {"status", alert.resolved ? "resolved" : "firing"},
                               {"alert", alert_json(alert)}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string hmac_sha256_hex(const std::string& key, const std::string& message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest,
           &length) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::unique_ptr<Destination> alertmanager_destination(const http::HttpUrl& base,
                                                      std::chrono::milliseconds timeout,
                                                      std::string generator_url,
                                                      const tls::ClientTls& tls) {
  return std::make_unique<AlertmanagerDestination>(base, timeout, std::move(generator_url), tls);
}

std::unique_ptr<Destination> webhook_destination(std::string name, const http::HttpUrl& url,
                                                 std::string secret,
                                                 std::chrono::milliseconds timeout,
                                                 const tls::ClientTls& tls) {
  return std::make_unique<WebhookDestination>(std::move(name), url, std::move(secret), timeout,
                                              tls);
}

// ---------------------------------------------------------------------------------------------
// The dispatcher.

struct AlertDispatcher::Lane {
  std::unique_ptr<Destination> destination;
  metrics::Counter& sent;
  metrics::Counter& failed;
  metrics::Counter& dropped;
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Alert> queue;  // guarded by mutex
  bool busy = false;        // guarded by mutex: an alert is being delivered
  bool stopping = false;    // guarded by mutex
  std::thread sender;
};

AlertDispatcher::AlertDispatcher(std::vector<std::unique_ptr<Destination>> destinations,
                                 std::map<std::string, std::string> extra_labels,
                                 std::size_t queue_size, RetryPolicy retry,
                                 metrics::Registry& metrics)
    : extra_labels_(std::move(extra_labels)), queue_size_(queue_size), retry_(retry) {
  auto& sent = metrics.counter("ctd_alerts_sent_total",
                               "Alert deliveries by destination and outcome (delivered, failed "
                               "after every retry).",
                               {"destination", "outcome"});
  auto& dropped =
      metrics.counter("ctd_alerts_dropped_total",
                      "Alerts dropped because a destination's queue was full.", {"destination"});
  for (auto& destination : destinations) {
    const std::string name = destination->name();
    lanes_.push_back(std::unique_ptr<Lane>(new Lane{std::move(destination),
                                                    sent.with({name, "delivered"}),
                                                    sent.with({name, "failed"}),
                                                    dropped.with({name}),
                                                    {},
                                                    {},
                                                    {},
                                                    false,
                                                    false,
                                                    {}}));
  }
  for (auto& lane : lanes_) lane->sender = std::thread([this, &lane = *lane] { run(lane); });
}

AlertDispatcher::~AlertDispatcher() {
  for (auto& lane : lanes_) {
    {
      std::lock_guard lock(lane->mutex);
      lane->stopping = true;
    }
    lane->wake.notify_all();
  }
  for (auto& lane : lanes_) lane->sender.join();
}

void AlertDispatcher::notify(const Alert& alert) {
  Alert labelled = alert;
  for (const auto& [name, value] : extra_labels_) labelled.labels.try_emplace(name, value);
  for (auto& lane : lanes_) {
    {
      std::lock_guard lock(lane->mutex);
      if (lane->queue.size() >= queue_size_) {
        lane->queue.pop_front();
        lane->dropped.inc();
      }
      lane->queue.push_back(labelled);
    }
    lane->wake.notify_all();
  }
}

bool AlertDispatcher::drain(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& lane : lanes_) {
    std::unique_lock lock(lane->mutex);
    if (!lane->wake.wait_until(lock, deadline, [&] { return lane->queue.empty() && !lane->busy; }))
      return false;
  }
  return true;
}

void AlertDispatcher::run(Lane& lane) {
  std::unique_lock lock(lane.mutex);
  while (true) {
    lane.wake.wait(lock, [&] { return lane.stopping || !lane.queue.empty(); });
    if (lane.stopping) return;
    Alert alert = std::move(lane.queue.front());
    lane.queue.pop_front();
    lane.busy = true;
    auto delay = retry_.initial;
    bool delivered = false;
    for (int attempt = 1; attempt <= retry_.max_attempts && !lane.stopping; ++attempt) {
      lock.unlock();
      try {
        lane.destination->send(alert);
        delivered = true;
      } catch (const std::exception& e) {
        spdlog::warn("alert {} to {}: attempt {} of {} failed: {}", alert.name(),
                     lane.destination->name(), attempt, retry_.max_attempts, e.what());
      }
      lock.lock();
      if (delivered || attempt == retry_.max_attempts) break;
      // Waits out the backoff, but wakes at once for shutdown.
      lane.wake.wait_for(lock, delay, [&] { return lane.stopping; });
      delay = std::min(delay * 2, retry_.max);
    }
    (delivered ? lane.sent : lane.failed).inc();
    lane.busy = false;
    lane.wake.notify_all();
  }
}

std::unique_ptr<AlertDispatcher> make_dispatcher(const config::AlertsOptions& options,
                                                 metrics::Registry& metrics) {
  std::vector<std::unique_ptr<Destination>> destinations;
  const auto url_of = [](const std::string& text) {
    http::ParsedUrl parsed = http::parse_http_url(text);
    if (!parsed.url) throw std::runtime_error("alerts: " + parsed.error);
    return *parsed.url;
  };
  // An https destination loads its CAs once, now, so that an unusable file stops the start.
  const auto add = [&destinations](const std::string& destination, const auto& make) {
    try {
      destinations.push_back(make());
    } catch (const tls::TlsError& e) {
      throw std::runtime_error(fmt::format("alerts: {}: {}", destination, e.what()));
    }
  };
  const auto cas = [](const std::optional<std::string>& ca) {
    return tls::ClientTls{ca.value_or(""), "", ""};
  };
  if (options.alertmanager_url) {
    const http::HttpUrl url = url_of(*options.alertmanager_url);
    add("alertmanager", [&] {
      return alertmanager_destination(url, options.timeout, "", cas(options.alertmanager_ca_file));
    });
  }
  for (const config::WebhookOptions& webhook : options.webhooks) {
    const http::HttpUrl url = url_of(webhook.url);
    add("webhook " + webhook.name, [&] {
      return webhook_destination(webhook.name, url, webhook.secret, options.timeout,
                                 cas(webhook.ca_file));
    });
  }
  if (destinations.empty()) return nullptr;
  return std::make_unique<AlertDispatcher>(
      std::move(destinations), options.labels, options.queue_size,
      RetryPolicy{options.retry_initial, options.retry_max, options.max_attempts}, metrics);
}

}  // namespace ctd::alerts
