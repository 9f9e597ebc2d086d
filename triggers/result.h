// Errors as values for the trigger engine: option validation and cron parsing return a
// Result<T> instead of throwing, so the daemon can report a bad pipeline configuration with a
// message that names the field and the bad value. (C++20 has no std::expected.)
//
// Thread-safety: a value type; no shared state.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace ctd::triggers {

// What went wrong, for people: names the option or field and the offending value.
struct Error {
  std::string message;
};

// Either a T or an Error. REQUIRES: value() only when ok(), error() only when !ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(runtime/explicit)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(runtime/explicit)

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  const Error& error() const { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

}  // namespace ctd::triggers
