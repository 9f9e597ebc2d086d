// The /v1 API's request helpers without a database: malformed bodies and parameters are 400
// with the error format, pages carry a cursor only when there is more.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "daemon/api_support.h"

namespace ctd {
namespace {

using http::HttpRequest;

std::string error_code(const http::HttpResponse& response) {
  return nlohmann::json::parse(response.body)["error"]["code"];
}

TEST(ApiSupportTest, MalformedBodiesAndParametersAre400) {
  const auto handler = api::with_errors([](const HttpRequest& r, const api::Principal&) {
    const auto body = api::body_object(r);
    api::string_member(body, "reason", true);
    api::page_request(r);
    return api::ok({{"fine", true}});
  });
  const api::Principal who{"ops", api::Role::kAdmin};
  const auto status_of = [&](const std::string& body, std::map<std::string, std::string> query) {
    HttpRequest r;
    r.body = body;
    r.query = std::move(query);
    const auto response = handler(r, who);
    if (response.status != 200) {
      EXPECT_EQ(error_code(response), "bad_request") << response.body;
    }
    return response.status;
  };
  EXPECT_EQ(status_of(R"({"reason": "x"})", {}), 200);
  EXPECT_EQ(status_of(R"({"reason": )", {}), 400);
  EXPECT_EQ(status_of(R"([1, 2])", {}), 400);
  EXPECT_EQ(status_of(R"({"reason": 3})", {}), 400);
  EXPECT_EQ(status_of("", {}), 400);  // reason is required
  EXPECT_EQ(status_of(R"({"reason": "x"})", {{"limit", "0"}}), 400);
  EXPECT_EQ(status_of(R"({"reason": "x"})", {{"limit", "501"}}), 400);
  EXPECT_EQ(status_of(R"({"reason": "x"})", {{"cursor", "abc"}}), 400);
  EXPECT_EQ(status_of(R"({"reason": "x"})", {{"limit", "500"}, {"cursor", "9"}}), 200);
}

TEST(ApiSupportTest, PagesCarryACursorOnlyWhenThereIsMore) {
  api::PageRequest paging;
  paging.limit = 2;
  auto body = api::page({{9, 9}, {7, 7}, {4, 4}}, paging);
  EXPECT_EQ(body["items"], nlohmann::json({9, 7}));
  EXPECT_EQ(body["next_cursor"], "7");
  body = api::page({{9, 9}, {7, 7}}, paging);
  EXPECT_TRUE(body["next_cursor"].is_null());
}

}  // namespace
}  // namespace ctd
