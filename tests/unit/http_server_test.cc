#include "daemon/http_server.h"

#include <poll.h>

#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace ctd::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using ClientRequest = bhttp::request<bhttp::string_body>;
using ClientResponse = bhttp::response<bhttp::string_body>;

// Upper bound on any single wait in these tests, so a broken server fails instead of hanging.
constexpr std::chrono::seconds kWaitBound{10};

std::string field(const ClientResponse& response, bhttp::field name) {
  const auto value = response[name];
  return std::string(value.data(), value.size());
}

std::string field(const ClientResponse& response, const char* name) {
  const auto value = response[name];
  return std::string(value.data(), value.size());
}

// ---------------------------------------------------------------------------------------------
// Router alone.

HttpRequest make_request(std::string method, std::string path) {
  HttpRequest request;
  request.method = std::move(method);
  request.path = std::move(path);
  return request;
}

nlohmann::json error_of(const HttpResponse& response) {
  return nlohmann::json::parse(response.body).at("error");
}

TEST(RouterTest, DispatchesOnExactPathAndMethod) {
  Router router;
  router.add("GET", "/status", [](const HttpRequest& request) {
    return HttpResponse::text(200, "ok " + request.query.at("verbose"));
  });
  HttpRequest request = make_request("GET", "/status");
  request.query["verbose"] = "yes";

  const HttpResponse response = router.handle(request);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "ok yes");
  EXPECT_EQ(response.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(router.handle(make_request("GET", "/status/")).status, 404);
}

TEST(RouterTest, UnknownPathIs404WithErrorJson) {
  Router router;
  router.add("GET", "/healthz", [](const HttpRequest&) { return HttpResponse::json(200, "{}"); });

  const HttpResponse response = router.handle(make_request("GET", "/nope"));
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(error_of(response).at("code"), "not_found");
}

TEST(RouterTest, WrongMethodIs405WithAllowHeader) {
  Router router;
  const Handler ok = [](const HttpRequest&) { return HttpResponse::json(200, "{}"); };
  router.add("POST", "/runs", ok);
  router.add("GET", "/runs", ok);

  const HttpResponse response = router.handle(make_request("DELETE", "/runs"));
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.headers.at("Allow"), "GET, POST");
  EXPECT_EQ(error_of(response).at("code"), "method_not_allowed");
}

TEST(RouterTest, ThrowingHandlerIs500WithMessage) {
  Router router;
  router.add("GET", "/boom", [](const HttpRequest&) -> HttpResponse {
    throw std::runtime_error("registry unreachable");
  });
  router.add("GET", "/int", [](const HttpRequest&) -> HttpResponse { throw 42; });

  const HttpResponse response = router.handle(make_request("GET", "/boom"));
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(error_of(response).at("code"), "internal");
  EXPECT_EQ(error_of(response).at("message"), "registry unreachable");
  EXPECT_EQ(router.handle(make_request("GET", "/int")).status, 500);
}

TEST(RouterTest, TheObserverSeesEveryRequestByRoutePattern) {
  Router router;
  router.add("GET", "/v1/runs/{id}", [](const HttpRequest& request) {
    return HttpResponse::json(request.params.at("id") == "7" ? 200 : 404, "{}");
  });
  router.add("GET", "/boom", [](const HttpRequest&) -> HttpResponse { throw 1; });
  std::vector<std::string> seen;
  router.set_observer(
      [&](const std::string& method, const std::string& route, int status, double seconds) {
        EXPECT_GE(seconds, 0.0);
        seen.push_back(method + " " + route + " " + std::to_string(status));
      });
  router.handle(make_request("GET", "/v1/runs/7"));
  router.handle(make_request("GET", "/v1/runs/8"));
  router.handle(make_request("POST", "/v1/runs/7"));
  router.handle(make_request("GET", "/boom"));
  router.handle(make_request("GET", "/nope"));
  EXPECT_EQ(seen, (std::vector<std::string>{"GET /v1/runs/{id} 200", "GET /v1/runs/{id} 404",
                                            "POST /v1/runs/{id} 405", "GET /boom 500",
                                            "GET unmatched 404"}));
}

TEST(RouterTest, DuplicateRouteIsRejected) {
  Router router;
  const Handler ok = [](const HttpRequest&) { return HttpResponse::json(200, "{}"); };
  router.add("GET", "/a", ok);
  EXPECT_THROW(router.add("GET", "/a", ok), std::invalid_argument);
}

