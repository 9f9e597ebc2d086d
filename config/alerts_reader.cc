#include "config/alerts_reader.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "config/training_reader.h"

namespace ctd::config::internal {
namespace {

constexpr std::string_view kAlertsKeys[] = {
    "alertmanager",     "webhooks",     "labels",       "queue_size",  "timeout_ms",
    "retry_initial_ms", "retry_max_ms", "max_attempts", "event_ttl_s", "evaluation_interval_s",
    "quarantine_rate",  "consumer_lag", "model_stale_s"};
constexpr std::string_view kAlertmanagerKeys[] = {"url", "ca_file"};
constexpr std::string_view kWebhookKeys[] = {"name", "url", "secret_env", "ca_file"};

constexpr Range kQueueSizeRange{1, 1'000'000};
constexpr Range kTimeoutMsRange{100, 60'000};
constexpr Range kRetryInitialMsRange{10, 600'000};
constexpr Range kRetryMaxMsRange{10, 3'600'000};
constexpr Range kMaxAttemptsRange{1, 100};
constexpr Range kEventTtlRange{60, 604'800};
constexpr Range kEvaluationIntervalRange{5, 3'600};
constexpr Range kConsumerLagRange{0, 1'000'000'000'000};
constexpr Range kModelStaleRange{0, 31'536'000};

// Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]*.
bool is_valid_label_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// An http:// or https:// URL with a host (daemon/http_client.h judges the rest at start-up).
std::optional<std::string> read_url(ErrorSink& errors, const std::optional<Field>& field) {
  std::optional<std::string> url = read_string(errors, field);
  if (!url) return url;
  const std::string_view scheme = url->starts_with("https://") ? "https://" : "http://";
  if (!url->starts_with(scheme) || url->size() == scheme.size()) {
    errors.at(field->mark, field->path,
              fmt::format("'{}' is not an http:// or https:// URL", *url));
    return std::nullopt;
  }
  return url;
}

// `ca_file` of a destination: a path, only with an https:// URL (it would silently do nothing
// over plain HTTP).
std::optional<std::string> read_ca_file(const MapReader& map, const std::optional<std::string>& url,
                                        const std::filesystem::path& config_dir) {
  const std::optional<Field> field = map.find("ca_file");
  if (field && url && !url->starts_with("https://")) {
    map.reject("ca_file", "only allowed with an https:// url");
    return std::nullopt;
  }
  return read_path(map.errors(), field, config_dir);
}

WebhookOptions read_webhook(const Field& item, UniqueNames& names,
                            const std::map<std::string, std::string>& env,
                            const std::filesystem::path& config_dir, ErrorSink& errors) {
  const MapReader map(errors, item, kWebhookKeys);
  WebhookOptions out;
  const std::optional<Field> name_field = map.require("name");
  if (std::optional<std::string> name = read_string(errors, name_field)) {
    if (!is_valid_name(*name)) {
      errors.at(name_field->mark, name_field->path,
                fmt::format("invalid webhook name '{}': must match [a-z0-9_-]{{1,{}}}", *name,
                            kMaxNameLength));
    }
    names.check(errors, *name, *name_field);
    out.name = std::move(*name);
  }
  const std::optional<std::string> url = read_url(errors, map.require("url"));
  assign(out.url, url);
  out.ca_file = read_ca_file(map, url, config_dir);
  const std::optional<Field> secret_field = map.find("secret_env");
  if (std::optional<std::string> variable = read_string(errors, secret_field)) {
    const auto found = env.find(*variable);
    if (!variable->starts_with("CTD_")) {
      // ctd reads only its own variables from the environment (config/loader.h).
      errors.at(secret_field->mark, secret_field->path,
                fmt::format("'{}' must be a CTD_* environment variable", *variable));
    } else if (found == env.end() || found->second.empty()) {
      errors.at(secret_field->mark, secret_field->path,
                fmt::format("environment variable {} (the webhook's signing secret) is not set",
                            *variable));
    } else {
      out.secret = found->second;
    }
    out.secret_env = std::move(*variable);
  }
  return out;
}

void read_retry(const MapReader& map, AlertsOptions& out) {
  ErrorSink& errors = map.errors();
  const std::optional<Field> initial_field = map.find("retry_initial_ms");
  const std::optional<Field> max_field = map.find("retry_max_ms");
  const auto initial = read_int(errors, initial_field, kRetryInitialMsRange);
  const auto max = read_int(errors, max_field, kRetryMaxMsRange);
  if (!read_cleanly(initial_field, initial) || !read_cleanly(max_field, max)) return;
  assign(out.retry_initial, initial);
  assign(out.retry_max, max);
  if (out.retry_initial <= out.retry_max) return;
  const Field& at = initial_field ? *initial_field : *max_field;
  errors.at(at.mark, at.path,
            fmt::format("retry_initial_ms ({}) must not be greater than retry_max_ms ({})",
                        out.retry_initial.count(), out.retry_max.count()));
}

}  // namespace

AlertsOptions read_alerts(const MapReader& root, const std::map<std::string, std::string>& env,
                          const std::filesystem::path& config_dir) {
  const MapReader map = root.map("alerts", kAlertsKeys);
  ErrorSink& errors = map.errors();
  AlertsOptions out;
  if (map.find("alertmanager")) {
    const MapReader alertmanager = map.map("alertmanager", kAlertmanagerKeys);
    out.alertmanager_url = read_url(errors, alertmanager.require("url"));
    out.alertmanager_ca_file = read_ca_file(alertmanager, out.alertmanager_url, config_dir);
  }
  UniqueNames names("webhook name");
  for (const Field& item : read_list(errors, map.find("webhooks")).value_or(std::vector<Field>()))
    out.webhooks.push_back(read_webhook(item, names, env, config_dir, errors));
  const MapReader labels = map.map("labels", kAnyKey);
  for (const MapReader::Entry& entry : labels.entries()) {
    if (!is_valid_label_name(entry.key)) {
      errors.at(
          entry.key_mark, entry.value.path,
          fmt::format("invalid label name '{}': must match [a-zA-Z_][a-zA-Z0-9_]*", entry.key));
      continue;
    }
    assign(out.labels[entry.key], read_string(errors, entry.value));
  }
  assign(out.queue_size, read_int(errors, map.find("queue_size"), kQueueSizeRange));
  assign(out.timeout, read_int(errors, map.find("timeout_ms"), kTimeoutMsRange));
  read_retry(map, out);
  assign(out.max_attempts, read_int(errors, map.find("max_attempts"), kMaxAttemptsRange));
  assign(out.event_ttl, read_int(errors, map.find("event_ttl_s"), kEventTtlRange));
  assign(out.evaluation_interval,
         read_int(errors, map.find("evaluation_interval_s"), kEvaluationIntervalRange));
  assign(out.quarantine_rate, read_number_in(errors, map.find("quarantine_rate"), kClosedUnit));
  assign(out.consumer_lag, read_int(errors, map.find("consumer_lag"), kConsumerLagRange));
  assign(out.model_stale, read_int(errors, map.find("model_stale_s"), kModelStaleRange));
  return out;
}

}  // namespace ctd::config::internal
