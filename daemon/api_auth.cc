#include "daemon/api_auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ctd::api {
namespace {

constexpr std::size_t kMinTokenLength = 16;

std::array<unsigned char, 32> digest_of(std::string_view token) {
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest.data());
  return digest;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
      return false;
  return true;
}

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

http::HttpResponse unauthorized(const std::string& message) {
  http::HttpResponse response = http::HttpResponse::error(401, "unauthorized", message);
  response.headers["WWW-Authenticate"] = "Bearer realm=\"ctd\"";
  return response;
}

}  // namespace

std::string_view role_name(Role role) { return role == Role::kAdmin ? "admin" : "read"; }

void TokenSet::add(Entry entry, std::string_view where) {
  for (const Entry& e : entries_) {
    if (e.principal.name == entry.principal.name)
      throw std::invalid_argument(std::string(where) + ": token name '" + entry.principal.name +
                                  "' appears twice");
    if (e.digest == entry.digest)
      throw std::invalid_argument(std::string(where) + ": the token of '" + entry.principal.name +
                                  "' is also the token of '" + e.principal.name + "'");
  }
  entries_.push_back(std::move(entry));
}

TokenSet TokenSet::parse(std::string_view text, std::string_view origin) {
  TokenSet set;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find_first_of("\n;"), text.size());
    std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto fields = fields_of(line);
    if (fields.empty() || fields[0].starts_with('#')) continue;
    const std::string where = std::string(origin) + ":" + std::to_string(line_number);
    if (fields.size() != 3) throw std::invalid_argument(where + ": expected 'name role token'");
    if (!valid_name(fields[0]))
      throw std::invalid_argument(where + ": invalid token name (letters, digits, _ . -)");
    if (fields[1] != "read" && fields[1] != "admin")
      throw std::invalid_argument(where + ": role must be read or admin");
    if (fields[2].size() < kMinTokenLength)
      throw std::invalid_argument(where + ": the token must have at least 16 characters");
    set.add({digest_of(fields[2]),
             {std::string(fields[0]), fields[1] == "admin" ? Role::kAdmin : Role::kRead}},
            where);
  }
  return set;
}

TokenSet TokenSet::load(const std::string& path, std::string_view env_tokens) {
  TokenSet set;
  try {
    if (!path.empty()) {
      std::ifstream in(path, std::ios::binary);
      if (!in) throw std::runtime_error("cannot read the API tokens file " + path);
      std::ostringstream text;
      text << in.rdbuf();
      set = parse(text.str(), path);
    }
    for (Entry& entry : parse(env_tokens, "CTD_API_TOKENS").entries_)
      set.add(std::move(entry), "CTD_API_TOKENS");
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  return set;
}

std::optional<Principal> TokenSet::find(std::string_view token) const {
  const auto digest = digest_of(token);
  const Entry* found = nullptr;
  for (const Entry& entry : entries_) {
    // Every digest is compared, whatever matched before.
    const bool same = CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0;
    if (same) found = &entry;
  }
  if (found == nullptr) return std::nullopt;
  return found->principal;
}

std::variant<Principal, http::HttpResponse> authenticate(const TokenSet& tokens,
                                                         const http::HttpRequest& request,
                                                         Role required) {
  const auto header = request.headers.find("authorization");
  if (header == request.headers.end()) return unauthorized("a bearer token is required");
  std::string_view value = header->second;
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), value.begin(),
                  [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); }))
    return unauthorized("the Authorization header must be 'Bearer <token>'");
  value.remove_prefix(kScheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  const std::optional<Principal> principal = tokens.find(value);
  if (!principal) return unauthorized("unknown token");
  if (required == Role::kAdmin && principal->role != Role::kAdmin)
    return http::HttpResponse::error(403, "forbidden",
                                     "token '" + principal->name +
                                         "' has the read role; this "
                                         "endpoint needs admin");
  return *principal;
}

http::Handler guarded(std::shared_ptr<const TokenSet> tokens, Role required, ApiHandler handler) {
  return [tokens = std::move(tokens), required,
          handler = std::move(handler)](const http::HttpRequest& request) {
    auto outcome = authenticate(*tokens, request, required);
    if (auto* response = std::get_if<http::HttpResponse>(&outcome)) return *response;
    return handler(request, std::get<Principal>(outcome));
  };
}

}  // namespace ctd::api
