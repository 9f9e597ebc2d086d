// HttpServer on Boost.Beast, in the shape of Beast's "advanced server" example: Impl is the
// listener (acceptor, connection cap, the list of open sessions for stop(), the current TLS
// context), Session owns one connection on its own strand and (after the TLS handshake) reads,
// dispatches to the Router and writes, one request at a time. Everything a session touches from
// the server is immutable and shared (the Router, its TLS context) or copied (the limits), so a
// session may outlive the HttpServer object.
#include "daemon/http_server.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

namespace ctd::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using BeastRequest = bhttp::request<bhttp::string_body>;
using BeastResponse = bhttp::response<bhttp::string_body>;

constexpr std::size_t kIdleReadChunk = 4096;
// After an error response we half-close and discard what the client still sends, so that
// closing with unread data (which sends RST) cannot destroy the response before it is read.
constexpr std::chrono::seconds kLingerTimeout{2};
// Backoff after a failed accept (e.g. out of file descriptors) instead of spinning.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
constexpr unsigned kDefaultHttpVersion = 11;

// ---------------------------------------------------------------------------------------------
// Request translation (no sockets).

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding: %XX and '+' as space. A malformed escape is
// kept literally rather than rejected.
std::string percent_decode(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t index = 0; index < text.size(); ++index) {
    const char c = text[index];
    const int high = index + 2 < text.size() ? hex_value(text[index + 1]) : -1;
    const int low = index + 2 < text.size() ? hex_value(text[index + 2]) : -1;
    if (c == '%' && high >= 0 && low >= 0) {
      decoded += static_cast<char>(high * 16 + low);
      index += 2;
    } else {
      decoded += c == '+' ? ' ' : c;
    }
  }
  return decoded;
}

// "a=1&b=x+y&flag": a later duplicate key replaces an earlier one; a key without '=' maps to "".
std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> parameters;
  while (!query.empty()) {
    const std::size_t end = std::min(query.find('&'), query.size());
    const std::string_view pair = query.substr(0, end);
    query.remove_prefix(std::min(end + 1, query.size()));
    if (pair.empty()) continue;
    const std::size_t equals = std::min(pair.find('='), pair.size());
    const std::string_view value = equals < pair.size() ? pair.substr(equals + 1) : "";
    parameters.insert_or_assign(percent_decode(pair.substr(0, equals)), percent_decode(value));
  }
  return parameters;
}

std::string lower_case(std::string_view text) {
  std::string lowered(text);
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lowered;
}

// Beast 1.74 speaks boost::string_view.
std::string_view to_std(beast::string_view view) { return {view.data(), view.size()}; }

HttpRequest to_request(BeastRequest& beast_request) {
  HttpRequest request;
  request.method = std::string(to_std(beast_request.method_string()));
  const std::string_view target = to_std(beast_request.target());
  const std::size_t question = std::min(target.find('?'), target.size());
  request.path = std::string(target.substr(0, question));
  if (question < target.size()) request.query = parse_query(target.substr(question + 1));
  for (const auto& field : beast_request) {
    const std::string_view value = to_std(field.value());
    auto [entry, inserted] =
        request.headers.try_emplace(lower_case(to_std(field.name_string())), value);
    if (!inserted) (entry->second += ", ") += value;  // repeated header: RFC 9110 list
  }
  request.body = std::move(beast_request.body());
  return request;
}

BeastResponse to_beast_response(const HttpResponse& response, unsigned version, bool keep_alive) {
  BeastResponse beast_response;
  beast_response.version(version);
  const bool valid_status = response.status >= 100 && response.status <= 999;
  beast_response.result(static_cast<unsigned>(valid_status ? response.status : 500));
  beast_response.set(bhttp::field::server, "ctd");
  beast_response.set(bhttp::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) beast_response.set(name, value);
  beast_response.body() = response.body;
  beast_response.keep_alive(keep_alive);
  beast_response.prepare_payload();
  return beast_response;
}

bool is_http_protocol_error(const beast::error_code& error) {
  return error.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

// ---------------------------------------------------------------------------------------------
// One connection, over plain TCP or TLS. All member functions but close() run on the
// connection's strand.

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// What the listener needs of a session: closing it at stop().
class Connection {
 public:
  virtual ~Connection() = default;
  // Thread-safe: closes the connection on its strand; pending operations end with an error.
  virtual void close() = 0;
};

// The handshake failed because the client spoke plain HTTP (OpenSSL recognises the request line).
bool is_plain_http(const beast::error_code& error) {
  return error.category() == asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(error.value())) == SSL_R_HTTP_REQUEST;
}

