// Private to hub/log: the on-disk constants and little-endian codecs. The layouts are
// described in docs/log_format.md; change both together.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace hub::log::format {

// Segment file (format 3): 8-byte magic, u64 base offset, 32-byte hash of the record
// before the segment's first one (the chain head when the segment was created; zeros
// for the first segment of a log), then records. 48 bytes, so records start 8-aligned.
// Format 3 chains records with SHA-256, format 2 with BLAKE2b-256; otherwise they are
// the same, and a log may hold both (format 2 segments written before an upgrade, each
// record hashed by the algorithm of the segment that holds it).
inline constexpr std::array<std::uint8_t, 8> segment_magic = {'H', 'U', 'B', 'L', 'O', 'G', '0', '3'};
inline constexpr std::array<std::uint8_t, 8> segment_magic_v2 = {'H', 'U', 'B', 'L', 'O', 'G', '0', '2'};
// Format 1 (before the hash chain): refused with a clear message.
inline constexpr std::array<std::uint8_t, 8> segment_magic_v1 = {'H', 'U', 'B', 'L', 'O', 'G', '0', '1'};
inline constexpr std::size_t hash_bytes = 32;  // SHA-256 (format 3) or BLAKE2b-256 (format 2)
inline constexpr std::size_t segment_header_bytes = 8 + 8 + hash_bytes;

// Record: u32 body length, u32 CRC32C (of the length field and the body), body.
// Body: u64 offset, i64 log_time, u64 id.hi, u64 id.lo, prev_hash (32 bytes: the hash
// of the whole previous record, frame included), u16 topic length, u16 signature
// length, u32 envelope length, envelope bytes (8-aligned in the file), signature bytes,
// topic bytes, zero padding to the next multiple of 8.
inline constexpr std::size_t frame_bytes = 8;
inline constexpr std::size_t body_fixed_bytes = 8 + 8 + 8 + 8 + hash_bytes + 2 + 2 + 4;
inline constexpr std::size_t record_header_bytes = frame_bytes + body_fixed_bytes;  // 80
inline constexpr std::size_t record_align = 8;
inline constexpr std::size_t max_topic_bytes = 0xFFFF;
inline constexpr std::size_t max_signature_bytes = 0xFFFF;
inline constexpr std::size_t max_body_bytes = 16u << 20;
// Byte positions of the fields within a record.
inline constexpr std::size_t at_offset = 8;
inline constexpr std::size_t at_log_time = 16;
inline constexpr std::size_t at_id_hi = 24;
inline constexpr std::size_t at_id_lo = 32;
inline constexpr std::size_t at_prev_hash = 40;
inline constexpr std::size_t at_topic_len = 72;
inline constexpr std::size_t at_sig_len = 74;
inline constexpr std::size_t at_env_len = 76;

// Padding after the variable parts so the frame is a multiple of record_align bytes.
inline constexpr std::size_t padding_for(std::size_t unpadded_frame) {
  return (record_align - unpadded_frame % record_align) % record_align;
}
// Bytes of the body (the length field's value) for these parts.
inline constexpr std::size_t body_bytes_for(std::size_t topic, std::size_t sig, std::size_t env) {
  std::size_t unpadded = body_fixed_bytes + topic + sig + env;
  return unpadded + padding_for(frame_bytes + unpadded);
}

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
