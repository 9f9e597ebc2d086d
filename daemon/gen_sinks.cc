#include "daemon/gen_sinks.h"

#include <librdkafka/rdkafka.h>

#include <iostream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "daemon/kafka_config.h"

namespace ctd::gen {
namespace {

constexpr int kFlushTimeoutMs = 120000;
constexpr int kAbandonTimeoutMs = 1000;
constexpr int kQueueFullPollMs = 100;

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  if (!message->err) return;
  auto* deliveries = static_cast<KafkaSink::Deliveries*>(opaque);
  if (deliveries->failed++ == 0) deliveries->first_error = rd_kafka_err2str(message->err);
}

}  // namespace

JsonLinesSink::JsonLinesSink(const std::string& path) : path_(path), out_(&std::cout) {
  if (path == "-") return;
  file_.open(path, std::ios::binary | std::ios::trunc);
  if (!file_) throw std::runtime_error("cannot create " + path);
  out_ = &file_;
}

void JsonLinesSink::send(const std::string& topic, const generators::Message& message) {
  *out_ << R"({"topic":)" << nlohmann::json(topic).dump() << R"(,"key":)"
        << nlohmann::json(message.key).dump() << R"(,"message":)" << message.payload << "}\n";
}

void JsonLinesSink::finish() {
  out_->flush();
  if (!*out_) throw std::runtime_error("writing " + path_ + " failed");
}

KafkaSink::KafkaSink(const std::string& brokers,
                     const std::map<std::string, std::string>& properties) {
  config::KafkaOptions options;
  options.brokers = brokers;
  options.properties = properties;
  rd_kafka_conf_t* conf =
      kafka::make_client_config(options, {{"linger.ms", "5"}, {"client.id", "ctd-gen"}},
                                {{"acks", "all"}, {"enable.idempotence", "true"}});
  rd_kafka_conf_set_dr_msg_cb(conf, &on_delivery);
  rd_kafka_conf_set_opaque(conf, &deliveries_);
  char error[512];
  producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (!producer_) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("kafka producer: ") + error);
  }
}

KafkaSink::~KafkaSink() {
  // After finish() nothing is left; after a failure, what is still queued is abandoned rather
  // than waited for (an unreachable cluster would hold the exit for the flush timeout).
  rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_flush(producer_, kAbandonTimeoutMs);
  rd_kafka_destroy(producer_);
}

void KafkaSink::send(const std::string& topic, const generators::Message& message) {
  while (true) {
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_, RD_KAFKA_V_TOPIC(topic.c_str()),
        RD_KAFKA_V_KEY(message.key.data(), message.key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(message.payload.data()), message.payload.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      throw std::runtime_error("producing to " + topic + " failed: " + rd_kafka_err2str(err));
    }
    rd_kafka_poll(producer_, kQueueFullPollMs);  // serves delivery reports, frees the queue
  }
  rd_kafka_poll(producer_, 0);
  if (deliveries_.failed > 0) {
    throw std::runtime_error("a delivery failed: " + deliveries_.first_error);
  }
}

void KafkaSink::finish() {
  if (rd_kafka_flush(producer_, kFlushTimeoutMs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("messages still undelivered after " +
                             std::to_string(kFlushTimeoutMs / 1000) + " s");
  }
  if (deliveries_.failed > 0) {
    throw std::runtime_error(std::to_string(deliveries_.failed) +
                             " message(s) not delivered: " + deliveries_.first_error);
  }
}

}  // namespace ctd::gen