template <class Stream>
class Session : public Connection, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  // `context` (TLS only) is kept for as long as the connection, whatever the listener does.
  // `workers` (null: none) runs the handlers of Execution::kWorker routes.
  Session(tcp::socket&& socket, std::shared_ptr<asio::ssl::context> context,
          std::shared_ptr<const Router> router, const ServerLimits& limits,
          std::shared_ptr<asio::thread_pool> workers)
      : context_(std::move(context)),
        stream_(make_stream(std::move(socket), context_.get())),
        router_(std::move(router)),
        limits_(limits),
        workers_(std::move(workers)) {}

  void run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::start, this->shared_from_this()));
  }

  void close() override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      beast::error_code ignored;
      self->transport().socket().shutdown(tcp::socket::shutdown_both, ignored);
      self->transport().close();
    });
  }

 private:
  enum class AfterWrite { kKeepAlive, kClose, kLingerClose };

  static Stream make_stream(tcp::socket&& socket, asio::ssl::context* context) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *context);
    } else {
      return Stream(std::move(socket));
    }
  }

  // The TCP layer: its deadline bounds every operation, TLS records included.
  beast::tcp_stream& transport() { return beast::get_lowest_layer(stream_); }

  // A TLS client must complete its handshake within handshake_timeout, or it is dropped.
  void start() {
    if constexpr (kTls) {
      transport().expires_after(limits_.handshake_timeout);
      stream_.async_handshake(
          asio::ssl::stream_base::server,
          beast::bind_front_handler(&Session::on_handshake, this->shared_from_this()));
    } else {
      do_read();
    }
  }

  void on_handshake(beast::error_code error) {
    if (is_plain_http(error)) return refuse_plain_http();
    if (error) return;  // timeout, not TLS, or a client certificate that was refused
    do_read();
  }

  // Plain HTTP on the TLS port: one plain-text answer saying so, instead of a silent close.
  void refuse_plain_http() {
    plain_refusal_ = to_beast_response(
        HttpResponse::error(400, "tls_required", "this port speaks HTTPS; use an https:// URL"),
        kDefaultHttpVersion, false);
    transport().expires_after(std::min(limits_.read_timeout, kLingerTimeout));
    bhttp::async_write(transport(), plain_refusal_,
                       [self = this->shared_from_this()](beast::error_code error, std::size_t) {
                         if (error) return;
                         beast::error_code ignored;
                         self->transport().socket().shutdown(tcp::socket::shutdown_send, ignored);
                         self->do_discard_plain();
                       });
  }

  void do_discard_plain() {
    transport().async_read_some(asio::buffer(discard_), [self = this->shared_from_this()](
                                                            beast::error_code error, std::size_t) {
      if (!error) self->do_discard_plain();
    });
  }

  // Keep-alive: wait up to idle_timeout for the first bytes of the next request.
  void do_wait_for_request() {
    if (buffer_.size() > 0) return do_read();  // pipelined request already buffered
    transport().expires_after(limits_.idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(kIdleReadChunk),
        beast::bind_front_handler(&Session::on_first_bytes, this->shared_from_this()));
  }

  void on_first_bytes(beast::error_code error, std::size_t bytes) {
    if (error) return;  // idle timeout, peer closed or stop(): the session ends
    buffer_.commit(bytes);
    do_read();
  }

  // The whole request (header and body) must arrive within read_timeout.
  void do_read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(
        limits_.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser_->body_limit(limits_.max_body_bytes);
    transport().expires_after(limits_.read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code error, std::size_t /*bytes*/) {
    if (error == bhttp::error::end_of_stream) return do_close();
    if (error == bhttp::error::body_limit) {
      return respond_and_close(HttpResponse::error(413, "payload_too_large", "body too large"));
    }
    if (error == bhttp::error::header_limit) {
      return respond_and_close(HttpResponse::error(431, "header_too_large", "header too large"));
    }
    if (is_http_protocol_error(error)) {
      return respond_and_close(HttpResponse::error(400, "bad_request", error.message()));
    }
    if (error) return;  // read timeout (the stream is closed already), reset or stop()
    BeastRequest& request = parser_->get();
    const unsigned version = request.version();
    const bool keep_alive = request.keep_alive();
    const AfterWrite after = keep_alive ? AfterWrite::kKeepAlive : AfterWrite::kClose;
    HttpRequest routed = to_request(request);
    if (workers_ && router_->execution(routed) == Execution::kWorker) {
      // No timer runs meanwhile (no operation is pending); the write sets its own deadline.
      return asio::post(
          *workers_, [self = this->shared_from_this(), routed = std::move(routed), version, after] {
            HttpResponse response = self->router_->handle(routed);
            asio::post(self->stream_.get_executor(),
                       [self, response = std::move(response), version, after] {
                         self->write(response, version, after);
                       });
          });
    }
    write(router_->handle(routed), version, after);
  }

  void respond_and_close(const HttpResponse& response) {
    write(response, kDefaultHttpVersion, AfterWrite::kLingerClose);
  }

  void write(const HttpResponse& response, unsigned version, AfterWrite after) {
    response_ = to_beast_response(response, version, after == AfterWrite::kKeepAlive);
    transport().expires_after(limits_.read_timeout);  // a client that never reads cannot pin us
    bhttp::async_write(
        stream_, response_,
        beast::bind_front_handler(&Session::on_write, this->shared_from_this(), after));
  }

  void on_write(AfterWrite after, beast::error_code error, std::size_t /*bytes*/) {
    if (error) return;
    if (after == AfterWrite::kKeepAlive) return do_wait_for_request();
    if (after == AfterWrite::kClose) return do_close();
    // Plain: half-closed at once. TLS: no close_notify, which would stop us reading what the
    // client still sends; it has the whole response (Content-Length, Connection: close).
    if constexpr (!kTls) do_close();
    transport().expires_after(std::min(limits_.read_timeout, kLingerTimeout));
    do_discard();
  }

  void do_discard() {
    stream_.async_read_some(
        asio::buffer(discard_),
        beast::bind_front_handler(&Session::on_discard, this->shared_from_this()));
  }

  void on_discard(beast::error_code error, std::size_t /*bytes*/) {
    if (!error) do_discard();  // until EOF, error or the linger deadline
  }

  // Plain: half-close, the peer reads our FIN after the response; the socket closes with the
  // session. TLS: close_notify, then a bounded wait for the peer's.
  void do_close() {
    if constexpr (kTls) {
      transport().expires_after(std::min(limits_.read_timeout, kLingerTimeout));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ignored;
      transport().socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  const std::shared_ptr<asio::ssl::context> context_;  // before stream_: outlives it
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  BeastResponse response_;       // kept alive until its write completes
  BeastResponse plain_refusal_;  // likewise, the answer to plain HTTP on the TLS port
  std::array<char, kIdleReadChunk> discard_{};
  const std::shared_ptr<const Router> router_;
  const ServerLimits limits_;
  const std::shared_ptr<asio::thread_pool> workers_;
};

std::system_error to_system_error(const beast::error_code& error, const std::string& what) {
  return std::system_error(static_cast<std::error_code>(error), what);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Responses and routing.

HttpResponse HttpResponse::json(int status, std::string body) {
  return HttpResponse{status, "application/json", std::move(body), {}};
}

HttpResponse HttpResponse::text(int status, std::string body) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(body), {}};
}

HttpResponse HttpResponse::error(int status, const std::string& code, const std::string& message) {
  const nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  // `replace`: a message with invalid UTF-8 (e.g. from an exception) must not throw here.
  return json(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segments;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    const std::size_t slash = std::min(path.find('/'), path.size());
    segments.emplace_back(path.substr(0, slash));
    if (slash == path.size()) return segments;
    path.remove_prefix(slash + 1);
  }
}

bool is_parameter(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// Percent-decoding of a path segment ('+' stays itself there).
std::string decode_segment(std::string_view text) {
  std::string decoded;
  for (std::size_t index = 0; index < text.size(); ++index) {
    const int high = index + 2 < text.size() ? hex_value(text[index + 1]) : -1;
    const int low = index + 2 < text.size() ? hex_value(text[index + 2]) : -1;
    if (text[index] == '%' && high >= 0 && low >= 0) {
      decoded += static_cast<char>(high * 16 + low);
      index += 2;
    } else {
      decoded += text[index];
    }
  }
  return decoded;
}

}  // namespace

void Router::add(const std::string& method, const std::string& pattern, Handler handler,
                 Execution execution) {
  Route& route = routes_[pattern];
  if (route.segments.empty()) route.segments = split_path(pattern);
  route.pattern = pattern;
  const bool inserted =
      route.by_method.try_emplace(method, Entry{std::move(handler), execution}).second;
  if (!inserted) throw std::invalid_argument("route registered twice: " + method + " " + pattern);
}

const Router::Route* Router::match(const std::string& path,
                                   std::map<std::string, std::string>& params) const {
  const std::vector<std::string> segments = split_path(path);
  const Route* best = nullptr;
  int best_literals = -1;
  for (const auto& [pattern, route] : routes_) {
    if (route.segments.size() != segments.size()) continue;
    int literals = 0;
    bool matches = true;
    for (std::size_t i = 0; matches && i < segments.size(); ++i) {
      if (is_parameter(route.segments[i])) {
        matches = !segments[i].empty();
      } else {
        matches = route.segments[i] == segments[i];
        ++literals;
      }
    }
    if (matches && literals > best_literals) {
      best = &route;
      best_literals = literals;
    }
  }
  if (best == nullptr) return nullptr;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string& name = best->segments[i];
    if (is_parameter(name)) params[name.substr(1, name.size() - 2)] = decode_segment(segments[i]);
  }
  return best;
}

