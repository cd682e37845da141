// Helpers shared by every component that reads or writes events: names of entities
// and event types as they appear in topics, envelope checks, and the schema text.
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "schemas/events_generated.h"
#include "schemas/protocol_generated.h"

namespace hub::schema {

// The text of events.fbs, for flatbuffers::Parser (JSON <-> binary).
extern const std::string_view events_fbs_text;

// The largest envelope the hub accepts, and the verifier's limits.
inline constexpr std::size_t max_envelope_bytes = 1 << 20;
inline constexpr unsigned verifier_max_depth = 32;
inline constexpr unsigned verifier_max_tables = 100000;

// "peacekeeping", "country_team", ...; "unspecified" for values out of range.
[[nodiscard]] std::string_view entity_name(Entity e);
[[nodiscard]] std::optional<Entity> entity_from_name(std::string_view name);

// "mandate_activity", "coherence_alert", ...; "none" for Payload::NONE.
[[nodiscard]] std::string_view event_type_name(Payload p);
[[nodiscard]] std::optional<Payload> event_type_from_name(std::string_view name);

// "public", "internal", "confidential", "strictly_confidential".
[[nodiscard]] std::string_view classification_name(Classification c);
[[nodiscard]] std::optional<Classification> classification_from_name(std::string_view name);

// Human-readable name of a NAK/ERR reason code.
[[nodiscard]] std::string_view reason_name(Reason r);

// Result of checking untrusted bytes as an envelope.
struct envelope_check {
  Reason reason = Reason::ok;   // ok if the envelope may be used
  std::string detail;           // what is wrong, for the NAK text
  const Envelope* envelope = nullptr;  // set when reason == ok
};

// Verifies bytes as an envelope: size, identifier, the FlatBuffers verifier with depth
// and table limits, then the fields the hub needs (id, entity, 3-letter country,
// payload). Never reads the bytes before they pass the verifier.
[[nodiscard]] envelope_check check_envelope(std::span<const std::uint8_t> bytes,
                                            std::size_t max_bytes = max_envelope_bytes);

// The topic of a verified envelope: "<entity>.<country>.<event_type>".
[[nodiscard]] std::string topic_of(const Envelope& e);

// Event ids as 32 lowercase hex digits, and back.
[[nodiscard]] std::string id_to_hex(const Id128& id);
[[nodiscard]] std::optional<Id128> id_from_hex(std::string_view hex);

}  // namespace hub::schema
