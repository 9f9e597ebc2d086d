#include "daemon/embedded_broker.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <stdexcept>

namespace ctd::kafka {

EmbeddedBroker::EmbeddedBroker(int brokers) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only hosts the cluster; silence its own logging.
  rd_kafka_conf_set(conf, "log_level", "0", error, sizeof error);
  handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (!handle_) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("embedded broker: cannot create handle: ") + error);
  }
  cluster_ = rd_kafka_mock_cluster_new(handle_, brokers);
  if (!cluster_) {
    rd_kafka_destroy(handle_);
    throw std::runtime_error("embedded broker: cannot start the mock cluster");
  }
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
}

EmbeddedBroker::~EmbeddedBroker() {
  rd_kafka_mock_cluster_destroy(cluster_);
  rd_kafka_destroy(handle_);
}

void EmbeddedBroker::create_topic(const std::string& name, int partitions) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("embedded broker: cannot create topic '" + name +
                             "': " + rd_kafka_err2str(err));
  }
}

}  // namespace ctd::kafka
