// The ingestion consumer's librdkafka configuration: ctd's defaults, the user's overrides, and
// the settings exactly-once needs, which the user cannot change.
#include "daemon/kafka_config.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace ctd::kafka {
namespace {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using Conf = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

std::string get(const Conf& conf, const char* key) {
  char value[512];
  size_t size = sizeof value;
  if (rd_kafka_conf_get(conf.get(), key, value, &size) != RD_KAFKA_CONF_OK)
    throw std::runtime_error(std::string("no such property: ") + key);
  return value;
}

config::KafkaOptions options_with(std::map<std::string, std::string> properties) {
  config::KafkaOptions options;
  options.brokers = "127.0.0.1:9092";
  options.properties = std::move(properties);
  return options;
}

TEST(IngestConsumerConfig, HasCtdsDefaultsAndExactlyOnceSettings) {
  const Conf conf(make_ingest_consumer_config(options_with({}), "ctd.labels"));
  EXPECT_EQ(get(conf, "bootstrap.servers"), "127.0.0.1:9092");
  EXPECT_EQ(get(conf, "group.id"), "ctd.labels");
  EXPECT_EQ(get(conf, "fetch.max.bytes"), "8388608");
  EXPECT_EQ(get(conf, "queued.max.messages.kbytes"), "32768");
  EXPECT_EQ(get(conf, "fetch.wait.max.ms"), "10");
  // librdkafka reports its own name for the value: "smallest" is "earliest".
  EXPECT_EQ(get(conf, "auto.offset.reset"), "smallest");
  EXPECT_EQ(get(conf, "enable.auto.commit"), "false");
  EXPECT_EQ(get(conf, "enable.auto.offset.store"), "false");
}

TEST(IngestConsumerConfig, UserPropertiesOverrideTheDefaults) {
  const Conf conf(make_ingest_consumer_config(
      options_with({{"fetch.max.bytes", "52428800"}, {"auto.offset.reset", "latest"}}), "g"));
  EXPECT_EQ(get(conf, "fetch.max.bytes"), "52428800");
  EXPECT_EQ(get(conf, "auto.offset.reset"), "largest");  // librdkafka's name for "latest"
  EXPECT_EQ(get(conf, "fetch.wait.max.ms"), "10");       // untouched defaults stay
}

TEST(IngestConsumerConfig, SettingsExactlyOnceNeedsAreRefused) {
  for (const char* key : {"group.id", "enable.auto.commit", "enable.auto.offset.store"}) {
    try {
      Conf conf(make_ingest_consumer_config(options_with({{key, "x"}}), "g"));
      ADD_FAILURE() << key << " was accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()),
                std::string("kafka property '") + key + "' is managed by ctd and cannot be set");
    }
  }
}

TEST(IngestConsumerConfig, AValueLibrdkafkaRejectsNamesTheProperty) {
  try {
    Conf conf(make_ingest_consumer_config(options_with({{"fetch.max.bytes", "many"}}), "g"));
    ADD_FAILURE() << "an invalid fetch.max.bytes was accepted";
  } catch (const std::runtime_error& e) {
    // ctd's prefix, then librdkafka's own reason.
    const std::string prefix = "kafka property 'fetch.max.bytes': ";
    const std::string message = e.what();
    EXPECT_EQ(message.substr(0, prefix.size()), prefix) << message;
    EXPECT_GT(message.size(), prefix.size() + 5) << message;
  }
}

}  // namespace
}  // namespace ctd::kafka
