#include "daemon/kafka_config.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <stdexcept>

namespace ctd::kafka {
namespace {

std::mutex bootstrap_mutex;
std::string embedded_bootstrap;

void log_callback(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  const spdlog::level::level_enum mapped = level <= 3   ? spdlog::level::err
                                           : level == 4 ? spdlog::level::warn
                                           : level <= 6 ? spdlog::level::info
                                                        : spdlog::level::debug;
  spdlog::log(mapped, "kafka {} {}: {}", rd_kafka_name(rk), facility, message);
}

void set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char error[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof error) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error("kafka property '" + key + "': " + error);
  }
}

}  // namespace

void set_embedded_bootstrap(const std::string& bootstrap) {
  std::lock_guard lock(bootstrap_mutex);
  embedded_bootstrap = bootstrap;
}

std::string resolve_bootstrap(const config::KafkaOptions& options) {
  if (options.brokers != "embedded") return options.brokers;
  std::lock_guard lock(bootstrap_mutex);
  if (embedded_bootstrap.empty()) {
    throw std::runtime_error("kafka.brokers is 'embedded' but no embedded broker runs");
  }
  return embedded_bootstrap;
}

rd_kafka_conf_s* make_client_config(const config::KafkaOptions& options,
                                    const std::map<std::string, std::string>& defaults,
                                    const std::map<std::string, std::string>& fixed) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, &log_callback);
  set(conf, "bootstrap.servers", resolve_bootstrap(options));
  set(conf, "client.id", "ctd");
  for (const auto& [key, value] : defaults) set(conf, key, value);
  for (const auto& [key, value] : options.properties) {
    if (fixed.count(key)) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error("kafka property '" + key + "' is managed by ctd and cannot be set");
    }
    set(conf, key, value);
  }
  for (const auto& [key, value] : fixed) set(conf, key, value);
  return conf;
}

rd_kafka_conf_s* make_ingest_consumer_config(const config::KafkaOptions& options,
                                             const std::string& group) {
  // fetch.max.bytes: librdkafka's 52 MB default makes each fetch response (which the queued
  // messages point into) a fresh mmap of up to 52 MB that the kernel zero-fills; 8 MB cut
  // ctd's CPU for 1M samples from 3.8 s to 2.7-3.2 s and its peak RSS by 30 MB
  // (docs/benchmarks.md "Ingest"). It is a soft limit: a larger message is still fetched.
  return make_client_config(options,
                            {{"auto.offset.reset", "earliest"},
                             {"queued.max.messages.kbytes", "32768"},
                             {"fetch.max.bytes", "8388608"},
                             {"fetch.wait.max.ms", "10"}},
                            {{"group.id", group},
                             {"enable.auto.commit", "false"},
                             {"enable.auto.offset.store", "false"}});
}

}  // namespace ctd::kafka
