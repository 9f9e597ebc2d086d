// SHA-256 of a byte string as lower-case hex (OpenSSL's EVP underneath).
#pragma once

#include <string>
#include <string_view>

namespace ctd {

std::string sha256_hex(std::string_view data);

}  // namespace ctd
