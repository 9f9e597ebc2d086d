#include "daemon/daemon.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "daemon/alert_conditions.h"
#include "daemon/alerts.h"
#include "daemon/api.h"
#include "daemon/api_auth.h"
#include "daemon/config_reload.h"
#include "daemon/embedded_broker.h"
#include "daemon/health.h"
#include "daemon/http_server.h"
#include "daemon/kafka_config.h"
#include "daemon/launcher.h"
#include "daemon/leadership.h"
#include "daemon/metrics.h"
#include "daemon/ops_metrics.h"
#include "daemon/pg.h"
#include "daemon/pipeline_manager.h"
#include "daemon/registry_wiring.h"
#include "daemon/run_store.h"
#include "daemon/schema.h"
#include "daemon/service_notify.h"
#include "daemon/signals.h"
#include "daemon/stream_ingestor.h"
#include "daemon/tls.h"

namespace ctd {
namespace {

constexpr auto kProbeInterval = std::chrono::seconds(2);
constexpr auto kOpsMetricsInterval = std::chrono::seconds(10);  // daemon/ops_metrics.h

struct StreamTopic {
  const config::PipelineOptions* pipeline;
  ingest::Stream stream;
  std::string topic;
};

std::vector<StreamTopic> stream_topics(const config::Options& options) {
  std::vector<StreamTopic> out;
  for (const config::PipelineOptions& p : options.pipelines) {
    out.push_back({&p, ingest::Stream::kLabels, p.topics.labels});
    if (p.topics.inferences) out.push_back({&p, ingest::Stream::kInferences, *p.topics.inferences});
    if (p.topics.metrics) out.push_back({&p, ingest::Stream::kMetrics, *p.topics.metrics});
  }
  return out;
}

// Checks the schema; migrates when asked. Returns false (after logging why) if ctd must not run.
bool ensure_schema(const config::Options& options, const RunFlags& flags) {
  try {
    pg::PgConnection connection(pg::with_connect_timeout(options.postgres.dsn, 10));
    const auto migrations = schema::builtin_migrations();
    if (flags.migrate) {
      for (const std::string& name : schema::migrate(connection, migrations).applied) {
        spdlog::info("applied migration {}", name);
      }
    }
    const schema::SchemaStatus status = schema::inspect(connection, migrations);
    if (!status.current()) {
      spdlog::error("refusing to start: {}", status.describe());
      return false;
    }
    return true;
  } catch (const std::exception& e) {
    spdlog::error("refusing to start: {}", e.what());
    return false;
  }
}

http::HttpResponse readiness(const HealthProber& prober,
                             const std::vector<std::unique_ptr<ingest::StreamIngestor>>& ingestors,
                             const std::atomic<bool>& draining) {
  nlohmann::json checks = nlohmann::json::object();
  bool ready = prober.postgres_up() && prober.schema_current() && !draining;
  if (draining) checks["shutdown"] = "draining";
  checks["postgres"] = prober.postgres_up() ? "ok" : prober.last_error();
  checks["schema"] = prober.schema_current() ? "ok" : prober.last_error();
  for (const auto& ingestor : ingestors) {
    const bool assigned = ingestor->assigned();
    ready = ready && assigned;
    checks["consumer " + ingestor->topic()] = assigned ? "ok" : "waiting for partition assignment";
  }
  return http::HttpResponse::json(ready ? 200 : 503,
                                  nlohmann::json{{"ready", ready}, {"checks", checks}}.dump());
}

// The request body limit of the HTTP server: API bodies are small JSON objects.
constexpr std::size_t kMaxBodyBytes = 64 * 1024;

// /healthz, /readyz and /metrics (open, or for read tokens with http.auth.protect_health) and
// the /v1 API (daemon/api.h).
http::Router make_router(const config::Options& options, const HealthProber& prober,
                         const metrics::Registry& registry,
                         const std::vector<std::unique_ptr<ingest::StreamIngestor>>& ingestors,
                         const std::atomic<bool>& draining,
                         const std::shared_ptr<const api::TokenSet>& tokens,
                         api::ApiContext& api_context) {
  http::Router router;
  const auto add_open = [&](const std::string& path, http::Handler handler) {
    if (!options.http.protect_health) return router.add("GET", path, std::move(handler));
    router.add("GET", path,
               api::guarded(tokens, api::Role::kRead,
                            [handler](const http::HttpRequest& request, const api::Principal&) {
                              return handler(request);
                            }));
  };
  add_open("/healthz", [](const http::HttpRequest&) {
    return http::HttpResponse::json(200, R"({"status":"ok"})");
  });
  add_open("/readyz", [&prober, &ingestors, &draining](const http::HttpRequest&) {
    return readiness(prober, ingestors, draining);
  });
  add_open("/metrics", [&registry](const http::HttpRequest&) {
    http::HttpResponse response = http::HttpResponse::text(200, registry.render());
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return response;
  });
  api::add_api_routes(router, tokens, api_context);
  return router;
}

// The API's bearer tokens (http.auth.tokens_file and CTD_API_TOKENS); nullptr after logging
// why they cannot be read.
std::shared_ptr<const api::TokenSet> load_tokens(const config::Options& options) {
  try {
    const char* env = std::getenv("CTD_API_TOKENS");
    auto tokens = std::make_shared<const api::TokenSet>(
        api::TokenSet::load(options.http.tokens_file, env ? env : ""));
    if (tokens->size() == 0)
      spdlog::warn(
          "no API tokens configured (http.auth.tokens_file, CTD_API_TOKENS): every /v1 "
          "request will be refused with 401");
    return tokens;
  } catch (const std::exception& e) {
    spdlog::error("refusing to start: {}", e.what());
    return nullptr;
  }
}

// http.tls's certificate, key and client CAs into `context` (left null without TLS); false
// after logging why they cannot be used.
bool load_server_tls(const config::Options& options,
                     std::shared_ptr<boost::asio::ssl::context>& context) {
  if (!options.http.tls) return true;
  try {
    context = tls::server_context(*options.http.tls);
  } catch (const std::exception& e) {
    spdlog::error("refusing to start: {}", e.what());
    return false;
  }
  const tls::CertificateSummary certificate = tls::summarize_certificate(*context);
  spdlog::log(certificate.expired ? spdlog::level::warn : spdlog::level::info,
              "TLS certificate: {}", certificate.to_string());
  return true;
}

// SIGHUP's certificate rotation (daemon/config_reload.h); none for a plain HTTP server.
TlsReloader tls_reloader(http::HttpServer& server) {
  if (!server.tls()) return {};
  return [&server](const config::TlsOptions& tls) {
    auto context = tls::server_context(tls);
    const std::string presented = tls::summarize_certificate(*context).to_string();
    server.replace_tls_context(std::move(context));
    return presented;
  };
}

void start_embedded_broker(const config::Options& options,
                           std::unique_ptr<kafka::EmbeddedBroker>& broker) {
  if (options.kafka.brokers != "embedded") return;
  broker = std::make_unique<kafka::EmbeddedBroker>();
  for (const StreamTopic& s : stream_topics(options)) {
    broker->create_topic(s.topic, options.kafka.embedded_partitions);
  }
  kafka::set_embedded_bootstrap(broker->bootstrap_servers());
  spdlog::info("embedded Kafka broker listening on {} (in-memory; for development only)",
               broker->bootstrap_servers());
}

// The work of the pipelines this replica leads (daemon/leadership.h): every tick it refreshes
// its leadership (a takeover after a leader dies waits at most one tick), runs one round of
// each led pipeline's continuous-training loop (daemon/pipeline_manager.h) when it has
// triggers, and every registry.watch_interval judges the due canaries and guardrails.
class LeaderLoop {
 public:
  static constexpr std::chrono::seconds kMaxTick{2};

