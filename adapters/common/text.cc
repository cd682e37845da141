#include "adapters/common/text.h"

#include <array>
#include <charconv>
#include <cctype>
#include <cstring>

namespace hub::adapters {
namespace {

bool is_space_byte(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

// Length of a leading invisible sequence at s[i]: U+00A0 (C2 A0), U+200B (E2 80 8B),
// U+FEFF (EF BB BF); 0 if none.
std::size_t invisible_at(std::string_view s, std::size_t i) {
  auto u = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  if (i + 2 <= s.size() && u(i) == 0xC2 && u(i + 1) == 0xA0) return 2;
  if (i + 3 <= s.size() && u(i) == 0xE2 && u(i + 1) == 0x80 && u(i + 2) == 0x8B) return 3;
  if (i + 3 <= s.size() && u(i) == 0xEF && u(i + 1) == 0xBB && u(i + 2) == 0xBF) return 3;
  return 0;
}

std::size_t invisible_before(std::string_view s, std::size_t end) {
  auto u = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  if (end >= 2 && u(end - 2) == 0xC2 && u(end - 1) == 0xA0) return 2;
  if (end >= 3 && u(end - 3) == 0xE2 && u(end - 2) == 0x80 && u(end - 1) == 0x8B) return 3;
  if (end >= 3 && u(end - 3) == 0xEF && u(end - 2) == 0xBB && u(end - 1) == 0xBF) return 3;
  return 0;
}

}  // namespace

std::string_view trim(std::string_view s) {
  std::size_t b = 0;
  while (b < s.size()) {
    if (is_space_byte(static_cast<unsigned char>(s[b]))) { ++b; continue; }
    auto n = invisible_at(s, b);
    if (n == 0) break;
    b += n;
  }
  std::size_t e = s.size();
  while (e > b) {
    if (is_space_byte(static_cast<unsigned char>(s[e - 1]))) { --e; continue; }
    auto n = invisible_before(s, e);
    if (n == 0 || e - n < b) break;
    e -= n;
  }
  return s.substr(b, e - b);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string clean_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    auto u0 = static_cast<unsigned char>(s[i]);
    if (i + 3 <= s.size() && ((u0 == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                               static_cast<unsigned char>(s[i + 2]) == 0x8B) ||
                              (u0 == 0xEF && static_cast<unsigned char>(s[i + 1]) == 0xBB &&
                               static_cast<unsigned char>(s[i + 2]) == 0xBF))) {
      i += 3;
      continue;
    }
    out.push_back(s[i]);
    ++i;
  }
  return std::string(trim(out));
}

std::string name_key(std::string_view s) {
  // Latin-1 supplement letters (U+00C0..U+00FF, UTF-8 C3 xx) folded to ASCII.
  static constexpr const char* fold =
      "AAAAAAACEEEEIIII"  // C0-CF
      "DNOOOOO*OUUUUYTs"  // D0-DF
      "aaaaaaaceeeeiiii"  // E0-EF
      "dnooooo/ouuuuyty"; // F0-FF
  std::string out;
  out.reserve(s.size());
  bool space = false;
  auto put = [&](char c) {
    if (c == ' ') {
      space = !out.empty();
      return;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  };
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (auto n = invisible_at(s, i); n > 0) {
      if (n == 2) put(' ');  // no-break space separates words
      i += n;
      continue;
    }
    if ((c == 0xC4 || c == 0xC5) && i + 1 < s.size()) {
      // Latin Extended-A (U+0100..U+017F): "Barisāl" -> "barisal".
      static constexpr const char* ext =
          "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIiIiJjKkkLlLlLlLlLlNnNnNnnNnOoOoOoOoRrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";
      auto d = static_cast<unsigned char>(s[i + 1]);
      if (d >= 0x80 && d <= 0xBF) {
        std::size_t idx = static_cast<std::size_t>((c - 0xC4) * 64 + (d - 0x80));
        if (idx < 128) put(ext[idx]);
        i += 2;
        continue;
      }
    }
    if (c == 0xC3 && i + 1 < s.size()) {
      auto d = static_cast<unsigned char>(s[i + 1]);
      if (d >= 0x80 && d <= 0xBF) {
        char f = fold[d - 0x80];
        if (f != '*' && f != '/') put(f);
        i += 2;
        continue;
      }
    }
    if (c == '_' || c == '-' || c == '.' || c == '\'' || c == ',' || c == '/' || is_space_byte(c)) {
      put(' ');
    } else {
      put(static_cast<char>(c));
    }
    ++i;
  }
  return out;
}

bool is_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c < 0x80) { ++i; continue; }
    if (c >= 0xC2 && c <= 0xDF) n = 1;
    else if (c >= 0xE0 && c <= 0xEF) n = 2;
    else if (c >= 0xF0 && c <= 0xF4) n = 3;
    else return false;
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
    }
    auto d1 = static_cast<unsigned char>(s[i + 1]);
    if (c == 0xE0 && d1 < 0xA0) return false;  // overlong
    if (c == 0xED && d1 > 0x9F) return false;  // surrogates
    if (c == 0xF0 && d1 < 0x90) return false;
    if (c == 0xF4 && d1 > 0x8F) return false;
    i += n + 1;
  }
  return true;
}

