// Building envelopes the same way in every adapter: the common fields (geo, period,
// gender, strategy refs, classification) and the deterministic event id.
//
// Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "adapters/common/geo.h"
#include "hub/common/status.h"
#include "schemas/events_generated.h"

namespace hub::adapters {

// A gender marker on the UN four-point scale, with the source's own value.
struct gender_marker {
  schema::GenderScheme scheme = schema::GenderScheme::none;
  std::string raw;
  schema::GenderLevel level = schema::GenderLevel::none;
  float gewe_share_pct = -1;
};

// Normalises a marker per DOMAIN 8(a): DAC 0/1/2 -> none/significant/principal;
// PBF GM1/GM2/GM3 (or 1-3; GM0/0 -> none) -> limited/significant/principal; UNCT-GEM
// 0-3 as is; mission markers use the UNCT-GEM scale. Also accepts the level words
// ("principal", "significant", "limited", "none"). invalid_argument with the value
// and the accepted values when it cannot be read.
[[nodiscard]] result<gender_marker> normalise_gender(schema::GenderScheme scheme,
                                                     std::string_view raw);

struct strategy_ref {
  std::string strategy_id;
  std::uint32_t version = 0;
  std::string objective_id;
};

struct period_value {
  std::int64_t start = 0;
  std::int64_t end = 0;
  schema::PeriodPrecision precision = schema::PeriodPrecision::unknown;
};

struct geo_point {
  double lat = 0;
  double lon = 0;
  bool exact = false;
};

// The envelope fields every adapter fills. Empty strings and vectors are left out.
struct envelope_fields {
  std::string source_system;     // e.g. "country-team-adapter"; part of the event id
  schema::Entity entity = schema::Entity::unspecified;
  std::string country;           // ISO alpha-3
  std::vector<admin_area> admin_areas;   // coarsest first
  std::vector<geo_point> points;
  std::string place_name;
  std::int64_t occurred_at = 0;
  schema::Classification classification = schema::Classification::internal;
  std::string correlation_id;
  std::vector<schema::ThematicArea> a4p_areas;
  std::vector<schema::A4pPlusPriority> a4p_plus;
  std::vector<strategy_ref> strategy_refs;
  std::optional<gender_marker> gender;
  std::string source_record_id;  // part of the event id; must not be empty
  std::string source_revision;   // part of the event id
  period_value period;
  std::optional<schema::Id128> id;  // when set, used instead of the derived id (heartbeats)
};

// The country token of the hub's own events that concern no country (an adapter's
// heartbeat before it has read any record), as the rules engine files alerts without a
// country: ISO 3166-1 leaves XXX to users. build_envelope accepts it for entity hub only.
inline constexpr std::string_view no_country = "XXX";

// Adds everything but the payload to `fbb`, then the payload (already built in `fbb`)
// and finishes the buffer. The id is hub::sdk::derived_event_id(source_system,
// source_record_id, source_revision); published_at is now. invalid_argument when
// source_record_id or country is empty, or the country is not alpha-3 (no_country is
// accepted for entity hub).
[[nodiscard]] result<std::vector<std::uint8_t>> build_envelope(
    flatbuffers::FlatBufferBuilder& fbb, const envelope_fields& fields,
    schema::Payload payload_type, flatbuffers::Offset<void> payload);

// Helpers for payload builders: a string only when non-empty (0 offset otherwise).
[[nodiscard]] flatbuffers::Offset<flatbuffers::String> opt_string(
    flatbuffers::FlatBufferBuilder& fbb, std::string_view s);
[[nodiscard]] flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>>
opt_strings(flatbuffers::FlatBufferBuilder& fbb, const std::vector<std::string>& v);

// Words sources use for a status -> ActivityStatus: "ongoing", "active", "in progress",
// "en cours", "activo" -> active; "planned", "pipeline", "proposed" -> pipeline;
// "completed", "finished", "done" -> completed; "closed"; "cancelled"/"canceled";
// "suspended", "on hold"; IATI codes "1"-"6". nullopt when not recognised.
[[nodiscard]] std::optional<schema::ActivityStatus> activity_status_from_text(std::string_view s);

// Names of enums as written in files ("poc", "military", "base_closure"...), from the
// generated EnumNames; case-insensitive, '-' and ' ' read as '_'. nullopt if unknown.
[[nodiscard]] std::optional<schema::MandateArea> mandate_area_from_text(std::string_view s);
[[nodiscard]] std::optional<schema::Component> component_from_text(std::string_view s);
[[nodiscard]] std::optional<schema::MilestoneKind> milestone_kind_from_text(std::string_view s);
[[nodiscard]] std::optional<schema::MilestoneStatus> milestone_status_from_text(std::string_view s);
[[nodiscard]] std::optional<schema::ThematicArea> thematic_area_from_text(std::string_view s);
[[nodiscard]] std::optional<schema::Entity> entity_from_text(std::string_view s);
[[nodiscard]] std::optional<schema::Classification> classification_from_text(std::string_view s);

}  // namespace hub::adapters