  using Controls = std::map<std::string, std::shared_ptr<loop::PipelineControl>>;

  LeaderLoop(const config::Options& options, registry::Registry& registry, training::RunStore& runs,
             metrics::Registry& metrics, alerts::Notifier* notifier, const Controls& controls)
      : options_(options),
        leader_gauge_(metrics.gauge("ctd_pipeline_leader",
                                    "1 if this replica runs the pipeline's triggers, training and "
                                    "promotion (it holds the pipeline's leadership lock).",
                                    {"pipeline"})),
        leadership_(options.postgres.dsn, pipeline_names(options),
                    [this](const std::string& pipeline, bool leads) {
                      leader_gauge_.with({pipeline}).set(leads ? 1 : 0);
                    }),
        training_metrics_(metrics),
        training_(wiring::training_settings(options.training), options.postgres.dsn, launcher_,
                  runs, &training_metrics_),
        service_(wiring::promotion_settings(options), options.postgres.dsn, launcher_, registry),
        loop_metrics_(metrics) {
    for (const auto& p : options.pipelines) {
      leader_gauge_.with({p.name}).set(0);
      if (!p.triggers.triggers.empty())
        managers_.push_back(std::make_unique<loop::PipelineManager>(
            p, options.postgres.dsn, training_, runs, options.training.retry_abandoned, service_,
            registry, loop_metrics_));
      if (!managers_.empty() && managers_.back()->pipeline() == p.name) {
        managers_.back()->set_notifier(notifier, options.alerts.event_ttl);
        if (const auto c = controls.find(p.name); c != controls.end())
          managers_.back()->set_control(c->second);
      }
    }
    thread_ = std::thread([this] { loop(); });
  }
  // Cancels a run this daemon's training service drives; false if it drives no such run.
  bool cancel(std::int64_t run_id, const std::string& why) { return training_.cancel(run_id, why); }

