// A minimal blocking HTTP/1.1 client (Boost.Beast, plain TCP) for ctd's outgoing calls: alerts
// to Alertmanager and webhooks, and `ctd ctl` to the daemon's API. One request per connection, an
// overall deadline per request.
//
// Only http:// URLs: parse_http_url() says so for any other scheme, so a configuration with an
// https:// receiver is refused at start-up rather than sending in the clear.
//
// Thread-safety: the functions are reentrant; each call opens its own connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace ctd::http {

struct HttpUrl {
  std::string host;
  std::uint16_t port = 80;
  std::string target = "/";  // path and query
};

// "http://host[:port][/path]" → its parts; an error message otherwise.
struct ParsedUrl {
  std::optional<HttpUrl> url;
  std::string error;
};
ParsedUrl parse_http_url(const std::string& text);

struct ClientResponse {
  int status = 0;
  std::string body;
};

// Sends `method` (GET, POST, ...) with the headers (Content-Type included by the caller) and
// body to `url` and returns the response. Throws std::runtime_error naming the URL when the
// connection, the request or the response fails or the deadline passes.
ClientResponse request(const std::string& method, const HttpUrl& url,
                       const std::map<std::string, std::string>& headers, const std::string& body,
                       std::chrono::milliseconds timeout);

inline ClientResponse post(const HttpUrl& url, const std::map<std::string, std::string>& headers,
                           const std::string& body, std::chrono::milliseconds timeout) {
  return request("POST", url, headers, body, timeout);
}

}  // namespace ctd::http
