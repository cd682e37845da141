// Numbers that must not be mixed up get their own types.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>

namespace hub {

// Position of a record in the event log: dense, starting at 0, never reused.
struct offset {
  std::uint64_t value = 0;
  constexpr auto operator<=>(const offset&) const = default;
  [[nodiscard]] constexpr offset next() const { return offset{value + 1}; }
};

// A publisher's sequence number for one PUB on one connection.
struct publish_seq {
  std::uint64_t value = 0;
  constexpr auto operator<=>(const publish_seq&) const = default;
};

// Milliseconds since the Unix epoch, UTC: the one time unit on the wire and on disk.
using millis = std::int64_t;

inline millis now_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace hub
