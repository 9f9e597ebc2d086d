#include "daemon/http_client.h"

#include <charconv>
#include <stdexcept>

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace ctd::http {

namespace beast = boost::beast;
namespace asio = boost::asio;

ParsedUrl parse_http_url(const std::string& text) {
  constexpr std::string_view kScheme = "http://";
  if (!text.starts_with(kScheme)) {
    return {std::nullopt, "'" + text + "' is not an http:// URL (https is not supported yet)"};
  }
  const std::string rest = text.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  HttpUrl url;
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
                       std::chrono::milliseconds timeout) {
  const std::string where = fmt::format("http://{}:{}{}", url.host, url.port, url.target);
  const beast::http::verb verb = beast::http::string_to_verb(method);
  if (verb == beast::http::verb::unknown) throw std::invalid_argument("unknown method " + method);
  asio::io_context io;
  beast::error_code ec;
  asio::ip::tcp::resolver resolver(io);
  const auto endpoints = resolver.resolve(url.host, std::to_string(url.port), ec);
  if (ec) throw std::runtime_error(where + ": cannot resolve: " + ec.message());

  beast::http::request<beast::http::string_body> message(verb, url.target, 11);
  message.set(beast::http::field::host, url.host);
  message.set(beast::http::field::user_agent, "ctd");
  for (const auto& [name, value] : headers) message.set(name, value);
  message.body() = body;
  message.prepare_payload();

  // Beast's stream timeouts apply to asynchronous operations only, so the exchange runs as a
  // chain of them on a private io_context; the deadline covers all of it.
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  beast::http::response_parser<beast::http::string_body> parser;
  parser.body_limit(1024 * 1024);
  std::string failure;
  const auto fail = [&](const char* what, const beast::error_code& error) {
    failure = fmt::format("{}: {}: {}", where, what,
                          error == beast::error::timeout ? "timed out" : error.message());
  };
  stream.expires_after(timeout);
  stream.async_connect(endpoints, [&](const beast::error_code& error, const auto&) {
    if (error) return fail("cannot connect", error);
    beast::http::async_write(stream, message, [&](const beast::error_code& error, std::size_t) {
      if (error) return fail("cannot send", error);
      beast::http::async_read(stream, buffer, parser,
                              [&](const beast::error_code& error, std::size_t) {
                                if (error) fail("no response", error);
                              });
    });
  });
  io.run();
  if (!failure.empty()) throw std::runtime_error(failure);
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  return {static_cast<int>(parser.get().result_int()), parser.get().body()};
}

}  // namespace ctd::http
