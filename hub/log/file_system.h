// The file I/O seam of the event log, like leveldb's Env: the log does every read,
// write, sync, rename and lock through this interface, so that tests can inject a
// full disk on write N or a failing fsync without mounting anything.
//
// Errors are values. A status from here names the path and the operation and maps
// ENOSPC/EDQUOT to errc::no_space, everything else to errc::io_error (or
// errc::unavailable for a lock held by another process).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "hub/common/status.h"

namespace hub::log {

// One open file. Positional I/O only (no shared file pointer), so one thread may
// write and read while another syncs the same file: write_at/read_at/truncate from
// the owner's thread, sync() from any thread.
class file {
 public:
  virtual ~file() = default;

  // Writes all of data at pos with as few system calls as the OS allows (one, unless
  // it returns short). On error some bytes may have been written; the caller
  // truncates back.
  virtual status write_at(std::uint64_t pos, std::span<const std::uint8_t> data) = 0;

  // Reads up to out.size() bytes at pos; returns how many (fewer only at end of file).
  virtual result<std::size_t> read_at(std::uint64_t pos, std::span<std::uint8_t> out) const = 0;

  // Flushes the file's data (fdatasync) to stable storage. Any thread.
  virtual status sync() = 0;

  // Cuts or extends the file to size bytes.
  virtual status truncate(std::uint64_t size) = 0;

  // The file's current size in bytes.
  [[nodiscard]] virtual result<std::uint64_t> size() const = 0;
};

// An exclusive lock on a data directory, held until the object is destroyed.
class dir_lock {
 public:
  virtual ~dir_lock() = default;
};

enum class open_mode : std::uint8_t {
  read_only = 1,     // must exist
  read_write = 2,    // created if missing, kept if present
  truncate = 3,      // created if missing, emptied if present
};

class file_system {
 public:
  virtual ~file_system() = default;

  virtual result<std::unique_ptr<file>> open(const std::filesystem::path& p, open_mode mode) = 0;
  virtual status rename(const std::filesystem::path& from, const std::filesystem::path& to) = 0;
  // Removing a missing file is not an error.
  virtual status remove(const std::filesystem::path& p) = 0;
  // Makes renames and new names in the directory durable (fsync of the directory).
  virtual status sync_dir(const std::filesystem::path& dir) = 0;
  // Creates the directory and its parents if missing; fails if p is not a directory.
  virtual status create_dirs(const std::filesystem::path& dir) = 0;
  // Names (not paths) of the regular files directly in dir.
  virtual result<std::vector<std::string>> list(const std::filesystem::path& dir) = 0;
  // Takes an exclusive, non-blocking lock on the file p (created if missing) and
  // writes our pid into it. A lock held elsewhere returns errc::unavailable with the
  // holder's pid in the message.
  virtual result<std::unique_ptr<dir_lock>> lock(const std::filesystem::path& p) = 0;
};

// The real POSIX file system. Thread-safe; lives for the whole process.
file_system& default_file_system();

}  // namespace hub::log
