// CRC32C (Castagnoli), the checksum on every record, index and checkpoint file.
// Pure and thread-safe. Uses the SSE4.2 crc32 instruction when the CPU has it, a
// table otherwise; both give the same value.
#pragma once

#include <cstdint>
#include <span>

namespace hub::log {

// Extends crc (the value returned for the bytes before) over data. Start with 0.
[[nodiscard]] std::uint32_t crc32c_extend(std::uint32_t crc, std::span<const std::uint8_t> data);

// The portable table-driven path, exposed so tests can check it against the
// hardware path.
[[nodiscard]] std::uint32_t crc32c_extend_portable(std::uint32_t crc,
                                                   std::span<const std::uint8_t> data);

[[nodiscard]] inline std::uint32_t crc32c(std::span<const std::uint8_t> data) {
  return crc32c_extend(0, data);
}

}  // namespace hub::log
