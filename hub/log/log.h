// The durable embedded event log: the hub's default store (issue 3).
//
// A directory of segment files, each holding records framed with their length and a
// CRC32C, rolled by size, with a sparse offset/time index per segment, retention by
// age and total size, a checkpoint file for durable consumers and a lock file that
// keeps a second process out. The byte layouts are in docs/log_format.md.
//
// It implements hub::store::store; that header's threading and durability contracts
// hold. In short: append()/read()/consumer calls/enforce_retention()/stats() on the
// event loop thread, sync() on the sync thread, durable_end() anywhere.
//
// Durability per fsync_policy:
// - batch: append() writes the batch with one write and no fsync; sync() fdatasyncs
//   what was written (the active segment and any segment rolled since) and only then
//   moves durable_end(). needs_sync() says when there is something to sync.
// - interval: durable_end() moves at append(); a background thread of the log
//   fdatasyncs every fsync_interval. A crash of the machine (not of the process) may
//   lose up to one interval.
// - never: durable_end() moves at append(); the OS writes back when it likes.
//
// Faults:
// - A write error (disk full, I/O error) makes append() return no_space/io_error;
//   the partial batch is cut off again, stats().writable turns false, reads go on,
//   and the next append() retries, so the log recovers by itself when space returns.
// - An fsync error: Linux may drop the unwritten pages after reporting it, so the log
//   cannot tell what is on disk past the last fsync that worked. sync() and append()
//   then fail with io_error. Under batch, discard_undurable() (the hub calls it when a
//   sync fails) cuts the log back to that synced point, dropping records that were
//   never acknowledged; the next append() fsyncs the cut file and, once that works,
//   writes again, so the log recovers by itself. Under interval and never the records
//   past the synced point may have been acknowledged: nothing is dropped and the error
//   stays until the log is reopened.
// - A corrupt record in an older segment is counted (stats().corrupt_skipped),
//   logged with its segment and byte position, and skipped by read().
// - At open, a torn or corrupt tail of a segment is cut off and logged.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>

#include "hub/common/status.h"
#include "hub/log/file_system.h"
#include "hub/store/store.h"

namespace hub::log {

enum class fsync_policy : std::uint8_t {
  batch = 1,     // fsync before a batch counts as durable (default)
  interval = 2,  // fsync every fsync_interval in the background
  never = 3,     // leave it to the OS
};

struct log_options {
  fsync_policy fsync = fsync_policy::batch;
  std::chrono::milliseconds fsync_interval{100};  // for fsync_policy::interval
  std::uint64_t segment_bytes = 64ull << 20;      // roll to a new segment beyond this
  std::chrono::seconds retention_age{0};          // drop segments older than this (0 = forever)
  std::uint64_t retention_bytes = 0;              // keep at most this many bytes (0 = unlimited)
  std::size_t index_interval_bytes = 4096;        // one index entry per this many bytes
};

// Opens (creating if needed) the log in dir. Fails with a message that names the
// directory when it cannot be created, read or written (io_error), when another
// process holds its lock (unavailable, with that process's pid), when an option is
// out of range (invalid_argument) or when the consumer checkpoint is corrupt
// (corruption). fs defaults to the real file system and must outlive the log.
[[nodiscard]] result<std::unique_ptr<store::store>> open_log(const std::filesystem::path& dir,
                                                            const log_options& opts,
                                                            file_system* fs = nullptr);

// "batch", "interval", "never", and back (nullopt for anything else).
[[nodiscard]] const char* fsync_policy_name(fsync_policy p);
[[nodiscard]] std::optional<fsync_policy> fsync_policy_from_name(std::string_view name);

}  // namespace hub::log
