// Small text helpers every adapter needs: trimming, case folding, name normalisation,
// UTF-8 checks and Latin-1 conversion, numbers and dates as sources write them.
// Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/events_generated.h"

namespace hub::adapters {

// Without leading and trailing ASCII white space, no-break spaces (U+00A0) and
// zero-width spaces (U+200B), which real spreadsheets carry.
[[nodiscard]] std::string_view trim(std::string_view s);
// ASCII lower case (other bytes unchanged).
[[nodiscard]] std::string lower(std::string_view s);
// Removes zero-width spaces (U+200B, U+FEFF) anywhere and trims.
[[nodiscard]] std::string clean_text(std::string_view s);

// A key for comparing place and organisation names: lower case, Latin accents removed,
// '_', '-', '.', '\'' and runs of white space become one space, trimmed.
// "Mount_Lebanon" and "Mount Lebanon" give the same key; so do "Chocó" and "Choco".
[[nodiscard]] std::string name_key(std::string_view s);

// True if the bytes are well-formed UTF-8.
[[nodiscard]] bool is_utf8(std::string_view s);
// Reads bytes as ISO-8859-1 and returns them as UTF-8.
[[nodiscard]] std::string latin1_to_utf8(std::string_view s);

// Whole-string numbers; nullopt when empty or not a number ("250.0" is an integer 250
// for parse_int; thousands separators are not accepted).
[[nodiscard]] std::optional<std::int64_t> parse_int(std::string_view s);
[[nodiscard]] std::optional<double> parse_double(std::string_view s);

// A date as sources write it, with how precise it is: "2024-07-15", "2024-07-15T00:00:00",
// "2024-07", "2024", "15/07/2024" (day first), "1 March 2015", "March 2015", "July 2024".
struct date_value {
  std::int64_t ms = 0;  // first moment of the date (UTC)
  schema::PeriodPrecision precision = schema::PeriodPrecision::unknown;
};
[[nodiscard]] std::optional<date_value> parse_date(std::string_view s);
// The last millisecond of the day, month or year a date_value starts.
[[nodiscard]] std::int64_t end_of(const date_value& d);
// Month number (1-12) from an English, French or Spanish month name or abbreviation.
[[nodiscard]] std::optional<int> month_from_name(std::string_view s);
// ms since epoch of a civil date (UTC).
[[nodiscard]] std::int64_t days_to_ms(int year, int month, int day);

// A short stable digest (FNV-1a 64, 16 hex digits) of some strings: a record's source
// revision when the source gives none, so a changed record is a new revision.
[[nodiscard]] std::string content_digest(std::initializer_list<std::string_view> parts);

// Splits on a separator character, trimming each part and dropping empty parts.
[[nodiscard]] std::vector<std::string> split_list(std::string_view s, char sep);

}  // namespace hub::adapters
