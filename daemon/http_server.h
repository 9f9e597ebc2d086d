// A small HTTP/1.1 server on Boost.Beast for ctd's health, readiness, metrics and (later)
// control endpoints.
//
// Roles as in Beast's examples: route handlers are plain functions from HttpRequest to
// HttpResponse that never touch a socket (testable alone); HttpServer owns the acceptor and one
// session per connection. Limits are explicit: header and body size, read timeout (no
// slowloris), a cap on concurrent connections, and over TLS a handshake timeout. The server
// runs on a caller-owned io_context; start()/stop()/replace_tls_context() may be called from
// any thread. Handlers run on the io_context's threads, except those registered with
// Execution::kWorker: they run on the server's own worker threads, so that a handler that waits
// (a database query, a manual trigger waiting for the leader's round) never holds up
// /healthz, /readyz or /metrics, which stay on the io thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace boost::asio::ssl {
class context;
}

namespace ctd::http {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // target without the query string
  std::map<std::string, std::string> query;    // decoded query parameters
  std::map<std::string, std::string> headers;  // header names lower-cased
  std::string body;
  // Path parameters of the matched route ("/v1/runs/{id}" -> {"id": "7"}), percent-decoded;
  // set by Router::handle.
  std::map<std::string, std::string> params;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;  // extra headers

  static HttpResponse json(int status, std::string body);
  static HttpResponse text(int status, std::string body);
  // {"error": {"code": code, "message": message}}
  static HttpResponse error(int status, const std::string& code, const std::string& message);
};

using Handler = std::function<HttpResponse(const HttpRequest&)>;

// Where a route's handler runs in HttpServer: on the io thread (quick, non-blocking handlers)
// or on a worker thread (handlers that may block). Router::handle itself always runs the
// handler in the calling thread.
enum class Execution { kInline, kWorker };

// Routing by path pattern: segments are literal or a `{name}` parameter that matches one
// non-empty segment ("/v1/models/{m}/versions/{v}"). When several patterns match, the one with
// the most literal segments wins. Unknown path: 404; known path, other method: 405 with an
// Allow header. A handler that throws yields 500 with the error JSON, never a crash.
class Router {
 public:
  struct RouteInfo {
    std::string method, pattern;
  };

  // Registering the same method and pattern twice is a wiring bug: std::invalid_argument.
  void add(const std::string& method, const std::string& pattern, Handler handler,
           Execution execution = Execution::kInline);
  HttpResponse handle(const HttpRequest& request) const;
  // The Execution of the route `request` would be dispatched to; kInline for an unknown path
  // or method (their 404 and 405 answers need no worker).
  Execution execution(const HttpRequest& request) const;
  std::vector<RouteInfo> routes() const;  // sorted by pattern, then method

  // Called after every handled request with its method, the matched route's pattern
  // ("unmatched" for a 404), the status and the handling time in seconds (metrics). Must be
  // thread-safe; set before the server starts.
  using Observer = std::function<void(const std::string& method, const std::string& route,
                                      int status, double seconds)>;
  void set_observer(Observer observer) { observer_ = std::move(observer); }

 private:
  struct Entry {
    Handler handler;
    Execution execution;
  };
  struct Route {
    std::string pattern;
    std::vector<std::string> segments;
    std::map<std::string, Entry> by_method;
  };
  HttpResponse dispatch(const HttpRequest& request, const Route*& route) const;

  Observer observer_;
  const Route* match(const std::string& path, std::map<std::string, std::string>& params) const;

  std::map<std::string, Route> routes_;  // pattern -> route
};

struct ServerLimits {
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;  // larger: 413
  std::chrono::seconds read_timeout{30};     // whole request must arrive within this
  std::chrono::seconds idle_timeout{60};     // keep-alive connection with no request
  std::size_t max_connections = 256;         // further connections are closed at accept
  // TLS only: the handshake must complete within this, so a client that connects and stays
  // silent (or speaks too slowly) is dropped before any request is read.
  std::chrono::seconds handshake_timeout{10};
  // Threads for the handlers registered with Execution::kWorker; 0 runs them on the io thread
  // like the others. A connection has at most one request in a handler at a time, so the work
  // queued here is bounded by max_connections.
  std::size_t worker_threads = 2;
};

class HttpServer {
 public:
  // Binds and listens immediately (throws std::system_error if it cannot); port 0 picks one.
  // With `tls` (daemon/tls.h's server_context) every connection must speak TLS: the limits
  // apply to it as to plain HTTP, after the handshake; a plain HTTP request (GET, HEAD, POST or
  // PUT: what OpenSSL recognises) gets one plain 400 (code tls_required), anything else that
  // is not TLS is closed.
  HttpServer(boost::asio::io_context& io, const std::string& address, std::uint16_t port,
             Router router, ServerLimits limits = {},
             std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  ~HttpServer();
  // Stops the server, then waits for the handlers still running on worker threads: what they
  // use must outlive the server.
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const;  // the bound port
  bool tls() const { return tls_; }
  void start();  // begin accepting
  void stop();   // stop accepting and close open connections

  // Connections accepted from now on use `context`; open ones keep theirs (certificate
  // rotation). REQUIRES: the server was built with TLS (std::logic_error otherwise).
  void replace_tls_context(std::shared_ptr<boost::asio::ssl::context> context);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  bool tls_ = false;
};

}  // namespace ctd::http