std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc() && p == s.data() + s.size()) return v;
  // "250.0": an integer written as a float.
  if (auto d = parse_double(s); d && *d == static_cast<double>(static_cast<std::int64_t>(*d)))
    return static_cast<std::int64_t>(*d);
  return std::nullopt;
}

std::optional<double> parse_double(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  if (s.front() == '+') s.remove_prefix(1);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  if (v != v) return std::nullopt;  // NaN
  return v;
}

std::int64_t days_to_ms(int y, int m, int d) {
  // Howard Hinnant's days_from_civil.
  y -= m <= 2 ? 1 : 0;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = static_cast<std::int64_t>(era) * 146097 + doe - 719468;
  return days * 86400000LL;
}

std::optional<int> month_from_name(std::string_view s) {
  auto k = name_key(s);
  if (k.size() < 3) return std::nullopt;
  struct m { const char* name; int n; };
  static constexpr std::array<m, 36> names{{
      {"january", 1}, {"february", 2}, {"march", 3}, {"april", 4}, {"may", 5}, {"june", 6},
      {"july", 7}, {"august", 8}, {"september", 9}, {"october", 10}, {"november", 11}, {"december", 12},
      {"janvier", 1}, {"fevrier", 2}, {"mars", 3}, {"avril", 4}, {"mai", 5}, {"juin", 6},
      {"juillet", 7}, {"aout", 8}, {"septembre", 9}, {"octobre", 10}, {"novembre", 11}, {"decembre", 12},
      {"enero", 1}, {"febrero", 2}, {"marzo", 3}, {"abril", 4}, {"mayo", 5}, {"junio", 6},
      {"julio", 7}, {"agosto", 8}, {"septiembre", 9}, {"octubre", 10}, {"noviembre", 11}, {"diciembre", 12},
  }};
  for (const auto& e : names)
    if (k == e.name) return e.n;
  // Three-letter English abbreviations, and "sept".
  for (int i = 0; i < 12; ++i)
    if (k.size() >= 3 && k.size() <= 4 && std::strncmp(names[static_cast<std::size_t>(i)].name, k.c_str(), k.size()) == 0)
      return i + 1;
  return std::nullopt;
}

