// Result<T>: a value or an Errc, with the part of std::expected's interface we use. libstdc++ 12 offers
// std::expected only under C++23; once we move there, this becomes an alias.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "ustack/errc.h"

namespace ustack {

struct Unexpected {
  Errc error;
};
inline Unexpected make_error(Errc e) { return Unexpected{e}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T v) : v_(std::in_place_index<0>, std::move(v)) {}      // NOLINT: implicit, as std::expected
  Result(Unexpected u) : v_(std::in_place_index<1>, u.error) {}  // NOLINT
  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  Errc error() const { return has_value() ? Errc::kOk : std::get<1>(v_); }
  template <class U>
  T value_or(U&& u) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(u));
  }

 private:
  std::variant<T, Errc> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Unexpected u) : e_(u.error) {}  // NOLINT
  bool has_value() const { return e_ == Errc::kOk; }
  explicit operator bool() const { return has_value(); }
  Errc error() const { return e_; }

 private:
  Errc e_ = Errc::kOk;
};

using Status = Result<void>;

}  // namespace ustack
