// Errors as values, shared by every hub component.
//
// A status is cheap to return when ok (no allocation) and carries a code and a
// message that says what, where and what next when not.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace hub {

enum class errc : std::uint8_t {
  ok = 0,
  invalid_argument = 1,  // the caller passed something the callee refuses
  not_found = 2,         // what was asked for does not exist
  io_error = 3,          // the operating system refused a read or write
  no_space = 4,          // the disk is full
  corruption = 5,        // stored bytes fail their checksum or framing
  unavailable = 6,       // the component cannot serve now (closed, locked, read-only)
  config_error = 7,      // a configuration value is wrong
};

class [[nodiscard]] status {
 public:
  status() = default;
  static status ok() { return {}; }
  static status error(errc code, std::string message) { return status(code, std::move(message)); }
  static status invalid_argument(std::string m) { return error(errc::invalid_argument, std::move(m)); }
  static status not_found(std::string m) { return error(errc::not_found, std::move(m)); }
  static status io_error(std::string m) { return error(errc::io_error, std::move(m)); }
  static status no_space(std::string m) { return error(errc::no_space, std::move(m)); }
  static status corruption(std::string m) { return error(errc::corruption, std::move(m)); }
  static status unavailable(std::string m) { return error(errc::unavailable, std::move(m)); }
  static status config_error(std::string m) { return error(errc::config_error, std::move(m)); }

  [[nodiscard]] bool is_ok() const { return rep_ == nullptr; }
  explicit operator bool() const { return is_ok(); }
  [[nodiscard]] errc code() const { return rep_ ? rep_->code : errc::ok; }
  [[nodiscard]] const std::string& message() const {
    static const std::string empty;
    return rep_ ? rep_->message : empty;
  }

 private:
  struct rep {
    errc code;
    std::string message;
  };
  status(errc code, std::string message)
      : rep_(std::make_shared<rep>(rep{code, std::move(message)})) {}
  std::shared_ptr<const rep> rep_;
};

// A value or the status that explains why there is none.
template <typename T>
class [[nodiscard]] result {
 public:
  result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  result(status s) : status_(std::move(s)) {}    // NOLINT: implicit by design
  [[nodiscard]] bool is_ok() const { return value_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  [[nodiscard]] const status& error() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

 private:
  std::optional<T> value_;
  status status_;
};

}  // namespace hub