namespace {

bool valid_ymd(int y, int m, int d) {
  static constexpr int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1800 || y > 2200 || m < 1 || m > 12 || d < 1) return false;
  if (d > mdays[m - 1]) return false;
  if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return false;
  return true;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

int to_int(std::string_view s) {
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

std::optional<date_value> parse_date(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  using P = schema::PeriodPrecision;
  // ISO forms: YYYY, YYYY-MM, YYYY-MM-DD, with an optional time part we ignore beyond the day
  // unless it carries hours (kept to the day: sources give midnight).
  if (s.size() >= 4 && all_digits(s.substr(0, 4))) {
    int y = to_int(s.substr(0, 4));
    if (s.size() == 4) {
      if (!valid_ymd(y, 1, 1)) return std::nullopt;
      return date_value{days_to_ms(y, 1, 1), P::year};
    }
    if (s.size() >= 7 && (s[4] == '-' || s[4] == '/') && all_digits(s.substr(5, 2))) {
      int m = to_int(s.substr(5, 2));
      if (s.size() == 7) {
        if (!valid_ymd(y, m, 1)) return std::nullopt;
        return date_value{days_to_ms(y, m, 1), P::month};
      }
      if (s.size() >= 10 && s[7] == s[4] && all_digits(s.substr(8, 2))) {
        int d = to_int(s.substr(8, 2));
        if (!valid_ymd(y, m, d)) return std::nullopt;
        std::int64_t ms = days_to_ms(y, m, d);
        if (s.size() == 10) return date_value{ms, P::day};
        auto rest = s.substr(10);
        if ((rest[0] == 'T' || rest[0] == ' ') && rest.size() >= 6 && all_digits(rest.substr(1, 2)) &&
            rest[3] == ':' && all_digits(rest.substr(4, 2))) {
          int hh = to_int(rest.substr(1, 2)), mm = to_int(rest.substr(4, 2));
          int ss = 0;
          if (rest.size() >= 9 && rest[6] == ':' && all_digits(rest.substr(7, 2))) ss = to_int(rest.substr(7, 2));
          if (hh > 23 || mm > 59 || ss > 60) return std::nullopt;
          return date_value{ms + (hh * 3600LL + mm * 60LL + ss) * 1000LL, P::day};
        }
        return std::nullopt;
      }
    }
    return std::nullopt;
  }
  // DD/MM/YYYY (day first, as UN field offices write it).
  if (s.size() == 10 && (s[2] == '/' || s[2] == '.') && s[5] == s[2] && all_digits(s.substr(0, 2)) &&
      all_digits(s.substr(3, 2)) && all_digits(s.substr(6, 4))) {
    int d = to_int(s.substr(0, 2)), m = to_int(s.substr(3, 2)), y = to_int(s.substr(6, 4));
    if (!valid_ymd(y, m, d)) return std::nullopt;
    return date_value{days_to_ms(y, m, d), P::day};
  }
  // "1 March 2015", "March 2015", "March 1, 2015".
  auto words = split_list(std::string(s), ' ');
  if (words.size() == 3 && all_digits(words[0]) && all_digits(words[2])) {
    auto m = month_from_name(words[1]);
    int d = to_int(words[0]), y = to_int(words[2]);
    if (m && valid_ymd(y, *m, d)) return date_value{days_to_ms(y, *m, d), P::day};
  }
  if (words.size() == 3 && all_digits(words[2])) {
    std::string dd = words[1];
    if (!dd.empty() && dd.back() == ',') dd.pop_back();
    auto m = month_from_name(words[0]);
    if (m && all_digits(dd) && valid_ymd(to_int(words[2]), *m, to_int(dd)))
      return date_value{days_to_ms(to_int(words[2]), *m, to_int(dd)), P::day};
  }
  if (words.size() == 2 && all_digits(words[1])) {
    auto m = month_from_name(words[0]);
    int y = to_int(words[1]);
    if (m && valid_ymd(y, *m, 1)) return date_value{days_to_ms(y, *m, 1), P::month};
  }
  return std::nullopt;
}

std::int64_t end_of(const date_value& d) {
  using P = schema::PeriodPrecision;
  const std::int64_t day = 86400000LL;
  std::int64_t days = d.ms >= 0 ? d.ms / day : (d.ms - day + 1) / day;
  // civil_from_days to find year and month
  std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = yoe + era * 400;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t m = mp + (mp < 10 ? 3 : -9);
  y += m <= 2 ? 1 : 0;
  switch (d.precision) {
    case P::year:
      return days_to_ms(static_cast<int>(y) + 1, 1, 1) - 1;
    case P::month:
      return m == 12 ? days_to_ms(static_cast<int>(y) + 1, 1, 1) - 1
                     : days_to_ms(static_cast<int>(y), static_cast<int>(m) + 1, 1) - 1;
    case P::quarter: {
      int qend = static_cast<int>(((m - 1) / 3 + 1) * 3);
      return qend == 12 ? days_to_ms(static_cast<int>(y) + 1, 1, 1) - 1
                        : days_to_ms(static_cast<int>(y), qend + 1, 1) - 1;
    }
    default:
      return days * day + day - 1;
  }
}

std::string content_digest(std::initializer_list<std::string_view> parts) {
  std::uint64_t h = 1469598103934665603ull;
  for (auto p : parts) {
    for (unsigned char c : p) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0x1f;  // unit separator: ("ab","c") differs from ("a","bc")
    h *= 1099511628211ull;
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = hex[h & 0xF];
    h >>= 4;
  }
  return out;
}

std::vector<std::string> split_list(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (b <= s.size()) {
    auto e = s.find(sep, b);
    if (e == std::string_view::npos) e = s.size();
    auto part = trim(s.substr(b, e - b));
    if (!part.empty()) out.emplace_back(part);
    b = e + 1;
  }
  return out;
}

}  // namespace hub::adapters
