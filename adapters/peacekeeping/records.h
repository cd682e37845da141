// Private: rows of a CSV with a header row, or JSON lines, as name -> value maps, so
// one mapping function serves both.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "adapters/common/adapter.h"

namespace hub::adapters::peacekeeping {

// Column names are normalised: lower case, spaces and '-' as '_' ("Admin Level" ->
// "admin_level").
struct record {
  std::size_t line = 0;
  std::unordered_map<std::string, std::string> values;
  // The trimmed value of the first of these names present and non-empty, or "".
  [[nodiscard]] std::string get(std::initializer_list<std::string_view> names) const;
  [[nodiscard]] bool has(std::string_view name) const { return values.count(std::string(name)) > 0; }
};

std::string column_key(std::string_view header);

using record_fn = std::function<void(const record&)>;

// Reads a CSV whose first row names the columns; a second row of HXL hashtags is
// skipped. `required` columns must all be in the header, else the file is refused
// naming the missing ones. Calls ctx.record_read() and ctx.progress() itself.
status for_each_csv_record(import_context& ctx, const std::vector<std::string>& required,
                           std::string_view what, const record_fn& fn);
// Reads JSON lines (one object per line; blank lines and lines starting with '#'
// ignored). A line that is not a JSON object is skipped with its reason; a file whose
// first line is not JSON is refused.
status for_each_json_line(import_context& ctx, const record_fn& fn);

}  // namespace hub::adapters::peacekeeping