  // Starts a drain: the loop ends after its current round, so no new training starts (a run
  // queued for a slot, or started by that round, ends cancelled with `why`); the running
  // trainings and the gating of their candidates go on. Cancel them with cancel_all(), or let
  // the destructor do it.
  void begin_drain(const std::string& why) {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    training_.refuse_new_runs(why);
  }

  // After begin_drain(): how many pipelines' trainings (each with the gating of its candidate)
  // are still going; nullopt while the loop's last round runs.
  std::optional<std::size_t> trainings_in_flight() {
    {
      std::lock_guard lock(mutex_);
      if (!loop_done_) return std::nullopt;
    }
    return static_cast<std::size_t>(
        std::ranges::count_if(managers_, [](const auto& m) { return m->training_in_flight(); }));
  }

  // Cancels the running trainings and the scorers of their gates with `why`, and waits for the
  // trainings to end. For a drain that cannot wait any longer.
  void cancel_all(const std::string& why) {
    service_.stop(why);
    training_.shutdown(why);
  }

  ~LeaderLoop() {
    begin_drain("the daemon is stopping");
    cancel_all("the daemon is stopping");  // the managers' trainings end cancelled
    thread_.join();
    managers_.clear();  // their threads end once the gates' scorers are cancelled
  }

 private:
  static std::vector<std::string> pipeline_names(const config::Options& options) {
    std::vector<std::string> names;
    for (const auto& p : options.pipelines) names.push_back(p.name);
    return names;
  }

  void loop() {
    const auto tick = std::min<std::chrono::seconds>(options_.registry.watch_interval, kMaxTick);
    auto next_watch = std::chrono::steady_clock::now() + options_.registry.watch_interval;
    std::unique_lock lock(mutex_);
    do {
      lock.unlock();
      leadership_.refresh();
      run_pipelines();
      if (std::chrono::steady_clock::now() >= next_watch) {
        check_watches();
        next_watch = std::chrono::steady_clock::now() + options_.registry.watch_interval;
      }
      lock.lock();
    } while (!wake_.wait_for(lock, tick, [this] { return stop_; }));
    loop_done_ = true;
  }

