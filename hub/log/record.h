// Private to hub/log: decoding one record (formats 2 and 3) from bytes, and the hash chain.
// Shared by the log (log.cc) and the offline verifier (verify.cc). Layout in
// docs/log_format.md and format.h.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "hub/log/format.h"

namespace hub::log::record {

using hash = std::array<std::uint8_t, format::hash_bytes>;

// The chain's hash function, by segment format: SHA-256 (format 3, where the CPU's SHA
// instructions make it about twice as fast as BLAKE2b on a record) or BLAKE2b-256
// (format 2 segments, read and extended as they were written).
enum class hash_kind : std::uint8_t { blake2b_256, sha256 };
// The format a segment header's magic names (2 or 3), or 0 for any other bytes.
[[nodiscard]] int segment_format(const std::uint8_t* magic8);
[[nodiscard]] inline hash_kind hash_kind_of_format(int format) {
  return format == 2 ? hash_kind::blake2b_256 : hash_kind::sha256;
}

// The hash of a whole record (frame and body, padding included).
[[nodiscard]] hash hash_of(hash_kind k, std::span<const std::uint8_t> frame);
[[nodiscard]] std::string to_hex(const hash& h);
[[nodiscard]] std::optional<hash> from_hex(std::string_view hex);

// The frame length (8 + body length) that the header at h announces, if its length
// fields agree with each other; h must hold record_header_bytes.
[[nodiscard]] std::optional<std::size_t> frame_length(const std::uint8_t* h);

[[nodiscard]] inline std::uint64_t offset_of(const std::uint8_t* h) { return format::get_u64(h + format::at_offset); }

struct parsed {
  std::uint64_t off = 0;
  std::int64_t log_time = 0;
  std::uint64_t id_hi = 0;
  std::uint64_t id_lo = 0;
  hash prev{};
  std::string_view topic;
  std::span<const std::uint8_t> envelope;
  std::span<const std::uint8_t> signature;
  std::span<const std::uint8_t> frame;  // the whole record, for hash_of
};

// Decodes the record of frame_len bytes at p (frame_len from frame_length(p)) if its
// CRC matches. Views point into p.
[[nodiscard]] std::optional<parsed> parse(const std::uint8_t* p, std::size_t frame_len);

}  // namespace hub::log::record
