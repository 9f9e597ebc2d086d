#include "daemon/http_client.h"

#include <charconv>
#include <stdexcept>
#include <type_traits>

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace ctd::http {
namespace {

namespace beast = boost::beast;
namespace asio = boost::asio;
namespace bhttp = beast::http;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using Message = bhttp::request<bhttp::string_body>;
using Parser = bhttp::response_parser<bhttp::string_body>;

constexpr std::uint64_t kMaxResponseBody = 1024 * 1024;

// connect → (TLS handshake) → write → read, as a chain of asynchronous operations: Beast's
// stream timeouts apply to those only, and one deadline covers all of it.
template <class Stream>
class Exchange {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  Exchange(Stream& stream, Message& message, Parser& parser, std::string where)
      : stream_(stream), message_(message), parser_(parser), where_(std::move(where)) {}

  // "" when a response was read, else what failed.
  std::string run(asio::io_context& io, const asio::ip::tcp::resolver::results_type& endpoints,
                  std::chrono::milliseconds timeout) {
    beast::get_lowest_layer(stream_).expires_after(timeout);
    beast::get_lowest_layer(stream_).async_connect(
        endpoints, [this](const beast::error_code& error, const auto&) { on_connect(error); });
    io.run();
    return failure_;
  }

 private:
  void fail(const char* what, const beast::error_code& error) {
    failure_ = fmt::format("{}: {}: {}", where_, what,
                           error == beast::error::timeout ? "timed out" : error.message());
  }

  void on_connect(const beast::error_code& error) {
    if (error) return fail("cannot connect", error);
    if constexpr (kTls) {
      stream_.async_handshake(asio::ssl::stream_base::client,
                              [this](const beast::error_code& error) { on_handshake(error); });
    } else {
      send();
    }
  }

  void on_handshake(const beast::error_code& error) {
    if (!error) return send();
    fail("TLS handshake failed", error);
    if constexpr (kTls) {
      const std::string why = tls::verification_failure(stream_.native_handle());
      if (!why.empty()) failure_ += ": " + why;
    }
  }

  void send() {
    bhttp::async_write(stream_, message_, [this](const beast::error_code& error, std::size_t) {
      if (error) return fail("cannot send", error);
      bhttp::async_read(stream_, buffer_, parser_,
                        [this](const beast::error_code& error, std::size_t) {
                          if (error) fail("no response", error);
                        });
    });
  }

  Stream& stream_;
  Message& message_;
  Parser& parser_;
  beast::flat_buffer buffer_;
  std::string where_;
  std::string failure_;
};

}  // namespace

std::string HttpUrl::to_string() const {
  return fmt::format("{}://{}:{}{}", tls ? "https" : "http", host, port, target);
}

ParsedUrl parse_http_url(const std::string& text) {
  HttpUrl url;
  std::string rest;
  if (text.starts_with("https://")) {
    url.tls = true;
    url.port = 443;
    rest = text.substr(8);
  } else if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else {
    return {std::nullopt, "'" + text + "' is not an http:// or https:// URL"};
  }
  const std::size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  url.target = slash == std::string::npos ? "/" : rest.substr(slash);
  const std::size_t colon = authority.rfind(':');
  url.host = authority.substr(0, colon);
  if (colon != std::string::npos) {
    const std::string port = authority.substr(colon + 1);
    int value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
      return {std::nullopt, "'" + text + "' has an invalid port"};
    }
    url.port = static_cast<std::uint16_t>(value);
  }
  if (url.host.empty() || url.host.find('@') != std::string::npos) {
    return {std::nullopt, "'" + text + "' has no valid host"};
  }
  return {url, ""};
}

ClientResponse request(const std::string& method, const HttpUrl& url,
                       const std::map<std::string, std::string>& headers, const std::string& body,
                       std::chrono::milliseconds timeout, const tls::ClientTls& tls) {
  return request(method, url, headers, body, timeout, url.tls ? tls::client_context(tls) : nullptr);
}

ClientResponse request(const std::string& method, const HttpUrl& url,
                       const std::map<std::string, std::string>& headers, const std::string& body,
                       std::chrono::milliseconds timeout,
                       const std::shared_ptr<asio::ssl::context>& tls_context) {
  const std::string where = url.to_string();
  const bhttp::verb verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) throw std::invalid_argument("unknown method " + method);
  asio::io_context io;
  beast::error_code ec;
  asio::ip::tcp::resolver resolver(io);
  const auto endpoints = resolver.resolve(url.host, std::to_string(url.port), ec);
  if (ec) throw std::runtime_error(where + ": cannot resolve: " + ec.message());

  Message message(verb, url.target, 11);
  message.set(bhttp::field::host, url.host);
  message.set(bhttp::field::user_agent, "ctd");
  for (const auto& [name, value] : headers) message.set(name, value);
  message.body() = body;
  message.prepare_payload();

  Parser parser;
  parser.body_limit(kMaxResponseBody);
  std::string failure;
  if (url.tls) {
    const std::shared_ptr<asio::ssl::context> context =
        tls_context ? tls_context : tls::client_context({});
    TlsStream stream(io, *context);
    tls::expect_host(stream.native_handle(), url.host);
    failure = Exchange<TlsStream>(stream, message, parser, where).run(io, endpoints, timeout);
  } else {
    beast::tcp_stream stream(io);
    failure =
        Exchange<beast::tcp_stream>(stream, message, parser, where).run(io, endpoints, timeout);
    if (failure.empty()) stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  }
  if (!failure.empty()) throw std::runtime_error(failure);
  return {static_cast<int>(parser.get().result_int()), parser.get().body()};
}

}  // namespace ctd::http