TEST(RouterTest, ExecutionIsTheMatchedRoutesAndInlineOtherwise) {
  Router router;
  const Handler ok = [](const HttpRequest&) { return HttpResponse::text(200, "ok"); };
  router.add("GET", "/quick", ok);
  router.add("GET", "/v1/things/{id}", ok, Execution::kWorker);
  EXPECT_EQ(router.execution(make_request("GET", "/quick")), Execution::kInline);
  EXPECT_EQ(router.execution(make_request("GET", "/v1/things/7")), Execution::kWorker);
  EXPECT_EQ(router.execution(make_request("POST", "/v1/things/7")), Execution::kInline);  // 405
  EXPECT_EQ(router.execution(make_request("GET", "/v1/things")), Execution::kInline);     // 404
  EXPECT_EQ(router.handle(make_request("GET", "/v1/things/7")).body, "ok");  // handle: in place
}

TEST(HttpResponseTest, ErrorEscapesTheMessageAsJson) {
  const HttpResponse response = HttpResponse::error(400, "bad", "quote \" and\nnewline");
  EXPECT_EQ(response.body, R"({"error":{"code":"bad","message":"quote \" and\nnewline"}})");
}

// ---------------------------------------------------------------------------------------------
// A real server on 127.0.0.1, io_context on a background thread, synchronous Beast client.

class HttpServerTest : public ::testing::Test {
 protected:
  void start_server(Router router, ServerLimits limits = {}) {
    server_ = std::make_unique<HttpServer>(io_, "127.0.0.1", 0, std::move(router), limits);
    server_->start();
    io_thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (server_) server_->stop();
    work_.reset();
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
  }

  tcp::socket connect() {
    tcp::socket socket(client_io_);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    return socket;
  }

  static ClientResponse exchange(tcp::socket& socket, ClientRequest request) {
    request.set(bhttp::field::host, "127.0.0.1");
    request.prepare_payload();
    bhttp::write(socket, request);
    beast::flat_buffer buffer;
    ClientResponse response;
    bhttp::read(socket, buffer, response);
    return response;
  }

  ClientResponse get(const std::string& target) {
    tcp::socket socket = connect();
    return exchange(socket, ClientRequest(bhttp::verb::get, target, 11));
  }

  // Blocks until the server closes the connection; returns how the read ended (eof or reset).
  // Any bytes the server still sends are discarded.
  static beast::error_code read_until_closed(tcp::socket& socket) {
    beast::error_code error;
    while (!error) {
      pollfd ready{socket.native_handle(), POLLIN, 0};
      const int timeout_ms = static_cast<int>(std::chrono::milliseconds(kWaitBound).count());
      if (::poll(&ready, 1, timeout_ms) <= 0) return asio::error::timed_out;
      char scratch[1024];
      socket.read_some(asio::buffer(scratch), error);
    }
    return error;
  }

  static bool is_closed_by_peer(const beast::error_code& error) {
    return error == asio::error::eof || error == asio::error::connection_reset;
  }

  asio::io_context io_;  // first: outlives the server and its sessions
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<HttpServer> server_;
  std::thread io_thread_;
  asio::io_context client_io_;  // client sockets only; never run
};

Router hello_router() {
  Router router;
  router.add("GET", "/hello", [](const HttpRequest&) { return HttpResponse::text(200, "hello"); });
  return router;
}

TEST_F(HttpServerTest, GetReturnsTheHandlerBody) {
  start_server(hello_router());

  const ClientResponse response = get("/hello");
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), "hello");
  EXPECT_EQ(field(response, bhttp::field::server), "ctd");
  EXPECT_EQ(field(response, bhttp::field::content_type), "text/plain; charset=utf-8");
}

TEST_F(HttpServerTest, UnknownPathAndWrongMethodOverTheWire) {
  start_server(hello_router());

  EXPECT_EQ(get("/missing").result_int(), 404);
  tcp::socket socket = connect();
  const ClientResponse response = exchange(socket, ClientRequest(bhttp::verb::post, "/hello", 11));
  EXPECT_EQ(response.result_int(), 405);
  EXPECT_EQ(field(response, "Allow"), "GET");
}

TEST_F(HttpServerTest, PostBodyAndHeadersReachTheHandler) {
  std::promise<HttpRequest> received;
  Router router;
  router.add("POST", "/ingest", [&received](const HttpRequest& request) {
    received.set_value(request);
    return HttpResponse::json(202, R"({"accepted":true})");
  });
  start_server(std::move(router));

  tcp::socket socket = connect();
  ClientRequest request(bhttp::verb::post, "/ingest", 11);
  request.set("X-Trace-Id", "abc");
  request.body() = R"({"sample":1})";
  const ClientResponse response = exchange(socket, std::move(request));

  EXPECT_EQ(response.result_int(), 202);
  EXPECT_EQ(response.body(), R"({"accepted":true})");
  const HttpRequest seen = received.get_future().get();
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.path, "/ingest");
  EXPECT_EQ(seen.body, R"({"sample":1})");
  EXPECT_EQ(seen.headers.at("x-trace-id"), "abc");
  EXPECT_EQ(seen.headers.at("content-length"), "12");
}

