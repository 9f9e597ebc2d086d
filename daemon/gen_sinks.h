// Where `ctd gen` sends its messages: a JSON-lines file (no Kafka needed; for tests, oracles
// and replay) or Kafka topics through an idempotent librdkafka producer.
//
// Thread-safety: none; one sink per `ctd gen` run.
#pragma once

#include <fstream>
#include <map>
#include <memory>
#include <ostream>
#include <string>

#include "generators/messages.h"

struct rd_kafka_s;

namespace ctd::gen {

class MessageSink {
 public:
  virtual ~MessageSink() = default;
  // Sends one message to `topic`. Throws std::runtime_error when it cannot.
  virtual void send(const std::string& topic, const generators::Message& message) = 0;
  // Waits until everything sent is delivered (written, or acknowledged by the brokers).
  // Throws std::runtime_error naming the problem when something was not.
  virtual void finish() = 0;
};

// One line per message: {"topic": T, "key": K, "message": {...}}, the message's JSON as the
// consumer would receive it. `path` "-" is standard output.
class JsonLinesSink : public MessageSink {
 public:
  // Throws std::runtime_error if the file cannot be created.
  explicit JsonLinesSink(const std::string& path);
  void send(const std::string& topic, const generators::Message& message) override;
  void finish() override;

 private:
  std::string path_;
  std::ofstream file_;
  std::ostream* out_;
};

// Produces with acks=all and enable.idempotence=true (no duplicates or reordering on
// retries), key = the message's key (the sample id), so a sample's label and inference land
// in the same partition of their topics whatever the partition count. `properties` pass
// through to librdkafka (SASL, SSL, ...), as kafka.properties does for the daemon.
class KafkaSink : public MessageSink {
 public:
  // Throws std::runtime_error if librdkafka refuses the configuration.
  KafkaSink(const std::string& brokers, const std::map<std::string, std::string>& properties);
  ~KafkaSink() override;
  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;
  void send(const std::string& topic, const generators::Message& message) override;
  void finish() override;

  // Delivery results, counted by librdkafka's delivery report callback.
  struct Deliveries {
    std::uint64_t failed = 0;
    std::string first_error;
  };

 private:
  rd_kafka_s* producer_ = nullptr;
  Deliveries deliveries_;
};

}  // namespace ctd::gen
