// The publisher's store-and-forward spool: a file that holds every published envelope
// until the hub acknowledges it, so that events survive an adapter restart and long
// outages of the link. Private to the SDK; the byte layout is in docs/sdk.md.
//
// Layout: an 8-byte magic "HUBSPL01", then records, each
//   u32 body-length, u32 crc32(body), body = u8 kind, u64 key, bytes
// (little-endian). kind 1 puts an envelope under a key; kind 2 marks the key done.
//
// Threading: owned by one publisher, used from its thread only.
// Errors: an unusable file (cannot open, not a spool, cannot write) throws
// hub::sdk::error(spool_error) with the path and what to do. A torn tail (a crash in the
// middle of a write) is truncated with a warning; the records before it are kept.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace hub::sdk::detail {

class spool {
 public:
  struct entry {
    std::uint64_t key = 0;
    std::vector<std::uint8_t> bytes;
  };

  // Opens or creates the file and loads every envelope not marked done. The file is
  // rewritten to hold only those. Throws error(spool_error).
  spool(std::filesystem::path path, std::uint64_t max_bytes);
  ~spool();
  spool(const spool&) = delete;
  spool& operator=(const spool&) = delete;

  // The envelopes loaded at open, oldest first; empty after the first call.
  std::vector<entry> take_loaded();

  // Appends one envelope (not yet synced); returns its key, or nullopt when the file
  // would grow beyond max_bytes even after dropping done records. Throws on I/O error.
  std::optional<std::uint64_t> append(std::span<const std::uint8_t> bytes);
  // Makes every append so far durable (fsync). Throws on I/O error.
  void sync();
  // Marks a key done; the file shrinks to its header when nothing is left.
  void mark_done(std::uint64_t key);

  [[nodiscard]] std::size_t live() const { return live_keys_.size(); }
  [[nodiscard]] std::uint64_t size_bytes() const { return size_; }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  void write_record(std::uint8_t kind, std::uint64_t key, std::span<const std::uint8_t> bytes);
  void compact();
  [[noreturn]] void fail(const std::string& what) const;

  std::filesystem::path path_;
  std::uint64_t max_bytes_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::uint64_t next_key_ = 1;
  std::set<std::uint64_t> live_keys_;
  std::vector<entry> loaded_;
};

// CRC-32 (IEEE), as zlib computes it.
std::uint32_t crc32(std::span<const std::uint8_t> bytes);

}  // namespace hub::sdk::detail
