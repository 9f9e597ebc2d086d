// A real librdkafka producer for tests: produces to the embedded broker like any client would.
// Thread-safety: produce() may be called from several threads (librdkafka is thread-safe).
#pragma once

#include <string>
#include <string_view>

struct rd_kafka_s;

namespace ctd::testing {

class TestProducer {
 public:
  explicit TestProducer(const std::string& bootstrap_servers);
  ~TestProducer();
  TestProducer(const TestProducer&) = delete;
  TestProducer& operator=(const TestProducer&) = delete;

  // Queues one message; partition -1 lets the partitioner choose. Blocks while the local
  // queue is full. Throws std::runtime_error on a permanent error.
  void produce(const std::string& topic, std::string_view payload, int partition = -1);
  // Waits until every queued message is acknowledged; throws if any delivery failed.
  void flush();

 private:
  rd_kafka_s* producer_ = nullptr;
};

}  // namespace ctd::testing
