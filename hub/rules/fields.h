// The fields rules may read, by the path names of schemas/events.fbs
// ("payload.mandate_area", "geo.adm2", "gender.level", "period.start").
//
// A hand-written table rather than FlatBuffers reflection: rules need a few derived
// fields that reflection cannot express (geo.adm1/geo.adm2 pick the P-code of one admin
// level; payload.gewe_share_pct divides two amounts; payload.budget sums a vector of
// Money), enum values are checked by name at load time, and a field that moves in the
// schema breaks the build here instead of silently at run time. Pure, thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/events_generated.h"

namespace hub::rules {

enum class field_type : std::uint8_t { string, number, time, boolean, enumeration, string_list, enum_list };

[[nodiscard]] std::string_view field_type_name(field_type t);

// A value read from an event. `present` is false when the event lacks the field (a null
// table, an empty string, or a "not known" sentinel such as 0 for times, -1 for counts).
struct field_value {
  bool present = false;
  std::string text;                 // string and enum values (enum as its schema name)
  double number = 0;                // number, time (ms since epoch) and boolean (0/1)
  std::vector<std::string> list;    // list values
};

struct field_def {
  std::string_view path;
  field_type type;
  std::vector<schema::Payload> on;           // empty: every event type
  const char* const* enum_names = nullptr;   // for enumeration / enum_list (nullptr-terminated)
  field_value (*get)(const schema::Envelope&) = nullptr;
};

// The definition of `path` for events of type `type`; nullptr if that event type has no
// such field.
[[nodiscard]] const field_def* find_field(std::string_view path, schema::Payload type);
// True if any event type has a field of that path.
[[nodiscard]] bool field_exists(std::string_view path);
// Every field, for documentation and error messages.
[[nodiscard]] std::span<const field_def> all_fields();
// True if `name` is one of the enum names of `def`.
[[nodiscard]] bool enum_has(const field_def& def, std::string_view name);

// Reads `path` from `e`; not present if the event type has no such field.
[[nodiscard]] field_value read_field(const schema::Envelope& e, std::string_view path);

// The value as text for alert excerpts ("poc", "2025-03-01", "[SS01, SS0101]").
[[nodiscard]] std::string format_value(const field_value& v, field_type t);

// "2025-03-01" for a time in ms since epoch (UTC).
[[nodiscard]] std::string format_date(std::int64_t ms);

}  // namespace hub::rules
