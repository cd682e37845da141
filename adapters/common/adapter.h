// The shared adapter runtime. An adapter program is
//
//   int main(int argc, char** argv) {
//     return hub::adapters::run_adapter(argc, argv, definition());
//   }
//
// where the definition names the adapter, its entity and default classification, and
// its sources (one reader per file kind). The runtime gives every adapter the same
// command line:
//
//   NAME import FILE...        one-shot import, then a summary
//   NAME watch DIR             imports new or changed files (polling), until SIGINT/SIGTERM;
//                              a file is read once it is unchanged for one scan (a sender
//                              still writing it is waited for; names starting with "." or
//                              ending .tmp/.part are ignored), and each file gets a line
//                              "imported FILE: read R, published P, skipped S, duplicates D"
//   --hub ENDPOINT             hub endpoint (repeatable, tried in order)
//   --dry-run                  print events as JSON lines on stdout, publish nothing
//   --spool FILE               SDK store-and-forward file
//   --kind KIND                read every file as this source kind (default: guess)
//   --country ISO3             country for records that carry none (e.g. a 3W sheet)
//   --classification LEVEL     overrides the adapter's default classification
//   --pcodes FILE              P-code table (default: $HUB_PCODES or the shipped subset);
//                              centroids from $HUB_CENTROIDS or the shipped table are added
//   --encoding utf8|latin1     latin1: convert non-UTF-8 lines instead of refusing
//   --state FILE --poll-interval MS --once      watch mode (a dry run never writes the state)
//   --heartbeat-interval MS    AdapterHeartbeat period (entity hub; filed under the run's
//                              country, else the last record's, else "XXX" while none is known)
//   --server-key FILE --client-key FILE         CURVE keys (placeholder until issue 7)
//   --progress auto|bar|lines|none              progress on stderr (records read so far in
//                              the run; a line ends each file that showed progress)
//   --progress-interval MS     ms between progress lines (lines mode; default 2000)
//
// Bad records never abort an import: each is reported on stderr as `file:line: reason`
// and counted as skipped. A file that is not what its kind claims is refused with one
// clear line and the exit code is 1. Exit codes: 0 ok, 1 a file refused or unreadable,
// 2 bad command line, 3 events not acknowledged by the hub (refused, or flush timed out;
// with --spool they stay in the spool).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/common/csv.h"
#include "adapters/common/envelope.h"
#include "adapters/common/geo.h"
#include "hub/common/status.h"
#include "schemas/events_generated.h"

namespace hub::adapters {

// What one import counted. `published` counts events the hub stored as new (or, in dry
// run and library use, events emitted); `duplicates` counts events the hub acknowledged
// as already stored.
struct import_summary {
  std::uint64_t files = 0;
  std::uint64_t files_refused = 0;
  std::uint64_t read = 0;        // records read from sources
  std::uint64_t emitted = 0;     // events built and handed to the sink
  std::uint64_t published = 0;
  std::uint64_t skipped = 0;     // records that could not be mapped (reported with their line)
  std::uint64_t duplicates = 0;
  std::uint64_t refused = 0;     // events the hub refused
  std::uint64_t warnings = 0;    // records imported with a remark
  std::int64_t last_record_time = 0;
};

// A problem with one record (or a remark on a header), as reported to the user.
struct record_issue {
  std::string file;
  std::size_t line = 0;   // 0 when the issue concerns the whole file
  std::string reason;
  bool skipped = true;    // false: a warning, the record was still imported
  [[nodiscard]] std::string to_string() const;  // "file:line: reason"
};

// Settings shared by every source reader during one run. Read-only for readers.
struct adapter_settings {
  std::string source_system;                       // the adapter's name
  schema::Entity entity = schema::Entity::unspecified;
  schema::Classification classification = schema::Classification::internal;
  bool classification_forced = false;              // --classification given
  std::string country;                             // --country, may be empty
  const pcode_table* pcodes = nullptr;             // may be null (no table found)
  csv_options csv;                                 // encoding policy from --encoding
};

// Handed to a source reader for one file. Not thread-safe; the reader calls it from the
// thread that called read().
class import_context {
 public:
  using sink_fn = std::function<void(std::vector<std::uint8_t> envelope)>;
  using issue_fn = std::function<void(const record_issue&)>;
  // Bytes of the file done, the file's size, and records read from it so far.
  using progress_fn = std::function<void(std::uint64_t done, std::uint64_t total, std::uint64_t records)>;

  import_context(std::filesystem::path file, const adapter_settings& settings, sink_fn sink,
                 issue_fn on_issue = {}, progress_fn on_progress = {});

