// SHA-256 as lower-case hex (OpenSSL's EVP underneath): one-shot, or incremental for data
// that arrives in pieces (dataset snapshots).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace ctd {

std::string sha256_hex(std::string_view data);

// Not thread-safe; one owner.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::span<const std::byte> data);
  std::string hex_digest();  // ends the computation

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

}  // namespace ctd
