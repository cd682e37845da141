#include "adapters/common/hxl.h"

#include <algorithm>
#include <cctype>

#include "adapters/common/text.h"

namespace hub::adapters {
namespace {

bool is_name(std::string_view s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// Pre-1.0 suffixes and their modern attributes.
void modernise(hxl_column& c) {
  struct map { const char* suffix; const char* tag; const char* attr; };
  static constexpr map exact[] = {
      {"period_date", "date", ""}, {"lat_deg", "geo", "lat"}, {"lon_deg", "geo", "lon"},
      {"report_date", "date", "reported"}, {"start_date", "date", "start"}, {"end_date", "date", "end"},
  };
  for (const auto& m : exact) {
    if (c.tag == m.suffix) {
      c.tag = m.tag;
      if (*m.attr) c.attributes.emplace_back(m.attr);
      c.legacy = true;
      return;
    }
  }
  if (c.tag.rfind("x_", 0) == 0) return;  // extension tags keep their underscores
  auto us = c.tag.find('_');
  if (us == std::string::npos) return;
  std::string base = c.tag.substr(0, us);
  std::string rest = c.tag.substr(us + 1);
  if (rest == "id" || rest == "pcode") rest = "code";
  c.tag = base;
  c.attributes.push_back(rest);
  c.legacy = true;
}

}  // namespace

std::optional<hxl_column> parse_hashtag(std::string_view cell) {
  auto s = trim(cell);
  if (s.size() < 2 || s[0] != '#') return std::nullopt;
  s.remove_prefix(1);
  hxl_column c;
  c.spec = std::string(trim(cell));
  std::size_t plus = s.find('+');
  auto tag = trim(s.substr(0, plus));
  if (!is_name(tag)) return std::nullopt;
  c.tag = lower(tag);
  while (plus != std::string_view::npos) {
    auto next = s.find('+', plus + 1);
    auto attr = trim(s.substr(plus + 1, next == std::string_view::npos ? std::string_view::npos : next - plus - 1));
    if (!is_name(attr)) return std::nullopt;
    c.attributes.push_back(lower(attr));
    plus = next;
  }
  modernise(c);
  std::sort(c.attributes.begin(), c.attributes.end());
  c.attributes.erase(std::unique(c.attributes.begin(), c.attributes.end()), c.attributes.end());
  return c;
}

std::optional<hxl_columns> hxl_columns::from_row(const csv_row& row) {
  std::size_t non_empty = 0, tags = 0, fuzzy = 0;
  for (const auto& f : row.fields) {
    auto t = trim(f);
    if (t.empty()) continue;
    ++non_empty;
    if (parse_hashtag(t)) ++tags;
    else if (parse_hashtag("#" + std::string(t))) ++fuzzy;
  }
  // At least one real hashtag, and at least half the non-empty cells are hashtags
  // (libhxl's rule); cells that would be hashtags with a '#' do not count for the half
  // but are read (and reported) once the row qualifies.
  if (tags == 0 || tags * 2 < non_empty) return std::nullopt;
  hxl_columns h;
  h.header_line_ = row.line;
  for (std::size_t i = 0; i < row.fields.size(); ++i) {
    auto t = trim(row.fields[i]);
    if (t.empty()) continue;
    auto c = parse_hashtag(t);
    if (!c) {
      auto f = parse_hashtag("#" + std::string(t));
      if (f) {
        h.notes_.push_back({i + 1, "\"" + std::string(t) + "\" lacks its '#'; read as #" +
                                       std::string(t) + " (add the '#' to silence this)"});
        c = f;
      } else {
        h.notes_.push_back({i + 1, "\"" + std::string(t) + "\" is not a hashtag; column ignored"});
        continue;
      }
    }
    c->index = i;
    for (const auto& prev : h.columns_) {
      if (prev.tag == c->tag && prev.attributes == c->attributes) {
        h.notes_.push_back({i + 1, "hashtag " + c->spec + " repeats column " +
                                       std::to_string(prev.index + 1) +
                                       " without a distinguishing attribute; the first is used"});
        break;
      }
    }
    if (c->legacy) h.legacy_ = true;
    h.columns_.push_back(std::move(*c));
  }
  return h;
}

result<hxl_columns> hxl_columns::read_header(csv_reader& reader, std::size_t max_header_rows) {
  std::size_t rows = 0;
  bool hash_like = false;
  while (rows < max_header_rows) {
    auto row = reader.next();
    if (!row) break;
    ++rows;
    if (auto h = from_row(*row)) return std::move(*h);
    for (const auto& f : row->fields)
      if (!trim(f).empty() && trim(f)[0] == '#') hash_like = true;
  }
  if (!reader.error().is_ok()) return reader.error();
  std::string what = reader.file().string() + ": not an HXL file: no hashtag row (a row of cells like "
                     "#org, #adm1+code) in the first " + std::to_string(rows) + " rows";
  if (hash_like) what += " (some cells start with '#' but fewer than half the row's cells are hashtags)";
  what += "; add the HXL hashtag row under the column headers (https://hxlstandard.org)";
  return status::invalid_argument(what);
}

std::optional<std::size_t> hxl_columns::find(std::string_view tag,
                                              std::initializer_list<std::string_view> with,
                                              std::initializer_list<std::string_view> without) const {
  auto t = lower(tag);
  for (const auto& c : columns_) {
    if (c.tag != t) continue;
    bool ok = true;
    for (auto a : with)
      if (std::find(c.attributes.begin(), c.attributes.end(), lower(a)) == c.attributes.end()) ok = false;
    for (auto a : without)
      if (std::find(c.attributes.begin(), c.attributes.end(), lower(a)) != c.attributes.end()) ok = false;
    if (ok) return c.index;
  }
  return std::nullopt;
}

std::string hxl_columns::cell(const csv_row& row, std::optional<std::size_t> col) const {
  if (!col) return {};
  return clean_text(row.at(*col));
}

}  // namespace hub::adapters
