#include "adapters/peacekeeping/records.h"

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "adapters/common/csv.h"
#include "adapters/common/hxl.h"
#include "adapters/common/text.h"

namespace hub::adapters::peacekeeping {

std::string column_key(std::string_view header) {
  auto k = name_key(header);
  for (auto& c : k)
    if (c == ' ') c = '_';
  return k;
}

std::string record::get(std::initializer_list<std::string_view> names) const {
  for (auto n : names) {
    auto it = values.find(std::string(n));
    if (it == values.end()) continue;
    auto v = clean_text(it->second);
    if (!v.empty()) return v;
  }
  return {};
}

status for_each_csv_record(import_context& ctx, const std::vector<std::string>& required,
                           std::string_view what, const record_fn& fn) {
  auto opened = csv_reader::open(ctx.file(), ctx.settings().csv);
  if (!opened) return opened.error();
  auto& reader = **opened;
  std::optional<csv_row> header;
  while ((header = reader.next()) && header->blank()) {
  }
  if (!header) {
    if (!reader.error().is_ok()) return reader.error();
    return status::invalid_argument(ctx.file().string() + ": empty file; expected " + std::string(what));
  }
  std::vector<std::string> keys;
  for (const auto& h : header->fields) keys.push_back(column_key(h));
  std::string missing;
  for (const auto& r : required) {
    if (std::find(keys.begin(), keys.end(), r) == keys.end()) missing += (missing.empty() ? "" : ", ") + r;
  }
  if (!missing.empty())
    return status::invalid_argument(ctx.file().string() + ":" + std::to_string(header->line) + ": not " +
                                    std::string(what) + ": the header lacks " + missing);
  bool first = true;
  while (auto row = reader.next()) {
    ctx.progress(reader.bytes_read(), reader.file_size());
    if (row->blank()) continue;
    if (first) {
      first = false;
      if (hxl_columns::from_row(*row)) continue;  // HDX files carry a hashtag row
    }
    ctx.record_read();
    record r;
    r.line = row->line;
    for (std::size_t i = 0; i < keys.size(); ++i)
      if (!keys[i].empty()) r.values.emplace(keys[i], row->at(i));
    if (row->fields.size() > keys.size()) {
      bool extra = false;
      for (std::size_t i = keys.size(); i < row->fields.size(); ++i)
        if (!trim(row->fields[i]).empty()) extra = true;
      if (extra) {
        ctx.skip(r.line, std::to_string(row->fields.size()) + " fields but the header names " +
                             std::to_string(keys.size()) + "; a separator or quote is probably misplaced");
        continue;
      }
    }
    fn(r);
  }
  if (!reader.error().is_ok()) return reader.error();
  return status::ok();
}

status for_each_json_line(import_context& ctx, const record_fn& fn) {
  std::ifstream in(ctx.file(), std::ios::binary);
  if (!in) return status::io_error(ctx.file().string() + ": cannot be opened for reading");
  std::error_code ec;
  auto size = std::filesystem::file_size(ctx.file(), ec);
  std::string line;
  std::size_t n = 0, good = 0;
  std::uint64_t done = 0;
  while (std::getline(in, line)) {
    ++n;
    done += line.size() + 1;
    ctx.progress(done, size);
    if (n == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    auto t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(t);
    } catch (const nlohmann::json::parse_error& e) {
      if (good == 0 && n == 1)
        return status::invalid_argument(ctx.file().string() + ":1: not JSON lines (" + e.what() +
                                        "); expected one JSON object per line");
      ctx.record_read();
      ctx.skip(n, std::string("not valid JSON: ") + e.what());
      continue;
    }
    ctx.record_read();
    if (!j.is_object()) {
      ctx.skip(n, "not a JSON object");
      continue;
    }
    ++good;
    record r;
    r.line = n;
    for (auto it = j.begin(); it != j.end(); ++it) {
      const auto& v = it.value();
      std::string s;
      if (v.is_string()) s = v.get<std::string>();
      else if (v.is_array()) {
        for (const auto& e : v) {
          if (!s.empty()) s += ";";
          s += e.is_string() ? e.get<std::string>() : e.dump();
        }
      } else if (!v.is_null()) s = v.dump();
      r.values.emplace(column_key(it.key()), std::move(s));
    }
    fn(r);
  }
  return status::ok();
}

}  // namespace hub::adapters::peacekeeping
