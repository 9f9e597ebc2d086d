// Bearer-token authentication of the /v1 control API (issue 7). Owned by the API wiring
// (daemon/api.h); route handlers never see a request that failed here.
//
// Tokens come from a file (http.auth.tokens_file, env CTD_API_TOKENS_FILE) and/or the
// environment variable CTD_API_TOKENS, one token per line (or per ';' in the variable):
//
//   # name   role    token
//   ci       read    3f9c...            role: read (GET endpoints) or admin (everything)
//
// Names are [A-Za-z0-9_.-]+ and unique; tokens are at least 16 characters without spaces.
// Only SHA-256 digests of the tokens are kept, and a presented token is compared with every
// digest by CRYPTO_memcmp, so the time taken depends neither on where a token differs nor on
// which one matches.
//
// Thread-safety: a TokenSet is immutable after construction; share it freely.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "daemon/http_server.h"

namespace ctd::api {

enum class Role { kRead, kAdmin };
std::string_view role_name(Role role);

struct Principal {
  std::string name;
  Role role = Role::kRead;
};

class TokenSet {
 public:
  TokenSet() = default;
  // Parses the format above; std::invalid_argument names the bad line (never the token).
  static TokenSet parse(std::string_view text, std::string_view origin);
  // The file (when `path` is not empty) plus the tokens in `env_tokens`; throws
  // std::runtime_error when the file cannot be read or either is malformed.
  static TokenSet load(const std::string& path, std::string_view env_tokens);

  std::optional<Principal> find(std::string_view token) const;
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<unsigned char, 32> digest{};
    Principal principal;
  };
  void add(Entry entry, std::string_view where);
  std::vector<Entry> entries_;
};

// The principal of a request that may do what `required` allows, or the error response:
// 401 (no or malformed Authorization header, unknown token; with WWW-Authenticate: Bearer) or
// 403 (a read token on an admin endpoint).
std::variant<Principal, http::HttpResponse> authenticate(const TokenSet& tokens,
                                                         const http::HttpRequest& request,
                                                         Role required);

using ApiHandler = std::function<http::HttpResponse(const http::HttpRequest&, const Principal&)>;

// A Router handler that authenticates first and then calls `handler`.
http::Handler guarded(std::shared_ptr<const TokenSet> tokens, Role required, ApiHandler handler);

}  // namespace ctd::api
