// HXL (Humanitarian Exchange Language) columns: finds the hashtag row the way libhxl
// does and looks columns up by hashtag and attributes.
//
// The hashtag row is the first row, among the first `max_header_rows`, whose non-empty
// cells are at least half hashtags (`#org+name`); any number of title rows may come
// before it. Hashtags and attributes are case-insensitive, attribute order does not
// matter, untagged columns are ignored. Pre-1.0 (2014) tags with underscores are read
// as their modern form: `#adm1_id` -> `#adm1+code`, `#activity_id` -> `#activity+code`,
// `#period_date` -> `#date`, `#lat_deg` -> `#geo+lat`, `#lon_deg` -> `#geo+lon`,
// `#x_y` other suffixes -> `#x+y`.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/common/csv.h"
#include "hub/common/status.h"

namespace hub::adapters {

// One tagged column.
struct hxl_column {
  std::size_t index = 0;                 // position in the row
  std::string tag;                       // lower case, without '#': "adm1"
  std::vector<std::string> attributes;   // lower case, sorted: {"code"}
  std::string spec;                      // as written in the file
  bool legacy = false;                   // read from a pre-1.0 underscore tag
};

// A note about the hashtag row that the importer should pass on to the user.
struct hxl_note {
  std::size_t column = 0;  // 1-based column number
  std::string text;
};

class hxl_columns {
 public:
  // Reads rows from `reader` until the hashtag row (at most max_header_rows rows).
  // invalid_argument when there is none, saying what was looked for and where.
  static result<hxl_columns> read_header(csv_reader& reader, std::size_t max_header_rows = 25);
  // From a row already known to be the hashtag row (for tests and other readers).
  static std::optional<hxl_columns> from_row(const csv_row& row);

  // The first column with this tag that has every attribute in `with` and none in
  // `without` (attributes without '+', any case). nullopt when there is none.
  [[nodiscard]] std::optional<std::size_t> find(std::string_view tag,
                                                std::initializer_list<std::string_view> with = {},
                                                std::initializer_list<std::string_view> without = {}) const;
  // The trimmed cell of a row for that column, or "" when the column is absent.
  [[nodiscard]] std::string cell(const csv_row& row, std::optional<std::size_t> col) const;

  [[nodiscard]] const std::vector<hxl_column>& columns() const { return columns_; }
  [[nodiscard]] const std::vector<hxl_note>& notes() const { return notes_; }
  [[nodiscard]] std::size_t header_line() const { return header_line_; }
  [[nodiscard]] bool legacy() const { return legacy_; }

 private:
  std::vector<hxl_column> columns_;
  std::vector<hxl_note> notes_;
  std::size_t header_line_ = 0;
  bool legacy_ = false;
};

// Parses one cell as a hashtag spec ("#adm1+code", "#adm1_id"); nullopt if it is not one.
[[nodiscard]] std::optional<hxl_column> parse_hashtag(std::string_view cell);

}  // namespace hub::adapters
