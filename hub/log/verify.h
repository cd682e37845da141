// Offline check of an event log directory (issue 7, provenance): every record's CRC,
// dense offsets, and the hash chain (each record carries the hash of the one before it:
// SHA-256 in format 3 segments, BLAKE2b-256 in format 2 ones). Finds a record altered or removed after it was written, and names it.
//
// It reads the segment files directly and takes no lock, so it can run beside a hub;
// the newest records may then still be in flight and show as a torn tail (a note, not
// a problem). The chain starts at the first retained record: retention legitimately
// drops the oldest segments. Removing the newest records cannot be seen from the log
// alone; the report's head (hash of the last record) is what an operator anchors
// elsewhere and passes back as `anchor` later.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hub/common/status.h"
#include "hub/store/store.h"

namespace hub::log {

struct verify_anchor {
  std::uint64_t off = 0;
  std::string hash_hex;  // 64 hex digits, as printed by verify or log stats
};

struct verify_options {
  std::optional<verify_anchor> anchor;
  // Called for every record that passed its checks (views valid during the call);
  // returns a problem to report about it (e.g. a signature that does not verify).
  std::function<std::optional<std::string>(const store::record_view&)> check_record;
};

struct verify_problem {
  std::optional<std::uint64_t> off;  // the record it names, if one
  std::string segment;               // file name, empty if none
  std::uint64_t position = 0;        // byte position in the segment
  std::string what;                  // "checksum mismatch: ...", "chain break: ...", "offset gap: ..."
  [[nodiscard]] std::string text() const;  // one line naming offset, segment, byte and what
};

struct verify_report {
  std::vector<verify_problem> problems;
  std::vector<std::string> notes;  // not failures: a torn tail, an anchor dropped by retention
  std::uint64_t segments = 0;
  std::uint64_t records = 0;       // valid records seen
  std::uint64_t begin = 0;         // first offset of the first segment
  std::uint64_t end = 0;           // one past the last valid record's offset
  std::string head;                // hex hash of the last valid record (the chain's head)
  std::uint64_t signed_records = 0;
  [[nodiscard]] bool ok() const { return problems.empty(); }
};

// Fails (io_error, not_found) only when the directory cannot be read or holds no
// segment; everything wrong inside the files is in the report.
[[nodiscard]] result<verify_report> verify_log(const std::filesystem::path& dir, const verify_options& opts = {});

}  // namespace hub::log