  [[nodiscard]] const std::filesystem::path& file() const { return file_; }
  [[nodiscard]] const adapter_settings& settings() const { return settings_; }

  // A record was read from the source (call once per record, mapped or not).
  void record_read();
  // Builds the envelope (see build_envelope) and hands it to the sink. A failure to
  // build is reported as skip(line, ...) and returns false.
  bool emit(std::size_t line, flatbuffers::FlatBufferBuilder& fbb, const envelope_fields& f,
            schema::Payload type, flatbuffers::Offset<void> payload);
  // The record on `line` cannot be mapped: reported as "file:line: reason", counted.
  void skip(std::size_t line, std::string reason);
  // The record on `line` was imported but something in it was odd (reported, counted).
  void warn(std::size_t line, std::string reason);
  // Bytes of the file consumed so far, for the progress display.
  void progress(std::uint64_t done, std::uint64_t total);

  // envelope_fields with source_system, entity and classification from the settings.
  [[nodiscard]] envelope_fields base_fields() const;

  [[nodiscard]] const import_summary& counts() const { return counts_; }
  [[nodiscard]] const std::vector<record_issue>& issues() const { return issues_; }

 private:
  std::filesystem::path file_;
  const adapter_settings& settings_;
  sink_fn sink_;
  issue_fn on_issue_;
  progress_fn on_progress_;
  import_summary counts_;
  std::vector<record_issue> issues_;
};

// One kind of file an adapter reads.
struct source {
  std::string kind;         // "hxl-3w", "ucdp-ged", ... (for --kind and messages)
  std::string description;  // one line for --help
  // True if this reader takes the file, judged from its name and first bytes (up to
  // 4 KiB). Readers are asked in order; the first that claims a file reads it.
  std::function<bool(const std::filesystem::path& file, std::string_view head)> claims;
  // Reads the whole file, reporting through ctx. A non-ok status means the file is
  // refused (not what it claims): its message says what, where and what to do, e.g.
  // "no HXL hashtag row in the first 25 rows; add a row of #hashtags under the headers".
  std::function<status(import_context& ctx)> read;
};

struct adapter_definition {
  std::string name;          // program and source-system name, e.g. "country-team-adapter"
  std::string description;   // one line for --help
  schema::Entity entity = schema::Entity::unspecified;
  schema::Classification default_classification = schema::Classification::internal;
  std::vector<source> sources;
};

// Result of importing one file through the library (what the tests use).
struct file_import {
  status refused;                       // ok, or why the file was refused
  const source* used = nullptr;         // the reader that read it
  import_summary counts;
  std::vector<record_issue> issues;
};

// Picks the source for a file: `kind` if given (nullptr if no such kind), else the first
// source that claims it (nullptr if none does).
[[nodiscard]] const source* pick_source(const adapter_definition& def,
                                        const std::filesystem::path& file,
                                        std::string_view kind = {});

// Imports one file without a hub: envelopes go to `sink`. Used by the runtime and by
// tests. A file no source claims is refused with a message listing the kinds.
file_import import_file(const adapter_definition& def, const adapter_settings& settings,
                        const std::filesystem::path& file,
                        const import_context::sink_fn& sink, std::string_view kind = {},
                        const import_context::issue_fn& on_issue = {});

// The same, with a progress callback (bytes of the file done, file size, records read).
file_import import_file_with_progress(const adapter_definition& def,
                                      const adapter_settings& settings,
                                      const std::filesystem::path& file,
                                      const import_context::sink_fn& sink, std::string_view kind,
                                      const import_context::issue_fn& on_issue,
                                      const import_context::progress_fn& on_progress);

// Settings with the definition's defaults and the default P-code table (loaded once,
// shared). For tests and the runtime.
[[nodiscard]] adapter_settings default_settings(const adapter_definition& def);
// Adds the default centroid table (default_centroid_file()) to a P-code table, with a
// warning when it cannot be read. Before the table is shared.
void add_default_centroids(pcode_table& table);

// The whole program: parses argv, runs import or watch, prints the summary. Never
// throws; returns the exit code described above.
int run_adapter(int argc, char** argv, const adapter_definition& def);

// The first bytes of a file (up to `max`), for source::claims; empty if unreadable.
[[nodiscard]] std::string read_head(const std::filesystem::path& file, std::size_t max = 4096);
// True if the file name ends with one of the extensions (case-insensitive, with dot).
[[nodiscard]] bool has_extension(const std::filesystem::path& file,
                                 std::initializer_list<std::string_view> exts);

}  // namespace hub::adapters
