// ctd's embedded Kafka broker: librdkafka's Kafka-protocol mock cluster (rdkafka_mock.h),
// reachable over TCP on loopback by any real client (kcat, confluent-kafka, librdkafka).
// It supports produce, fetch, consumer groups and committed offsets; it keeps roughly the last
// 5 MB per partition and drops older data. For development, tests, benchmarks and demos only:
// data lives in memory and is gone when the broker stops.
//
// Thread-safety: create_topic() may be called from any thread; the cluster runs on
// librdkafka's own threads.
#pragma once

#include <memory>
#include <string>

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace ctd::kafka {

class EmbeddedBroker {
 public:
  // Starts a cluster of `brokers` brokers on random loopback ports; throws on failure.
  explicit EmbeddedBroker(int brokers = 1);
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  // "127.0.0.1:PORT[,...]" for clients' bootstrap.servers.
  const std::string& bootstrap_servers() const { return bootstrap_; }

  // Creates a topic (replication factor 1). Throws std::runtime_error on failure, e.g. a
  // topic that exists already.
  void create_topic(const std::string& name, int partitions);

 private:
  rd_kafka_s* handle_ = nullptr;
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
  std::string bootstrap_;
};

}  // namespace ctd::kafka
