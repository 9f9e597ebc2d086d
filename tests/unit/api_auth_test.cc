// The /v1 API's pieces that need no database: path parameters in the router, bearer tokens
// (parsing, roles, 401/403).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "daemon/api_auth.h"
#include "daemon/http_server.h"

namespace ctd {
namespace {

using http::HttpRequest;
using http::HttpResponse;

HttpRequest request(const std::string& method, const std::string& path,
                    const std::string& token = "") {
  HttpRequest r;
  r.method = method;
  r.path = path;
  if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
  return r;
}

std::string error_code(const HttpResponse& response) {
  return nlohmann::json::parse(response.body)["error"]["code"];
}

TEST(RouterParamsTest, PathParametersAreMatchedAndDecoded) {
  http::Router router;
  router.add("GET", "/v1/models/{m}/versions/{v}", [](const HttpRequest& r) {
    return HttpResponse::json(200, nlohmann::json(r.params).dump());
  });
  const auto response = router.handle(request("GET", "/v1/models/fr%2Fa+d/versions/3"));
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(nlohmann::json::parse(response.body), (nlohmann::json{{"m", "fr/a+d"}, {"v", "3"}}));
  EXPECT_EQ(router.handle(request("GET", "/v1/models//versions/3")).status, 404);
  EXPECT_EQ(router.handle(request("GET", "/v1/models/a/versions")).status, 404);
  EXPECT_EQ(router.handle(request("GET", "/v1/models/a/versions/3/x")).status, 404);
}

TEST(RouterParamsTest, LiteralSegmentsWinOverParameters) {
  http::Router router;
  router.add("GET", "/v1/runs/{id}",
             [](const HttpRequest&) { return HttpResponse::text(200, "id"); });
  router.add("GET", "/v1/runs/latest",
             [](const HttpRequest&) { return HttpResponse::text(200, "latest"); });
  router.add("POST", "/v1/runs/{id}/cancel",
             [](const HttpRequest&) { return HttpResponse::text(202, "c"); });
  EXPECT_EQ(router.handle(request("GET", "/v1/runs/latest")).body, "latest");
  EXPECT_EQ(router.handle(request("GET", "/v1/runs/7")).body, "id");
  const auto wrong = router.handle(request("GET", "/v1/runs/7/cancel"));
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers.at("Allow"), "POST");
  ASSERT_EQ(router.routes().size(), 3u);
  EXPECT_EQ(router.routes()[0].pattern, "/v1/runs/latest");
}

constexpr const char* kTokens = R"(# name role token
reader   read    read-token-0123456789
ops      admin   admin-token-0123456789
)";

TEST(TokenSetTest, ParsesNamesRolesAndFindsTokens) {
  const auto tokens = api::TokenSet::parse(kTokens, "tokens");
  EXPECT_EQ(tokens.size(), 2u);
  const auto ops = tokens.find("admin-token-0123456789");
  ASSERT_TRUE(ops);
  EXPECT_EQ(ops->name, "ops");
  EXPECT_EQ(ops->role, api::Role::kAdmin);
  EXPECT_EQ(tokens.find("read-token-0123456789")->role, api::Role::kRead);
  EXPECT_FALSE(tokens.find("admin-token-012345678"));
  EXPECT_FALSE(tokens.find(""));
  const auto env = api::TokenSet::parse("a read aaaaaaaaaaaaaaaa;b admin bbbbbbbbbbbbbbbb", "env");
  EXPECT_EQ(env.size(), 2u);
}

TEST(TokenSetTest, MalformedLinesAreRejectedWithoutTheToken) {
  const auto message = [](const std::string& text) {
    try {
      api::TokenSet::parse(text, "f");
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(message("a read"), "f:1: expected 'name role token'");
  EXPECT_EQ(message("\na writer secret-secret-secret"), "f:2: role must be read or admin");
  EXPECT_EQ(message("a read short"), "f:1: the token must have at least 16 characters");
  EXPECT_EQ(message("a/b read secret-secret-secret"),
            "f:1: invalid token name (letters, digits, _ . -)");
  EXPECT_EQ(message("a read secret-secret-secret\na admin other-other-other-o"),
            "f:2: token name 'a' appears twice");
  const std::string duplicate =
      message("a read secret-secret-secret\nb admin secret-secret-secret");
  EXPECT_NE(duplicate.find("also the token of 'a'"), std::string::npos);
  EXPECT_EQ(duplicate.find("secret-secret"), std::string::npos);
  EXPECT_THROW(api::TokenSet::load("/nonexistent/tokens", ""), std::runtime_error);
}

class GuardTest : public ::testing::Test {
 protected:
  GuardTest() {
    router_.add(
        "GET", "/v1/thing",
        api::guarded(tokens_, api::Role::kRead, [](const HttpRequest&, const api::Principal& who) {
          return HttpResponse::json(200, nlohmann::json{{"who", who.name}}.dump());
        }));
    router_.add(
        "POST", "/v1/thing",
        api::guarded(tokens_, api::Role::kAdmin, [](const HttpRequest&, const api::Principal& who) {
          return HttpResponse::json(200, nlohmann::json{{"who", who.name}}.dump());
        }));
  }
  std::shared_ptr<const api::TokenSet> tokens_ =
      std::make_shared<const api::TokenSet>(api::TokenSet::parse(kTokens, "tokens"));
  http::Router router_;
};

TEST_F(GuardTest, MissingOrBadTokensAre401WithChallenge) {
  for (const HttpRequest& r :
       {request("GET", "/v1/thing"), request("GET", "/v1/thing", "wrong-token-0123456789"),
        request("POST", "/v1/thing", "admin-token-01234567890")}) {
    const auto response = router_.handle(r);
    EXPECT_EQ(response.status, 401) << response.body;
    EXPECT_EQ(error_code(response), "unauthorized");
    EXPECT_EQ(response.headers.at("WWW-Authenticate"), "Bearer realm=\"ctd\"");
  }
  HttpRequest basic = request("GET", "/v1/thing");
  basic.headers["authorization"] = "Basic cmVhZDpyZWFk";
  EXPECT_EQ(router_.handle(basic).status, 401);
}

TEST_F(GuardTest, ReadTokensReadAdminTokensDoEverything) {
  EXPECT_EQ(router_.handle(request("GET", "/v1/thing", "read-token-0123456789")).body,
            R"({"who":"reader"})");
  const auto forbidden = router_.handle(request("POST", "/v1/thing", "read-token-0123456789"));
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(error_code(forbidden), "forbidden");
  EXPECT_EQ(router_.handle(request("POST", "/v1/thing", "admin-token-0123456789")).body,
            R"({"who":"ops"})");
  HttpRequest lower = request("GET", "/v1/thing");
  lower.headers["authorization"] = "bearer admin-token-0123456789";
  EXPECT_EQ(router_.handle(lower).status, 200);
}

}  // namespace
}  // namespace ctd
