// A real HTTP receiver for alert webhooks in tests: ctd's own Beast server (daemon/http_server.h)
// on 127.0.0.1 and a free port, on a thread of its own, recording every POST to /hook and
// answering each with the next status of a script (then 200). wait_for() blocks, bounded,
// until a number of requests has arrived. With a TLS context (daemon/tls.h) it is an HTTPS
// receiver, reached as https://localhost:PORT/hook.
//
// Thread-safety: the recorded requests are guarded; call from one test thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "daemon/http_server.h"

namespace ctd::testing {

class WebhookReceiver {
 public:
  explicit WebhookReceiver(std::deque<int> statuses = {},
                           std::shared_ptr<boost::asio::ssl::context> tls = nullptr)
      : statuses_(std::move(statuses)) {
    http::Router router;
    router.add("POST", "/hook", [this](const http::HttpRequest& request) {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
      int status = 200;
      if (!statuses_.empty()) {
        status = statuses_.front();
        statuses_.pop_front();
      }
      arrived_.notify_all();
      return http::HttpResponse::json(status, "{}");
    });
    server_ = std::make_unique<http::HttpServer>(io_, "127.0.0.1", 0, std::move(router),
                                                 http::ServerLimits{}, std::move(tls));
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~WebhookReceiver() {
    server_->stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::string url() const {
    return (server_->tls() ? "https://localhost:" : "http://127.0.0.1:") +
           std::to_string(server_->port()) + "/hook";
  }

  // The requests so far, once at least `count` have arrived or `timeout` passed.
  std::vector<http::HttpRequest> wait_for(std::size_t count, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, timeout, [&] { return requests_.size() >= count; });
    return requests_;
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::unique_ptr<http::HttpServer> server_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<int> statuses_;                 // guarded by mutex_
  std::vector<http::HttpRequest> requests_;  // guarded by mutex_
};

}  // namespace ctd::testing