std::vector<Router::RouteInfo> Router::routes() const {
  std::vector<RouteInfo> out;
  for (const auto& [pattern, route] : routes_)
    for (const auto& [method, handler] : route.by_method) out.push_back({method, pattern});
  return out;
}

Execution Router::execution(const HttpRequest& request) const {
  std::map<std::string, std::string> params;
  const Route* route = match(request.path, params);
  if (route == nullptr) return Execution::kInline;
  const auto entry = route->by_method.find(request.method);
  return entry == route->by_method.end() ? Execution::kInline : entry->second.execution;
}

HttpResponse Router::handle(const HttpRequest& request) const {
  const auto start = std::chrono::steady_clock::now();
  const Route* route = nullptr;
  HttpResponse response = dispatch(request, route);
  if (observer_) {
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    observer_(request.method, route ? route->pattern : "unmatched", response.status, took.count());
  }
  return response;
}

HttpResponse Router::dispatch(const HttpRequest& request, const Route*& route) const {
  std::map<std::string, std::string> params;
  route = match(request.path, params);
  if (route == nullptr) {
    return HttpResponse::error(404, "not_found", "no route for " + request.path);
  }
  const auto handler = route->by_method.find(request.method);
  if (handler == route->by_method.end()) {
    std::string allow;
    for (const auto& [method, unused] : route->by_method) {
      allow += allow.empty() ? method : ", " + method;
    }
    HttpResponse response = HttpResponse::error(405, "method_not_allowed",
                                                request.method + " not allowed on " + request.path);
    response.headers["Allow"] = allow;
    return response;
  }
  try {
    if (params.empty()) return handler->second.handler(request);
    HttpRequest routed = request;
    routed.params = std::move(params);
    return handler->second.handler(routed);
  } catch (const std::exception& exception) {
    return HttpResponse::error(500, "internal", exception.what());
  } catch (...) {
    return HttpResponse::error(500, "internal", "unknown error");
  }
}