TEST_F(HttpServerTest, QueryStringIsSplitAndDecoded) {
  std::promise<HttpRequest> received;
  Router router;
  router.add("GET", "/search", [&received](const HttpRequest& request) {
    received.set_value(request);
    return HttpResponse::json(200, "{}");
  });
  start_server(std::move(router));

  ASSERT_EQ(get("/search?a=1&b=hello+world&c=%2Fx%20y%3D&flag&&bad=%zz&a=2").result_int(), 200);
  const HttpRequest seen = received.get_future().get();
  EXPECT_EQ(seen.path, "/search");
  const std::map<std::string, std::string> expected = {
      {"a", "2"}, {"b", "hello world"}, {"c", "/x y="}, {"flag", ""}, {"bad", "%zz"}};
  EXPECT_EQ(seen.query, expected);
}

TEST_F(HttpServerTest, BodyOverTheLimitIs413AndTheConnectionCloses) {
  ServerLimits limits;
  limits.max_body_bytes = 1024;
  Router router;
  router.add("POST", "/ingest", [](const HttpRequest&) { return HttpResponse::json(200, "{}"); });
  start_server(std::move(router), limits);

  tcp::socket socket = connect();
  ClientRequest request(bhttp::verb::post, "/ingest", 11);
  request.body() = std::string(4096, 'x');
  const ClientResponse response = exchange(socket, std::move(request));

  EXPECT_EQ(response.result_int(), 413);
  EXPECT_EQ(nlohmann::json::parse(response.body())["error"]["code"], "payload_too_large");
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(is_closed_by_peer(read_until_closed(socket)));
}

TEST_F(HttpServerTest, MalformedRequestIs400) {
  start_server(hello_router());

  tcp::socket socket = connect();
  asio::write(socket, asio::buffer(std::string("THIS IS NOT HTTP\r\n\r\n")));
  beast::flat_buffer buffer;
  ClientResponse response;
  bhttp::read(socket, buffer, response);

  EXPECT_EQ(response.result_int(), 400);
  EXPECT_TRUE(is_closed_by_peer(read_until_closed(socket)));
}

TEST_F(HttpServerTest, HeaderOverTheLimitIsRejected) {
  ServerLimits limits;
  limits.max_header_bytes = 512;
  start_server(hello_router(), limits);

  tcp::socket socket = connect();
  ClientRequest request(bhttp::verb::get, "/hello", 11);
  request.set("X-Padding", std::string(2048, 'p'));
  EXPECT_EQ(exchange(socket, std::move(request)).result_int(), 431);
}

TEST_F(HttpServerTest, SlowClientIsDisconnectedAfterReadTimeout) {
  ServerLimits limits;
  limits.read_timeout = std::chrono::seconds(1);
  start_server(hello_router(), limits);

  const auto started = std::chrono::steady_clock::now();
  tcp::socket socket = connect();
  asio::write(socket, asio::buffer(std::string("GET /hello HTTP/1.1\r\nHost: x\r\n")));
  const beast::error_code error = read_until_closed(socket);
  const auto elapsed = std::chrono::steady_clock::now() - started;

  EXPECT_TRUE(is_closed_by_peer(error)) << error.message();
  EXPECT_GE(elapsed, std::chrono::milliseconds(500));  // not before the timeout
  EXPECT_LT(elapsed, kWaitBound);
}

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  int calls = 0;  // only touched on the io thread, read after the responses arrived
  Router router;
  router.add("GET", "/count", [&calls](const HttpRequest&) {
    return HttpResponse::text(200, std::to_string(++calls));
  });
  start_server(std::move(router));

  tcp::socket socket = connect();
  const ClientResponse first = exchange(socket, ClientRequest(bhttp::verb::get, "/count", 11));
  const ClientResponse second = exchange(socket, ClientRequest(bhttp::verb::get, "/count", 11));

  EXPECT_EQ(first.body(), "1");
  EXPECT_TRUE(first.keep_alive());
  EXPECT_EQ(second.body(), "2");
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  ServerLimits limits;
  limits.idle_timeout = std::chrono::seconds(1);
  start_server(hello_router(), limits);

  tcp::socket socket = connect();
  ASSERT_EQ(exchange(socket, ClientRequest(bhttp::verb::get, "/hello", 11)).result_int(), 200);
  EXPECT_TRUE(is_closed_by_peer(read_until_closed(socket)));
}

TEST_F(HttpServerTest, ConnectionCloseRequestIsHonoured) {
  start_server(hello_router());

  tcp::socket socket = connect();
  ClientRequest request(bhttp::verb::get, "/hello", 11);
  request.keep_alive(false);
  const ClientResponse response = exchange(socket, std::move(request));

  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(is_closed_by_peer(read_until_closed(socket)));
}

