// Private to hub/log: the on-disk constants and little-endian codecs. The layouts are
// described in docs/log_format.md; change both together.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace hub::log::format {

// Segment file: 8-byte magic, u64 base offset, then records.
inline constexpr std::array<std::uint8_t, 8> segment_magic = {'H', 'U', 'B', 'L', 'O', 'G', '0', '1'};
inline constexpr std::size_t segment_header_bytes = 16;

// Record: u32 body length, u32 CRC32C (of the length field and the body), body.
// Body: u64 offset, i64 log_time, u64 id.hi, u64 id.lo, u16 topic length,
// u32 envelope length, topic bytes, envelope bytes.
inline constexpr std::size_t frame_bytes = 8;
inline constexpr std::size_t body_fixed_bytes = 8 + 8 + 8 + 8 + 2 + 4;
inline constexpr std::size_t record_header_bytes = frame_bytes + body_fixed_bytes;
inline constexpr std::size_t max_topic_bytes = 0xFFFF;
inline constexpr std::size_t max_body_bytes = 16u << 20;

// Index file: magic, u64 base, u64 end offset, u64 segment size, i64 max log_time,
// u64 entry count, entries (u64 offset, u64 position, i64 max log_time before the
// record), u32 CRC32C of everything before it.
inline constexpr std::array<std::uint8_t, 8> index_magic = {'H', 'U', 'B', 'I', 'D', 'X', '0', '1'};
inline constexpr std::size_t index_header_bytes = 8 + 5 * 8;
inline constexpr std::size_t index_entry_bytes = 24;

// Checkpoint file: magic, u32 count, entries (u16 name length, name, u64 next
// offset), u32 CRC32C of everything before it.
inline constexpr std::array<std::uint8_t, 8> checkpoint_magic = {'H', 'U', 'B', 'C', 'K', 'P', '0', '1'};

inline void put_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}
inline void put_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline std::uint16_t get_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t get_u32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// "00000000000000000042.log" for base offset 42.
std::string segment_name(std::uint64_t base);
std::string index_name(std::uint64_t base);
inline constexpr const char* checkpoint_name = "consumers";
inline constexpr const char* checkpoint_temp_name = "consumers.tmp";
inline constexpr const char* lock_name = "LOCK";

}  // namespace hub::log::format