// ---------------------------------------------------------------------------------------------
// The listener. `mutex` serialises every use of the acceptor (start, stop and the accept
// completion on an io thread) and of the session list.

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& io, Router router, const ServerLimits& limits,
       std::shared_ptr<asio::ssl::context> tls)
      : io(io),
        router(std::make_shared<const Router>(std::move(router))),
        limits(limits),
        tls_context(std::move(tls)),
        workers(limits.worker_threads > 0
                    ? std::make_shared<asio::thread_pool>(limits.worker_threads)
                    : nullptr),
        acceptor(io),
        retry_timer(io) {}

  void open(const std::string& address, std::uint16_t requested_port) {
    beast::error_code error;
    const auto ip = asio::ip::make_address(address, error);
    if (error) throw to_system_error(error, "http: bad listen address '" + address + "'");
    const tcp::endpoint endpoint(ip, requested_port);
    acceptor.open(endpoint.protocol(), error);
    if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
    if (!error) acceptor.bind(endpoint, error);
    if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
    if (error) {
      throw to_system_error(
          error, "http: cannot listen on " + address + ":" + std::to_string(requested_port));
    }
    port = acceptor.local_endpoint().port();
  }

  void start() {
    std::lock_guard lock(mutex);
    if (accepting || stopped) return;
    accepting = true;
    do_accept();
  }

  // REQUIRES: mutex held.
  void do_accept() {
    acceptor.async_accept(asio::make_strand(io),
                          beast::bind_front_handler(&Impl::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code error, tcp::socket socket) {
    std::lock_guard lock(mutex);
    if (stopped) return;  // `socket` closes as it goes out of scope
    if (error) return retry_accept_later();
    admit(std::move(socket));
    do_accept();
  }

  // REQUIRES: mutex held.
  void retry_accept_later() {
    retry_timer.expires_after(kAcceptRetryDelay);
    retry_timer.async_wait([self = shared_from_this()](beast::error_code error) {
      std::lock_guard lock(self->mutex);
      if (!error && !self->stopped) self->do_accept();
    });
  }

  // REQUIRES: mutex held. Over the cap the new socket is closed without a response.
  void admit(tcp::socket socket) {
    std::erase_if(sessions,
                  [](const std::weak_ptr<Connection>& session) { return session.expired(); });
    if (sessions.size() >= limits.max_connections) return;
    if (tls_context) {
      auto session = std::make_shared<Session<TlsStream>>(std::move(socket), tls_context, router,
                                                          limits, workers);
      sessions.push_back(session);
      session->run();
    } else {
      auto session = std::make_shared<Session<PlainStream>>(std::move(socket), nullptr, router,
                                                            limits, workers);
      sessions.push_back(session);
      session->run();
    }
  }

  void replace_tls_context(std::shared_ptr<asio::ssl::context> context) {
    if (!context) throw std::invalid_argument("http: no TLS context given");
    std::lock_guard lock(mutex);
    if (!tls_context) throw std::logic_error("http: a plain HTTP server cannot switch to TLS");
    tls_context = std::move(context);
  }

  void stop() {
    std::vector<std::shared_ptr<Connection>> open_sessions;
    {
      std::lock_guard lock(mutex);
      if (stopped) return;
      stopped = true;
      beast::error_code ignored;
      acceptor.close(ignored);
      retry_timer.cancel();
      for (const auto& weak : sessions) {
        if (auto session = weak.lock()) open_sessions.push_back(std::move(session));
      }
      sessions.clear();
    }
    for (const auto& session : open_sessions) session->close();
  }

  asio::io_context& io;
  const std::shared_ptr<const Router> router;
  const ServerLimits limits;
  std::uint16_t port = 0;

  std::mutex mutex;
  std::shared_ptr<asio::ssl::context> tls_context;   // null: plain HTTP; replaceable, not removable
  const std::shared_ptr<asio::thread_pool> workers;  // null: every handler on the io thread
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer;
  std::vector<std::weak_ptr<Connection>> sessions;  // expired entries pruned at accept
  bool accepting = false;
  bool stopped = false;  // final: a stopped server does not start again
};

HttpServer::HttpServer(boost::asio::io_context& io, const std::string& address, std::uint16_t port,
                       Router router, ServerLimits limits,
                       std::shared_ptr<boost::asio::ssl::context> tls)
    : impl_(std::make_shared<Impl>(io, std::move(router), limits, std::move(tls))),
      tls_(impl_->tls_context != nullptr) {
  impl_->open(address, port);
}

HttpServer::~HttpServer() {
  impl_->stop();
  if (impl_->workers) impl_->workers->join();  // handlers still running finish first
}

std::uint16_t HttpServer::port() const { return impl_->port; }

void HttpServer::start() { impl_->start(); }

void HttpServer::stop() { impl_->stop(); }

void HttpServer::replace_tls_context(std::shared_ptr<boost::asio::ssl::context> context) {
  impl_->replace_tls_context(std::move(context));
}

}  // namespace ctd::http
