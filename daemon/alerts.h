// Ops alerts: what happened to a pipeline (a trigger fired, a training failed, a candidate was
// rejected, a model was promoted or rolled back) and conditions that hold for a while
// (quarantine rate or consumer lag high, production model stale, PostgreSQL unreachable), sent
// to Alertmanager's v2 API and to generic webhooks.
//
// An Alert follows Alertmanager's model: identity is its label set (alertname, severity,
// pipeline, ... plus the configured extra labels), a firing alert has an end time in the future
// (an event ends by itself after `event_ttl`, a condition is re-sent while it holds), a
// resolved one ends now. Webhooks get the same alert as JSON with status firing|resolved,
// signed with HMAC-SHA256 over "<timestamp>.<body>" (headers X-Ctd-Timestamp and
// X-Ctd-Signature: sha256=<hex>) when the destination has a secret.
//
// AlertDispatcher gives each destination its own bounded queue and sender thread: notify()
// never blocks (a full queue drops its oldest alert, counted), failed deliveries are retried
// with capped exponential backoff up to `max_attempts`, so a slow or dead receiver never holds
// up ingestion or training. Counted in ctd_alerts_sent_total{destination,outcome} and
// ctd_alerts_dropped_total{destination}.
//
// Thread-safety: notify() from any thread; the encoders are pure.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/options.h"
#include "daemon/http_client.h"
#include "daemon/metrics.h"

namespace ctd::alerts {

using Clock = std::chrono::system_clock;

struct Alert {
  std::map<std::string, std::string> labels;       // alertname and severity at least
  std::map<std::string, std::string> annotations;  // summary, description
  Clock::time_point starts_at{};
  Clock::time_point ends_at{};
  bool resolved = false;

  const std::string& name() const { return labels.at("alertname"); }
};

// A one-off event: firing from `now`, ending by itself after `ttl`.
Alert event(std::string name, std::string severity, std::map<std::string, std::string> labels,
            std::string summary, std::string description, Clock::time_point now,
            std::chrono::seconds ttl);

// RFC 3339 UTC with milliseconds, as Alertmanager writes times.
std::string format_time(Clock::time_point t);

// The body of POST /api/v2/alerts: a JSON array of postable alerts.
std::string alertmanager_body(const std::vector<Alert>& alerts, const std::string& generator_url);
// A webhook's body: {"version": 1, "source": "ctd", "status": ..., "alert": {...}}.
std::string webhook_body(const Alert& alert);
// Lower-case hex HMAC-SHA256 of `message` under `key`.
std::string hmac_sha256_hex(const std::string& key, const std::string& message);

// Where alerts go; send() throws on failure (the dispatcher retries).
class Destination {
 public:
  virtual ~Destination() = default;
  virtual const std::string& name() const = 0;
  virtual void send(const Alert& alert) = 0;
};

// POST {url}/api/v2/alerts; a non-2xx answer is a failure. `tls` verifies an https receiver:
// its context is made here, once (throws tls::TlsError when its files cannot be used).
std::unique_ptr<Destination> alertmanager_destination(const http::HttpUrl& base,
                                                      std::chrono::milliseconds timeout,
                                                      std::string generator_url,
                                                      const tls::ClientTls& tls = {});
// POST url with the webhook body, signed when `secret` is non-empty; non-2xx is a failure.
std::unique_ptr<Destination> webhook_destination(std::string name, const http::HttpUrl& url,
                                                 std::string secret,
                                                 std::chrono::milliseconds timeout,
                                                 const tls::ClientTls& tls = {});

// Where the daemon reports; a no-op by default (no alerts configured).
class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual void notify(const Alert& alert) = 0;
};

struct RetryPolicy {
  std::chrono::milliseconds initial{500};
  std::chrono::milliseconds max{30'000};
  int max_attempts = 8;
};

class AlertDispatcher final : public Notifier {
 public:
  AlertDispatcher(std::vector<std::unique_ptr<Destination>> destinations,
                  std::map<std::string, std::string> extra_labels, std::size_t queue_size,
                  RetryPolicy retry, metrics::Registry& metrics);
  ~AlertDispatcher() override;  // stops the senders; what is still queued is dropped
  AlertDispatcher(const AlertDispatcher&) = delete;
  AlertDispatcher& operator=(const AlertDispatcher&) = delete;

  void notify(const Alert& alert) override;
  // Waits until every queue is empty and nothing is being sent, or the timeout passes; true if
  // drained (tests and shutdown).
  bool drain(std::chrono::milliseconds timeout);

 private:
  struct Lane;
  void run(Lane& lane);

  std::map<std::string, std::string> extra_labels_;
  std::size_t queue_size_;
  RetryPolicy retry_;
  std::vector<std::unique_ptr<Lane>> lanes_;
};

// The dispatcher configured by `options` (nullptr when no destination is configured). Throws
// std::runtime_error for an unusable URL or CA file (https destinations verify the receiver,
// against the system's CAs or their `ca_file`).
std::unique_ptr<AlertDispatcher> make_dispatcher(const config::AlertsOptions& options,
                                                 metrics::Registry& metrics);

}  // namespace ctd::alerts
