// Streams an IATI Activity Standard XML file activity by activity.
//
// The file is read in chunks; each `<iati-activity>...</iati-activity>` element is cut
// out of the byte stream as text (comments, CDATA sections, processing instructions,
// quoted attribute values containing '>' and namespace prefixes on element names are
// understood) and handed to the caller, who parses it on its own (iati_activity.h).
// Memory use is bounded by the chunk size plus the largest single activity, never by
// the file size.
//
// One reader per thread; not copyable.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hub/common/status.h"

namespace hub::adapters::iati {

// The versions of the Activity Standard this reader maps.
inline constexpr std::string_view supported_versions = "2.01, 2.02, 2.03";

// What the root element `<iati-activities>` says.
struct file_header {
  std::string version;          // the version attribute as written ("2.03", "xx", ...)
  bool version_supported = false;  // 2.01-2.03
  std::size_t line = 0;         // line of the root start tag
  std::string root_start_tag;   // the root start tag as written (namespace declarations)
  std::string encoding;         // the XML declaration's encoding, lower case ("" if none)
};

// One activity cut from the file. `xml` stays valid until the next call to next().
struct activity_text {
  std::size_t line = 0;       // line of `<iati-activity` (1-based)
  std::string_view xml;       // `<iati-activity ...>...</iati-activity>`, or broken text
  std::string problem;        // non-empty when the element could not be cut cleanly
                              // (e.g. the file ends inside it); xml may then be partial
};

// A remark on the file as a whole (the import goes on).
struct file_note {
  std::size_t line = 0;
  std::string text;
};

class reader {
 public:
  // Opens the file and reads up to the root start tag. Refuses (invalid_argument, with
  // what, where and what to do) a file that is not XML or is UTF-16, whose root is not
  // <iati-activities>, or that declares IATI 1.0x or no version at all; not_found or
  // io_error when the file cannot be read. A version that is neither 1.0x nor 2.01-2.03
  // (e.g. "xx") is accepted with a note: its activities are mapped one by one and
  // reported when they cannot be.
  static result<std::unique_ptr<reader>> open(const std::filesystem::path& file,
                                               std::size_t chunk_size = 1 << 20);
  ~reader();
  reader(const reader&) = delete;
  reader& operator=(const reader&) = delete;

  [[nodiscard]] const file_header& header() const { return header_; }

  // The next activity, or nullopt at the end of the file or after a read error (see
  // error()).
  std::optional<activity_text> next();

  // io_error when reading failed part way; ok otherwise (also at a clean end).
  [[nodiscard]] const status& error() const { return error_; }
  // Remarks gathered so far (leading white space before the declaration, text after the
  // root, a root that is never closed...).
  [[nodiscard]] const std::vector<file_note>& notes() const { return notes_; }
  [[nodiscard]] std::uint64_t bytes_read() const { return consumed_ + pos_; }
  [[nodiscard]] std::uint64_t file_size() const { return file_size_; }
  // The largest number of bytes the reader held at once (for the memory tests).
  [[nodiscard]] std::size_t peak_buffer() const { return peak_buffer_; }

 private:
  reader() = default;
  enum class token_kind : std::uint8_t { text_end, comment, cdata, pi, doctype, start, end, empty, eof, error };
  struct token {
    token_kind kind = token_kind::eof;
    std::size_t begin = 0;  // offset of '<' in buffer_
    std::size_t end = 0;    // one past '>'
    std::string_view name;  // local name for start/end/empty tags
  };
  bool fill();
  token next_token();
  void advance(std::size_t to);
  void compact(std::size_t keep_from);
  status read_prolog();

  std::filesystem::path file_;
  std::ifstream in_;
  std::size_t chunk_size_ = 1 << 20;
  std::string buffer_;
  std::size_t pos_ = 0;             // scan position in buffer_
  std::uint64_t consumed_ = 0;      // bytes dropped from the front of buffer_
  std::size_t line_ = 1;            // line at pos_
  bool eof_ = false;
  bool root_closed_ = false;
  bool text_nonblank_ = false;    // text other than white space seen outside tags
  std::size_t depth_ = 0;           // element depth at pos_ (root = 1)
  std::uint64_t file_size_ = 0;
  std::size_t peak_buffer_ = 0;
  std::string current_;             // a partial activity handed out at end of file
  file_header header_;
  status error_;
  std::vector<file_note> notes_;
};

// The local part of an XML name: "ns1:version" -> "version".
[[nodiscard]] std::string_view local_name(std::string_view qualified);

}  // namespace hub::adapters::iati
