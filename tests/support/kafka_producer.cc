#include "tests/support/kafka_producer.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <stdexcept>

namespace ctd::testing {
namespace {

std::atomic<int> delivery_failures{0};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  if (message->err) ++delivery_failures;
}

}  // namespace

TestProducer::TestProducer(const std::string& bootstrap_servers) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (auto [key, value] :
       {std::pair{"bootstrap.servers", bootstrap_servers.c_str()}, std::pair{"linger.ms", "5"},
        std::pair{"acks", "all"}, std::pair{"enable.idempotence", "true"}}) {
    if (rd_kafka_conf_set(conf, key, value, error, sizeof error) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(error);
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, &on_delivery);
  producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (!producer_) throw std::runtime_error(error);
}

TestProducer::~TestProducer() {
  rd_kafka_flush(producer_, 10000);
  rd_kafka_destroy(producer_);
}

void TestProducer::produce(const std::string& topic, std::string_view payload, int partition) {
  while (true) {
    rd_kafka_resp_err_t err =
        rd_kafka_producev(producer_, RD_KAFKA_V_TOPIC(topic.c_str()),
                          RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
                          RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      throw std::runtime_error(std::string("produce failed: ") + rd_kafka_err2str(err));
    }
    rd_kafka_poll(producer_, 100);
  }
  rd_kafka_poll(producer_, 0);
}

void TestProducer::flush() {
  if (rd_kafka_flush(producer_, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("flush timed out");
  }
  if (delivery_failures.exchange(0) != 0) throw std::runtime_error("some deliveries failed");
}

}  // namespace ctd::testing
