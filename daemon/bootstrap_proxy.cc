#include "daemon/bootstrap_proxy.h"

#include <array>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

namespace ctd::kafka {
namespace {

using boost::asio::ip::tcp;

// One client connection and its upstream; each direction pumps independently and either
// side closing closes both.
class Tunnel : public std::enable_shared_from_this<Tunnel> {
 public:
  Tunnel(tcp::socket client, boost::asio::io_context& io)
      : client_(std::move(client)), upstream_(io) {}

  void start(const tcp::resolver::results_type& target) {
    boost::asio::async_connect(upstream_, target,
                               [self = shared_from_this()](auto error, const auto&) {
                                 if (error) return self->close();
                                 self->pump(self->client_, self->upstream_, self->to_upstream_);
                                 self->pump(self->upstream_, self->client_, self->to_client_);
                               });
  }

 private:
  using Buffer = std::array<char, 16384>;

  void pump(tcp::socket& from, tcp::socket& to, Buffer& buffer) {
    from.async_read_some(boost::asio::buffer(buffer), [self = shared_from_this(), &from, &to,
                                                       &buffer](auto error, std::size_t n) {
      if (error) return self->close();
      boost::asio::async_write(to, boost::asio::buffer(buffer.data(), n),
                               [self, &from, &to, &buffer](auto write_error, std::size_t) {
                                 if (write_error) return self->close();
                                 self->pump(from, to, buffer);
                               });
    });
  }

  void close() {
    boost::system::error_code ignored;
    client_.close(ignored);
    upstream_.close(ignored);
  }

  tcp::socket client_;
  tcp::socket upstream_;
  Buffer to_upstream_;
  Buffer to_client_;
};

}  // namespace

struct BootstrapProxy::Impl : std::enable_shared_from_this<Impl> {
  Impl(boost::asio::io_context& io, std::uint16_t port, tcp::resolver::results_type target)
      : io(io),
        acceptor(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port)),
        target(std::move(target)) {}

  void accept() {
    acceptor.async_accept([self = shared_from_this()](auto error, tcp::socket socket) {
      if (error) return;  // acceptor closed
      std::make_shared<Tunnel>(std::move(socket), self->io)->start(self->target);
      self->accept();
    });
  }

  boost::asio::io_context& io;
  tcp::acceptor acceptor;
  tcp::resolver::results_type target;
};

BootstrapProxy::BootstrapProxy(boost::asio::io_context& io, std::uint16_t listen_port,
                               const std::string& target) {
  const std::size_t colon = target.rfind(':');
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(target.substr(0, colon), target.substr(colon + 1));
  impl_ = std::make_shared<Impl>(io, listen_port, std::move(endpoints));
  impl_->accept();
}

BootstrapProxy::~BootstrapProxy() {
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
}

std::uint16_t BootstrapProxy::port() const { return impl_->acceptor.local_endpoint().port(); }

}  // namespace ctd::kafka
