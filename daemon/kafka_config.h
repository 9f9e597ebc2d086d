// Builds librdkafka client configurations: ctd's required settings, then the user's
// pass-through properties from kafka.properties (SASL, SSL, timeouts, ...), with librdkafka's
// log routed to spdlog. Properties that would break exactly-once ingestion (group.id,
// enable.auto.commit, enable.auto.offset.store) cannot be overridden.
#pragma once

#include <map>
#include <string>

#include "config/options.h"

struct rd_kafka_conf_s;

namespace ctd::kafka {

// The bootstrap servers clients use: kafka.brokers, or the embedded broker's address once it
// runs (set by the daemon before any consumer starts).
void set_embedded_bootstrap(const std::string& bootstrap);
std::string resolve_bootstrap(const config::KafkaOptions& options);

// `defaults` are applied before the user's properties, `fixed` after them; a user property
// that names a fixed key is an error. Throws std::runtime_error naming the property if
// librdkafka rejects one.
rd_kafka_conf_s* make_client_config(const config::KafkaOptions& options,
                                    const std::map<std::string, std::string>& defaults,
                                    const std::map<std::string, std::string>& fixed);

// An ingestion consumer in consumer group `group`: ctd's consumer defaults (listed in
// config/README.md under kafka.properties), then the user's properties, then group.id and
// auto commit and offset store off (offsets live in PostgreSQL).
rd_kafka_conf_s* make_ingest_consumer_config(const config::KafkaOptions& options,
                                             const std::string& group);

}  // namespace ctd::kafka
