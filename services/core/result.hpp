#pragma once

#include <cassert>
#include <utility>
#include <variant>

namespace payorch::core {

// An expected failure is a value, not an exception (STYLE.md, error policy): a Result holds
// either the value of a successful operation or the error that explains why it failed.
// g++ 12 has no std::expected in C++20; this is the part of it payorch needs.
template <typename T, typename E>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  const E& error() const& { assert(!ok()); return std::get<1>(v_); }

  const T* operator->() const { return &value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, E> v_;
};

}  // namespace payorch::core
