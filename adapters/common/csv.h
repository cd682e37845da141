// A streaming CSV reader over libcsv: RFC 4180 quoting, quoted fields spanning lines,
// CRLF or LF, a UTF-8 byte-order mark skipped, and Latin-1 files either refused or
// converted. Reads the file line by line, so files of any size use little memory.
//
// One reader per thread; not copyable. A reader that failed (error() not ok) returns
// no more rows.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hub/common/status.h"

namespace hub::adapters {

// What to do with bytes that are not UTF-8 (the usual case is a sheet saved as
// ISO-8859-1 / Windows "ANSI").
enum class encoding_policy : std::uint8_t {
  refuse = 0,          // stop with an error naming the line and what to do
  convert_latin1 = 1,  // read the offending lines as ISO-8859-1 and convert to UTF-8
};

struct csv_options {
  char delimiter = ',';
  encoding_policy encoding = encoding_policy::refuse;
};

// One record: its fields, and the physical lines (1-based) it starts and ends on.
struct csv_row {
  std::size_t line = 0;
  std::size_t end_line = 0;
  std::vector<std::string> fields;
  // The field at index i, or "" when the row is shorter.
  [[nodiscard]] const std::string& at(std::size_t i) const;
  // True when every field is empty or white space.
  [[nodiscard]] bool blank() const;
};

class csv_reader {
 public:
  // Opens a file; not_found / io_error when it cannot be read.
  static result<std::unique_ptr<csv_reader>> open(const std::filesystem::path& file,
                                                  csv_options opts = {});
  ~csv_reader();
  csv_reader(const csv_reader&) = delete;
  csv_reader& operator=(const csv_reader&) = delete;

  // The next row, or nullopt at the end of the file or after an error (see error()).
  std::optional<csv_row> next();

  // Why reading stopped early: invalid_argument for bad encoding under `refuse`
  // ("FILE: line 3 is not UTF-8 (it looks like ISO-8859-1); save the file as UTF-8 or
  // use --encoding latin1"), io_error for a failed read.
  [[nodiscard]] const status& error() const { return error_; }
  // True once a line was converted from Latin-1.
  [[nodiscard]] bool converted_latin1() const { return converted_; }
  // The first line converted from Latin-1 (0 if none).
  [[nodiscard]] std::size_t first_converted_line() const { return first_converted_line_; }
  [[nodiscard]] std::uint64_t bytes_read() const { return bytes_read_; }
  [[nodiscard]] std::uint64_t file_size() const { return file_size_; }
  [[nodiscard]] const std::filesystem::path& file() const { return file_; }

 private:
  csv_reader() = default;
  bool feed_line();
  struct parser;
  std::unique_ptr<parser> parser_;
  std::filesystem::path file_;
  std::ifstream in_;
  csv_options opts_;
  status error_;
  bool converted_ = false;
  bool eof_ = false;
  std::size_t first_converted_line_ = 0;
  std::size_t line_ = 0;
  std::uint64_t bytes_read_ = 0;
  std::uint64_t file_size_ = 0;
};

}  // namespace hub::adapters
