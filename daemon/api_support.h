// Helpers shared by the /v1 route files (api_*.cc): the API's error type and its mapping to
// responses, request body and parameter parsing, pages. Internal to the API; owned by it.
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/api.h"

namespace ctd::api {

// An error a handler answers with: status, code and message.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string code_;
};

[[noreturn]] void bad_request(const std::string& message);
[[noreturn]] void not_found(const std::string& message);

// Calls `handler`, turning ApiError, registry::RegistryError (not found 404, invalid state or
// artifact 422, conflict 409) and pg::PgError (503) into error responses.
ApiHandler with_errors(ApiHandler handler);

http::HttpResponse ok(const nlohmann::json& body, int status = 200);

// The request body as a JSON object; an empty body is {}. 400 when it is not an object.
nlohmann::json body_object(const http::HttpRequest& request);
// A string member: 400 when present and not a non-empty string, or absent and required.
std::optional<std::string> string_member(const nlohmann::json& body, const std::string& key,
                                         bool required);
bool bool_member(const nlohmann::json& body, const std::string& key);  // absent: false
std::optional<std::int64_t> int_member(const nlohmann::json& body, const std::string& key,
                                       std::int64_t min, std::int64_t max);

// A path parameter as an integer in [min, max]; 400 otherwise.
std::int64_t int_param(const http::HttpRequest& request, const std::string& name, std::int64_t min,
                       std::int64_t max);

struct PageRequest {
  int limit = 50;
  // Where the previous page ended (its next_cursor): for most lists, items strictly older
  // (smaller id) than this; for models, those after the model with this id by name.
  std::optional<std::int64_t> cursor;
};
// ?limit= and ?cursor= (a positive integer here); 400 when malformed.
PageRequest page_request(const http::HttpRequest& request);
// {"items": [...], "next_cursor": ...} from up to limit + 1 (id, item) rows in page order: an
// extra row only says that there is a next page, which starts after the last item's id.
nlohmann::json page(std::vector<std::pair<std::int64_t, nlohmann::json>> rows,
                    const PageRequest& request);

// A pipeline of the configuration by name; 404 when there is none.
const config::PipelineOptions& pipeline_named(const ApiContext& context, const std::string& name);

// nullptr for nullopt.
template <typename T>
nlohmann::json optional_json(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json();
}

using ReadHandler = http::HttpResponse (*)(ApiContext&, const http::HttpRequest&);
using WriteHandler = http::HttpResponse (*)(ApiContext&, const http::HttpRequest&,
                                            const Principal&);
// GET `path` for read tokens; POST `path` for admin tokens; errors mapped by with_errors. Both
// run on the HTTP server's worker threads (http::Execution::kWorker): they query PostgreSQL or
// wait for a pipeline's round, which must not hold up /healthz, /readyz and /metrics.
void add_read(http::Router& router, const std::shared_ptr<const TokenSet>& tokens,
              ApiContext& context, const std::string& path, ReadHandler handler);
void add_write(http::Router& router, const std::shared_ptr<const TokenSet>& tokens,
               ApiContext& context, const std::string& path, WriteHandler handler);

void add_model_routes(http::Router& router, const std::shared_ptr<const TokenSet>& tokens,
                      ApiContext& context);
void add_pipeline_routes(http::Router& router, const std::shared_ptr<const TokenSet>& tokens,
                         ApiContext& context);
void add_run_routes(http::Router& router, const std::shared_ptr<const TokenSet>& tokens,
                    ApiContext& context);

}  // namespace ctd::api
