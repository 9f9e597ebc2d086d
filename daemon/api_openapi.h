// The OpenAPI 3 document of the /v1 API: docs/openapi.json, embedded into the binary at build
// time (daemon/CMakeLists.txt) and served at GET /v1/openapi.json. A test checks that its
// paths and methods are exactly the Router's /v1 routes. Immutable; thread-safe.
#pragma once

#include <string_view>

namespace ctd::api {

std::string_view openapi_document();

}  // namespace ctd::api