  void run_pipelines() {
    for (auto& manager : managers_) {
      if (stopping()) return;
      if (!leadership_.leads(manager->pipeline())) {
        manager->reset();
        continue;
      }
      try {
        manager->step();
      } catch (const std::exception& e) {
        spdlog::warn("{}: the training loop's round failed: {}; starting over from the database",
                     manager->pipeline(), e.what());
        manager->reset();
      }
    }
  }

  void check_watches() {
    for (const auto& pipeline : options_.pipelines) {
      if (stopping()) return;
      if (!leadership_.leads(pipeline.name)) continue;
      try {
        for (const auto& w : service_.check_watches(pipeline))
          if (w.state != "waiting")
            spdlog::info("{} of {} version {}: {}: {}", registry::watch_kind_name(w.kind),
                         pipeline.name, w.version, w.state, w.reason);
      } catch (const std::exception& e) {
        spdlog::warn("checking the canaries and guardrails of {} failed: {}", pipeline.name,
                     e.what());
      }
    }
  }

  bool stopping() {
    std::lock_guard lock(mutex_);
    return stop_;
  }

  const config::Options& options_;
  metrics::Family<metrics::Gauge>& leader_gauge_;
  Leadership leadership_;
  training::LocalProcessLauncher launcher_;
  training::TrainingMetrics training_metrics_;
  training::TrainingService training_;
  promotion::PromotionService service_;
  loop::LoopMetrics loop_metrics_;
  std::vector<std::unique_ptr<loop::PipelineManager>> managers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool loop_done_ = false;  // the loop's thread has finished its last round
  std::thread thread_;      // started last, once everything above exists
};

// ctd_http_requests_total{method,route,code} and ctd_http_request_duration_seconds{method,route}:
// routes by pattern (bounded cardinality), counted by the router (requests refused by the
// server's own limits before routing, 413 and 431, are not).
http::Router::Observer request_metrics(metrics::Registry& registry) {
  auto& requests = registry.counter("ctd_http_requests_total",
                                    "HTTP requests handled, by method, route and status code.",
                                    {"method", "route", "code"});
  auto& seconds = registry.histogram(
      "ctd_http_request_duration_seconds", "Time to handle an HTTP request, by method and route.",
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
      {"method", "route"});
  return [&requests, &seconds](const std::string& method, const std::string& route, int status,
                               double took) {
    requests.with({method, route, std::to_string(status)}).inc();
    seconds.with({method, route}).observe(took);
  };
}

// What the alert conditions judge (daemon/alert_conditions.h), from the prober, the ops
// metrics and the ingestors' counters.
alerts::Observation observe(const HealthProber& prober, const OpsMetrics& ops,
                            const ingest::IngestMetrics& ingest) {
  alerts::Observation o;
  o.at = alerts::Clock::now();
  o.postgres_up = prober.postgres_up();
  o.kafka_up = ops.kafka_up();
  o.production_age = ops.production_ages();
  std::map<std::pair<std::string, std::string>, alerts::StreamObservation> streams;
  const auto stream = [&](const metrics::LabelValues& labels) -> alerts::StreamObservation& {
    auto& s = streams[{labels.at(0), labels.at(1)}];
    s.pipeline = labels.at(0);
    s.stream = labels.at(1);
    return s;
  };
  ingest.ingested.for_each(
      [&](const auto& labels, const metrics::Counter& c) { stream(labels).ingested += c.value(); });
  ingest.quarantined.for_each([&](const auto& labels, const metrics::Counter& c) {
    stream(labels).quarantined += c.value();
  });
  ingest.lag.for_each(
      [&](const auto& labels, const metrics::Gauge& g) { stream(labels).lag += g.value(); });
  for (auto& [key, s] : streams) o.streams.push_back(std::move(s));
  return o;
}

const char* signal_name(int signal_number) {
  return signal_number == SIGTERM ? "SIGTERM" : signal_number == SIGINT ? "SIGINT" : "SIGHUP";
}

// What a drain will do, for the log and systemd's status line.
std::string drain_plan(const config::Options& options) {
  if (options.shutdown.running_training == config::RunningTrainingOnShutdown::kCancel)
    return "stopping intake, writing the open batches, cancelling running trainings";
  return fmt::format(
      "stopping intake, writing the open batches, then waiting up to {} s after the signal "
      "for running trainings to finish (shutdown.running_training: finish)",
      options.shutdown.drain_timeout.count());
}

// How often a drain that waits for trainings looks whether they have ended.
constexpr auto kDrainPoll = std::chrono::milliseconds(200);

// With shutdown.running_training: finish, after intake has stopped: waits until the leader
// loop's trainings (and the gating of their candidates) have ended, then returns. At the
// deadline, or on a second SIGTERM/SIGINT, it cancels them, recorded with the reason.
void finish_trainings(LeaderLoop& loop, const sigset_t& signals,
                      std::chrono::steady_clock::time_point deadline,
                      const config::ShutdownOptions& shutdown, ServiceNotifier& notifier) {
  std::optional<std::size_t> reported;
  for (;;) {
    const std::optional<std::size_t> running = loop.trainings_in_flight();
    if (running == 0) {
      if (reported) spdlog::info("drain: the running trainings have ended");
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (running && running != reported) {
      const auto left = std::chrono::ceil<std::chrono::seconds>(deadline - now).count();
      const std::string status = fmt::format(
          "draining: waiting for {} training(s) to finish, at most {} s more; a second SIGTERM "
          "cancels them",
          *running, std::max<std::int64_t>(left, 0));
      spdlog::info("{}", status);
      notifier.status(status);
      reported = running;
    }
    std::string why;
    if (now >= deadline) {
      why = fmt::format("the drain deadline (shutdown.drain_timeout_s: {}) passed",
                        shutdown.drain_timeout.count());
    } else if (const auto again =
                   wait_for_shutdown_signal_until(signals, std::min(deadline, now + kDrainPoll))) {
      if (*again == SIGHUP) {
        spdlog::info("SIGHUP during the drain: ignored");
        continue;
      }
      why = fmt::format("a second {} cut the drain short", signal_name(*again));
    } else {
      continue;
    }
    spdlog::warn("drain: {}; cancelling the running trainings", why);
    notifier.status("draining: " + why + "; cancelling the running trainings");
    loop.cancel_all(why);
    return;
  }
}

}  // namespace

int run_daemon(const config::Options& options, const RunFlags& flags) {
  sigset_t signals = block_shutdown_signals();  // before any thread starts
  if (!flags.config_path.empty()) {             // SIGHUP: daemon/config_reload.h
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  }
  config::Options running_options = options;               // what a reload compares the file with
  ServiceNotifier notifier;                                // systemd: READY, STOPPING, WATCHDOG
  std::shared_ptr<boost::asio::ssl::context> tls_context;  // http.tls; null: plain HTTP
  if (!load_server_tls(options, tls_context)) return 2;
  notifier.status("starting: checking the schema");
  if (!ensure_schema(options, flags)) return 2;
  const std::shared_ptr<const api::TokenSet> tokens = load_tokens(options);
  if (!tokens) return 2;
  // Training runs left queued or running by a daemon that died are failed now, not left
  // dangling. The store stays for the daemon's lifetime: its connection holds the locks of
  // the runs this daemon supervises.
  std::unique_ptr<training::RunStore> runs;
  try {
    runs = std::make_unique<training::RunStore>(options.postgres.dsn, training::this_supervisor());
    for (std::int64_t run_id : runs->recover_abandoned())
      spdlog::warn("training run {} was left unfinished by a stopped daemon; marked failed",
                   run_id);
  } catch (const std::exception& e) {
    spdlog::error("refusing to start: cannot check training runs: {}", e.what());
    return 2;
  }

  // The registry: its artifact root must be usable, and each production model's current link
  // (and Triton copy) is put right in case a daemon died between a promotion and publishing.
  std::unique_ptr<wiring::RegistryParts> models;
  try {
    models = std::make_unique<wiring::RegistryParts>(options);
  } catch (const std::exception& e) {
    spdlog::error("refusing to start: artifact store {}: {}", options.registry.artifact_root,
                  e.what());
    return 2;
  }
  for (const auto& p : options.pipelines) {
    try {
      models->registry.publish_production(p.name);
    } catch (const std::exception& e) {
      spdlog::error("{}: cannot publish the production model: {}", p.name, e.what());
    }
  }

  std::unique_ptr<kafka::EmbeddedBroker> broker;
  metrics::Registry registry;
  // Ops alerts (daemon/alerts.h): the destinations, when any is configured.
  std::unique_ptr<alerts::AlertDispatcher> dispatcher;
  try {
    dispatcher = alerts::make_dispatcher(options.alerts, registry);
  } catch (const std::exception& e) {
    spdlog::error("refusing to start: {}", e.what());
    return 2;
  }
  ingest::IngestMetrics ingest_metrics(registry);
  HealthProber prober(options.postgres.dsn, kProbeInterval);
  std::vector<std::unique_ptr<ingest::StreamIngestor>> ingestors;
  std::unique_ptr<OpsMetrics> ops_metrics;
  try {
    start_embedded_broker(options, broker);
    ops_metrics = std::make_unique<OpsMetrics>(options, registry, kOpsMetricsInterval);
    for (const StreamTopic& s : stream_topics(options)) {
      ingestors.push_back(std::make_unique<ingest::StreamIngestor>(
          options, *s.pipeline, s.stream, s.topic,
          std::make_unique<ingest::PgIngestStore>(options.postgres.dsn, *s.pipeline, s.stream,
                                                  s.topic),
          ingest_metrics));
    }
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return 1;
  }
  auto& postgres_up = registry.gauge("ctd_postgres_up", "1 if PostgreSQL answered the last probe.");
  registry.on_collect([&] { postgres_up.get().set(prober.postgres_up() ? 1 : 0); });
  prober.probe_once();
  prober.start();
  ops_metrics->start();

  // The API reaches the leader loop (created below, stopped after the HTTP server) through
  // `leader`, null while there is none.
  std::atomic<LeaderLoop*> leader{nullptr};
  api::Database api_database(options.postgres.dsn);
  api::ApiContext api_context{options,
                              models->registry,
                              api_database,
                              [&leader](std::int64_t run_id, const std::string& why) {
                                LeaderLoop* loop = leader.load();
                                return loop != nullptr && loop->cancel(run_id, why);
                              },
                              {},
                              std::chrono::seconds(10)};
  for (const auto& p : options.pipelines)
    if (!p.triggers.triggers.empty())
      api_context.controls[p.name] = std::make_shared<loop::PipelineControl>();
  std::atomic<bool> stop{false};  // the drain has begun: intake stops, /readyz says 503
  boost::asio::io_context io;
  std::unique_ptr<http::HttpServer> server;
  try {
    http::ServerLimits limits;
    limits.max_body_bytes = kMaxBodyBytes;
    http::Router router =
        make_router(options, prober, registry, ingestors, stop, tokens, api_context);
    router.set_observer(request_metrics(registry));
    if (options.http.tls) limits.handshake_timeout = options.http.tls->handshake_timeout;
    server = std::make_unique<http::HttpServer>(io, options.http.listen_address, options.http.port,
                                                std::move(router), limits, tls_context);
  } catch (const std::exception& e) {
    spdlog::error("cannot listen on {}:{}: {}", options.http.listen_address, options.http.port,
                  e.what());
    return 1;
  }
  server->start();
  spdlog::info("HTTP endpoints on {}://{}:{} (/healthz, /readyz, /metrics, /v1; {} API token(s))",
               server->tls() ? "https" : "http", options.http.listen_address, server->port(),
               tokens->size());
  std::thread http_thread([&io] { io.run(); });

  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (auto& ingestor : ingestors) {
    threads.emplace_back([&stop, &failed, &ingestor] {
      try {
        ingestor->run(stop);
      } catch (const std::exception& e) {
        spdlog::error("{} {}: ingestion stopped: {}; shutting down", ingestor->pipeline(),
                      ingestor->topic(), e.what());
        failed = 1;
        kill(getpid(), SIGTERM);  // wakes the sigwait below
      }
    });
  }
  auto leader_loop = std::make_unique<LeaderLoop>(options, models->registry, *runs, registry,
                                                  dispatcher.get(), api_context.controls);
  leader = leader_loop.get();
  std::unique_ptr<alerts::AlertMonitor> alert_monitor;
  if (dispatcher) {
    alert_monitor = std::make_unique<alerts::AlertMonitor>(
        options.alerts, [&] { return observe(prober, *ops_metrics, ingest_metrics); }, *dispatcher);
  }
  spdlog::info("ctd running: {} pipeline(s), {} stream(s)", options.pipelines.size(),
               ingestors.size());
  notifier.ready(fmt::format("serving: {} pipeline(s), {} stream(s), HTTP on {}:{}",
                             options.pipelines.size(), ingestors.size(),
                             options.http.listen_address, server->port()));
  // The keep-alive is withheld once the HTTP thread stops running what is posted to it.
  std::atomic<std::uint64_t> io_posted{0}, io_ran{0};
  notifier.start_watchdog([&io, &io_posted, &io_ran] {
    if (io_ran.load() != io_posted.load()) return false;
    ++io_posted;
    boost::asio::post(io, [&io_ran] { ++io_ran; });
    return true;
  });

  int signal_number = 0;
  const TlsReloader reload_tls = tls_reloader(*server);
  while ((signal_number = wait_for_shutdown_signal(signals)) == SIGHUP) {
    spdlog::info("received SIGHUP, re-reading {}", flags.config_path);
    const ReloadResult reload = reload_config(flags.config_path, running_options, reload_tls);
    notifier.status(
        !reload.read                ? "serving; the last SIGHUP found configuration errors"
        : !reload.tls_error.empty() ? "serving; the TLS certificate did not reload: see the log"
        : reload.diff.needs_restart.empty() ? "serving; configuration reloaded"
                                            : "serving; changes need a restart: see the log");
  }
  const auto deadline = std::chrono::steady_clock::now() + options.shutdown.drain_timeout;
  const bool finish =
      options.shutdown.running_training == config::RunningTrainingOnShutdown::kFinish;
  spdlog::info("received {}, draining: {}", signal_name(signal_number), drain_plan(options));
  notifier.stopping("draining: " + drain_plan(options));
  stop = true;
  leader_loop->begin_drain("the daemon is draining: no new training starts");
  for (std::thread& t : threads) t.join();
  if (finish) finish_trainings(*leader_loop, signals, deadline, options.shutdown, notifier);
  notifier.stop_watchdog();
  // Before the leader loop, which the API's handlers reach: stops accepting, closes the
  // connections and waits for handlers still running on the server's worker threads.
  server.reset();
  io.stop();
  http_thread.join();
  leader = nullptr;
  alert_monitor.reset();
  leader_loop.reset();  // cancels what is still running
  // The loop's last alerts (a training cancelled by the drain) get a short chance to go out.
  if (dispatcher && !dispatcher->drain(std::chrono::seconds(2)))
    spdlog::warn("alerts still queued at shutdown are dropped");
  prober.stop();
  ops_metrics->stop();
  spdlog::info("ctd stopped");
  return failed ? 1 : 0;
}

}  // namespace ctd
