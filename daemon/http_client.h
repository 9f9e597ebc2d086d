// A minimal blocking HTTP/1.1 client (Boost.Beast, plain TCP or TLS) for ctd's outgoing calls:
// alerts to Alertmanager and webhooks, and `ctd ctl` to the daemon's API. One request per
// connection, an overall deadline per request (TLS handshake included).
//
// https:// URLs always verify the server (daemon/tls.h): its certificate against the system's
// CA store or the CAs of ClientTls::ca_file, and its name against the URL's host (SNI and
// OpenSSL's host check, an IP address against the certificate's IP addresses). There is no way
// to turn that off; a failure names the URL and OpenSSL's reason.
//
// Thread-safety: the functions are reentrant; each call opens its own connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "daemon/tls.h"

namespace boost::asio::ssl {
class context;
}

namespace ctd::http {

struct HttpUrl {
  bool tls = false;  // https://
  std::string host;
  std::uint16_t port = 80;
  std::string target = "/";  // path and query

  // "https://host:port/target", for messages.
  std::string to_string() const;
};

// "http[s]://host[:port][/path]" → its parts (port 80 or 443 by default); an error message
// otherwise.
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
// body to `url` and returns the response; an https URL is verified with `tls_context`
// (tls::client_context; null: one trusting the system's CAs, made for this call). Throws
// std::runtime_error naming the URL when the connection, the TLS handshake (verification
// included), the request or the response fails or the deadline passes.
ClientResponse request(const std::string& method, const HttpUrl& url,
                       const std::map<std::string, std::string>& headers, const std::string& body,
                       std::chrono::milliseconds timeout,
                       const std::shared_ptr<boost::asio::ssl::context>& tls_context);

// The same with the context made from `tls` for this call (it loads the CA files each time:
// a caller that sends often keeps a context instead). Also throws tls::TlsError when `tls`
// names files that cannot be used.
ClientResponse request(const std::string& method, const HttpUrl& url,
                       const std::map<std::string, std::string>& headers, const std::string& body,
                       std::chrono::milliseconds timeout, const tls::ClientTls& tls = {});

inline ClientResponse post(const HttpUrl& url, const std::map<std::string, std::string>& headers,
                           const std::string& body, std::chrono::milliseconds timeout,
                           const std::shared_ptr<boost::asio::ssl::context>& tls_context) {
  return request("POST", url, headers, body, timeout, tls_context);
}

}  // namespace ctd::http
