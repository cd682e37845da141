// Building and reading events: ids, finishing envelopes, JSON conversion.
// Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "schemas/events_generated.h"

namespace hub::sdk {

// A new time-ordered id (UUIDv7 layout: 48-bit ms time, version 7, random bits).
schema::Id128 new_event_id();

// A deterministic id from the source record's identity, so that importing the same
// record revision twice yields the same id (and the hub stores it once).
// BLAKE2b-128 over the three strings, length-prefixed.
schema::Id128 derived_event_id(std::string_view source_system, std::string_view record_id,
                               std::string_view revision);

// Finishes a builder holding an envelope (with the "HUBE" identifier) and returns the bytes.
std::vector<std::uint8_t> finish_envelope(flatbuffers::FlatBufferBuilder& fbb,
                                          flatbuffers::Offset<schema::Envelope> root);

// Converts an event written as JSON (field names of schemas/events.fbs) to envelope
// bytes. Conveniences: "id" may be a 32-hex-digit string (or absent: a new id is made);
// "published_at" defaults to now; times ("*_at", "valid_from", "valid_to", "planned_date",
// period start/end...) may be ISO 8601 strings ("2025-03-01" or "2025-03-01T10:00:00Z").
// On error returns nullopt and sets *error to a message naming the field or line.
std::optional<std::vector<std::uint8_t>> envelope_from_json(std::string_view json, std::string* error);

// The envelope as one line of JSON (enums as names, id as hex), with "offset" and
// "topic" added when given.
std::string envelope_to_json(std::span<const std::uint8_t> bytes,
                             std::optional<std::uint64_t> offset = std::nullopt,
                             std::string_view topic = {});

// ISO 8601 date or date-time to ms since epoch (UTC); nullopt if not parseable.
std::optional<std::int64_t> parse_time(std::string_view text);
// ms since epoch to "YYYY-MM-DDTHH:MM:SSZ" (or "YYYY-MM-DD" when date_only).
std::string format_time(std::int64_t ms, bool date_only = false);

}  // namespace hub::sdk
