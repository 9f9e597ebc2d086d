// A loopback TCP forwarder that gives the embedded broker a fixed, well-known bootstrap port
// (librdkafka's mock cluster always listens on random ports). Clients bootstrap through it,
// then connect to the broker addresses that the metadata advertises, as with any Kafka
// cluster. Runs on a caller-owned io_context.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

namespace ctd::kafka {

class BootstrapProxy {
 public:
  // Listens on 127.0.0.1:listen_port and forwards each connection to target ("host:port").
  // Throws std::system_error if the port cannot be bound.
  BootstrapProxy(boost::asio::io_context& io, std::uint16_t listen_port, const std::string& target);
  ~BootstrapProxy();
  std::uint16_t port() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ctd::kafka
