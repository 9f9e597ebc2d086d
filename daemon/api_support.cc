// The API's shared helpers (api_support.h), its database connection and add_api_routes().
#include <limits>

#include "daemon/api_openapi.h"
#include "daemon/api_support.h"

namespace ctd::api {
namespace {

constexpr int kDefaultLimit = 50, kMaxLimit = 500;

std::optional<std::int64_t> parse_integer(const std::string& text, std::int64_t min,
                                          std::int64_t max) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value < min || value > max) return std::nullopt;
  return value;
}

http::HttpResponse registry_error(const registry::RegistryError& e) {
  using Code = registry::RegistryError::Code;
  switch (e.code()) {
    case Code::kNotFound:
      return http::HttpResponse::error(404, "not_found", e.what());
    case Code::kConflict:
      return http::HttpResponse::error(409, "conflict", e.what());
    case Code::kInvalidState:
      return http::HttpResponse::error(422, "invalid_state", e.what());
    case Code::kArtifact:
      return http::HttpResponse::error(422, "artifact", e.what());
  }
  return http::HttpResponse::error(500, "internal", e.what());
}

}  // namespace

pg::PgResult Database::exec(const std::string& sql, const std::vector<pg::Param>& params) {
  std::lock_guard lock(mutex_);
  try {
    if (!connection_ || !connection_->healthy())
      connection_ = std::make_unique<pg::PgConnection>(pg::with_liveness_checks(dsn_, 5));
    return connection_->exec(sql, params);
  } catch (const pg::PgError& e) {
    if (e.connection_lost() || !connection_ || !connection_->healthy()) connection_.reset();
    throw;
  }
}

void bad_request(const std::string& message) { throw ApiError(400, "bad_request", message); }
void not_found(const std::string& message) { throw ApiError(404, "not_found", message); }

ApiHandler with_errors(ApiHandler handler) {
  return
      [handler = std::move(handler)](const http::HttpRequest& request, const Principal& principal) {
        try {
          return handler(request, principal);
        } catch (const ApiError& e) {
          return http::HttpResponse::error(e.status(), e.code(), e.what());
        } catch (const registry::RegistryError& e) {
          return registry_error(e);
        } catch (const pg::PgError& e) {
          if (e.is_transient() || e.connection_lost())
            return http::HttpResponse::error(503, "unavailable",
                                             std::string("database unavailable: ") + e.what());
          return http::HttpResponse::error(500, "internal", e.what());
        }
      };
}

http::HttpResponse ok(const nlohmann::json& body, int status) {
  return http::HttpResponse::json(
      status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

nlohmann::json body_object(const http::HttpRequest& request) {
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos)
    return nlohmann::json::object();
  nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  if (body.is_discarded()) bad_request("the request body is not valid JSON");
  if (!body.is_object()) bad_request("the request body must be a JSON object");
  return body;
}

std::optional<std::string> string_member(const nlohmann::json& body, const std::string& key,
                                         bool required) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    if (required) bad_request("'" + key + "' is required");
    return std::nullopt;
  }
  if (!it->is_string() || it->get<std::string>().empty())
    bad_request("'" + key + "' must be a non-empty string");
  return it->get<std::string>();
}

bool bool_member(const nlohmann::json& body, const std::string& key) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_boolean()) bad_request("'" + key + "' must be true or false");
  return it->get<bool>();
}

std::optional<std::int64_t> int_member(const nlohmann::json& body, const std::string& key,
                                       std::int64_t min, std::int64_t max) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() || it->get<std::int64_t>() < min || it->get<std::int64_t>() > max)
    bad_request("'" + key + "' must be an integer in [" + std::to_string(min) + ", " +
                std::to_string(max) + "]");
  return it->get<std::int64_t>();
}

std::int64_t int_param(const http::HttpRequest& request, const std::string& name, std::int64_t min,
                       std::int64_t max) {
  const std::string& text = request.params.at(name);
  const auto value = parse_integer(text, min, max);
  if (!value) bad_request("'" + name + "' must be a positive integer, got '" + text + "'");
  return *value;
}

PageRequest page_request(const http::HttpRequest& request) {
  PageRequest out;
  out.limit = kDefaultLimit;
  if (const auto it = request.query.find("limit"); it != request.query.end()) {
    const auto limit = parse_integer(it->second, 1, kMaxLimit);
    if (!limit) bad_request("limit must be an integer in [1, 500]");
    out.limit = static_cast<int>(*limit);
  }
  if (const auto it = request.query.find("cursor"); it != request.query.end()) {
    out.cursor = parse_integer(it->second, 1, std::numeric_limits<std::int64_t>::max());
    if (!out.cursor) bad_request("malformed cursor");
  }
  return out;
}

nlohmann::json page(std::vector<std::pair<std::int64_t, nlohmann::json>> rows,
                    const PageRequest& request) {
  const bool more = rows.size() > static_cast<std::size_t>(request.limit);
  if (more) rows.resize(static_cast<std::size_t>(request.limit));
  nlohmann::json items = nlohmann::json::array();
  for (auto& row : rows) items.push_back(std::move(row.second));
  return {
      {"items", std::move(items)},
      {"next_cursor", more ? nlohmann::json(std::to_string(rows.back().first)) : nlohmann::json()}};
}

const config::PipelineOptions& pipeline_named(const ApiContext& context, const std::string& name) {
  for (const auto& p : context.options.pipelines)
    if (p.name == name) return p;
  not_found("no pipeline named '" + name + "'");
}

void add_read(http::Router& router, const std::shared_ptr<const TokenSet>& tokens,
              ApiContext& context, const std::string& path, ReadHandler handler) {
  router.add(
      "GET", path,
      guarded(tokens, Role::kRead,
              with_errors([&context, handler](const http::HttpRequest& request, const Principal&) {
                return handler(context, request);
              })),
      http::Execution::kWorker);
}

void add_write(http::Router& router, const std::shared_ptr<const TokenSet>& tokens,
               ApiContext& context, const std::string& path, WriteHandler handler) {
  router.add("POST", path,
             guarded(tokens, Role::kAdmin,
                     with_errors([&context, handler](const http::HttpRequest& request,
                                                     const Principal& who) {
                       return handler(context, request, who);
                     })),
             http::Execution::kWorker);
}

void add_api_routes(http::Router& router, std::shared_ptr<const TokenSet> tokens,
                    ApiContext& context) {
  add_model_routes(router, tokens, context);
  add_run_routes(router, tokens, context);
  add_pipeline_routes(router, tokens, context);
  add_read(router, tokens, context, "/v1/openapi.json", [](ApiContext&, const http::HttpRequest&) {
    return http::HttpResponse::json(200, std::string(openapi_document()));
  });
}

}  // namespace ctd::api