TEST_F(HttpServerTest, ConnectionsBeyondTheCapAreClosed) {
  ServerLimits limits;
  limits.max_connections = 2;
  start_server(hello_router(), limits);

  // Accepts are served in order, so the first two become sessions before the third arrives.
  tcp::socket first = connect();
  tcp::socket second = connect();
  tcp::socket third = connect();

  EXPECT_TRUE(is_closed_by_peer(read_until_closed(third)));
  EXPECT_EQ(exchange(first, ClientRequest(bhttp::verb::get, "/hello", 11)).body(), "hello");
  EXPECT_EQ(exchange(second, ClientRequest(bhttp::verb::get, "/hello", 11)).body(), "hello");
}

TEST_F(HttpServerTest, StopClosesConnectionsAndRefusesNewOnes) {
  start_server(hello_router());
  tcp::socket open = connect();
  ASSERT_EQ(exchange(open, ClientRequest(bhttp::verb::get, "/hello", 11)).result_int(), 200);

  server_->stop();

  EXPECT_TRUE(is_closed_by_peer(read_until_closed(open)));
  tcp::socket late(client_io_);
  beast::error_code error;
  late.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()), error);
  EXPECT_EQ(error, asio::error::connection_refused);
}

// A worker route that blocks does not hold up an inline route: /healthz answers while /v1 waits.
TEST_F(HttpServerTest, ABlockedWorkerHandlerDoesNotHoldUpInlineRoutes) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered;
  Router router = hello_router();
  router.add(
      "GET", "/slow",
      [released, &entered](const HttpRequest&) {
        entered.set_value();
        released.wait_for(kWaitBound);
        return HttpResponse::text(200, "slow");
      },
      Execution::kWorker);
  start_server(std::move(router));

  tcp::socket slow = connect();
  ClientRequest request(bhttp::verb::get, "/slow", 11);
  request.set(bhttp::field::host, "127.0.0.1");
  bhttp::write(slow, request);
  ASSERT_EQ(entered.get_future().wait_for(kWaitBound), std::future_status::ready);

  // The slow handler is still inside (it has not been released): this is served meanwhile.
  EXPECT_EQ(get("/hello").body(), "hello");
  release.set_value();
  beast::flat_buffer buffer;
  ClientResponse response;
  bhttp::read(slow, buffer, response);
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), "slow");
  // Keep-alive still works after a response written from a worker.
  EXPECT_EQ(exchange(slow, ClientRequest(bhttp::verb::get, "/hello", 11)).body(), "hello");
}

// Which thread runs a handler: worker routes on the server's workers, inline ones on the io
// thread; with worker_threads = 0 every handler on the io thread.
struct HandlerThreads {
  std::shared_ptr<std::thread::id> inline_route = std::make_shared<std::thread::id>();
  std::shared_ptr<std::thread::id> worker_route = std::make_shared<std::thread::id>();

  Router router() const {
    Router router;
    router.add("GET", "/inline", [id = inline_route](const HttpRequest&) {
      *id = std::this_thread::get_id();
      return HttpResponse::text(200, "inline");
    });
    router.add(
        "GET", "/worker",
        [id = worker_route](const HttpRequest&) {
          *id = std::this_thread::get_id();
          return HttpResponse::text(200, "worker");
        },
        Execution::kWorker);
    return router;
  }
};

TEST_F(HttpServerTest, WorkerRoutesRunOffTheIoThread) {
  const HandlerThreads threads;
  start_server(threads.router());  // default limits: 2 worker threads

  EXPECT_EQ(get("/inline").body(), "inline");
  EXPECT_EQ(get("/worker").body(), "worker");
  EXPECT_EQ(*threads.inline_route, io_thread_.get_id());
  EXPECT_NE(*threads.worker_route, io_thread_.get_id());
  EXPECT_NE(*threads.worker_route, std::thread::id());
}

TEST_F(HttpServerTest, WithoutWorkerThreadsEveryHandlerRunsOnTheIoThread) {
  const HandlerThreads threads;
  ServerLimits limits;
  limits.worker_threads = 0;
  start_server(threads.router(), limits);

  EXPECT_EQ(get("/worker").body(), "worker");
  EXPECT_EQ(*threads.worker_route, io_thread_.get_id());
}

TEST_F(HttpServerTest, ConstructorThrowsWhenItCannotListen) {
  start_server(hello_router());

  EXPECT_THROW(HttpServer(io_, "127.0.0.1", server_->port(), hello_router()), std::system_error);
  EXPECT_THROW(HttpServer(io_, "not-an-address", 0, hello_router()), std::system_error);
}

}  // namespace
}  // namespace ctd::http
