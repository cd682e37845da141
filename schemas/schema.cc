#include "schemas/schema.h"

#include <array>
#include <cctype>

#include <flatbuffers/flatbuffers.h>

namespace hub::schema {
namespace {

constexpr std::array<std::string_view, 13> event_type_names = {
    "none",
    "political_strategy",
    "mandate_activity",
    "programme_activity",
    "peacebuilding_project",
    "country_team_activity",
    "commitment_progress",
    "security_incident",
    "transition_milestone",
    "coherence_alert",
    "adapter_heartbeat",
    "alert_acknowledgement",
    "alert_silence",
};
static_assert(event_type_names.size() == static_cast<std::size_t>(Payload::MAX) + 1,
              "every payload type needs a topic name");

bool is_upper_alpha3(const flatbuffers::String* s) {
  if (s == nullptr || s->size() != 3) return false;
  for (char c : s->string_view())
    if (c < 'A' || c > 'Z') return false;
  return true;
}

}  // namespace

std::string_view entity_name(Entity e) {
  if (e < Entity::MIN || e > Entity::MAX) return "unspecified";
  return EnumNameEntity(e);
}

std::optional<Entity> entity_from_name(std::string_view name) {
  for (auto e : EnumValuesEntity())
    if (name == EnumNameEntity(e)) return e;
  return std::nullopt;
}

std::string_view event_type_name(Payload p) {
  auto i = static_cast<std::size_t>(p);
  return i < event_type_names.size() ? event_type_names[i] : "none";
}

std::optional<Payload> event_type_from_name(std::string_view name) {
  for (std::size_t i = 1; i < event_type_names.size(); ++i)
    if (event_type_names[i] == name) return static_cast<Payload>(i);
  return std::nullopt;
}

std::string_view classification_name(Classification c) {
  switch (c) {
    case Classification::public_: return "public";
    case Classification::internal: return "internal";
    case Classification::confidential: return "confidential";
    case Classification::strictly_confidential: return "strictly_confidential";
  }
  return "unknown";
}

std::optional<Classification> classification_from_name(std::string_view name) {
  for (auto c : EnumValuesClassification())
    if (classification_name(c) == name) return c;
  return std::nullopt;
}

std::string_view reason_name(Reason r) {
  if (r < Reason::MIN || r > Reason::MAX) return "unknown_reason";
  return EnumNameReason(r);
}

envelope_check check_envelope(std::span<const std::uint8_t> bytes, std::size_t max_bytes) {
  envelope_check out;
  if (bytes.size() > max_bytes) {
    out.reason = Reason::too_large;
    out.detail = "envelope of " + std::to_string(bytes.size()) + " bytes is larger than the limit of " +
                 std::to_string(max_bytes);
    return out;
  }
  if (bytes.size() < 8 || !EnvelopeBufferHasIdentifier(bytes.data())) {
    out.reason = Reason::wrong_identifier;
    out.detail = "not an envelope: file identifier \"HUBE\" missing";
    return out;
  }
  flatbuffers::Verifier v(bytes.data(), bytes.size(), verifier_max_depth, verifier_max_tables);
  if (!VerifyEnvelopeBuffer(v)) {
    out.reason = Reason::malformed_envelope;
    out.detail = "envelope failed the FlatBuffers verifier (truncated or corrupt)";
    return out;
  }
  const Envelope* e = GetEnvelope(bytes.data());
  if (e->id() == nullptr || (e->id()->hi() == 0 && e->id()->lo() == 0)) {
    out.reason = Reason::missing_field;
    out.detail = "envelope has no id (a non-zero 128-bit id is required)";
    return out;
  }
  // From here on the id is known: the detail names it, so that the NAK and every log
  // line quoting it lead back to the event.
  auto refuse = [&](Reason r, std::string what) {
    out.reason = r;
    out.detail = "event " + id_to_hex(*e->id()) + ": " + what;
    return out;
  };
  if (e->entity() == Entity::unspecified || e->entity() > Entity::MAX)
    return refuse(Reason::missing_field, "envelope has no valid entity");
  if (e->country() == nullptr) return refuse(Reason::missing_field, "envelope has no country");
  if (!is_upper_alpha3(e->country()))
    return refuse(Reason::bad_field, "country must be an ISO 3166-1 alpha-3 code in capitals, got \"" +
                                         std::string(e->country()->string_view().substr(0, 16)) + "\"");
  if (e->payload_type() == Payload::NONE || e->payload_type() > Payload::MAX || e->payload() == nullptr)
    return refuse(Reason::missing_field, "envelope has no payload");
  if (e->source_system() == nullptr || e->source_system()->size() == 0)
    return refuse(Reason::missing_field, "envelope has no source_system");
  out.envelope = e;
  return out;
}

std::string topic_of(const Envelope& e) {
  std::string t;
  auto ent = entity_name(e.entity());
  auto type = event_type_name(e.payload_type());
  auto country = e.country() ? e.country()->string_view() : std::string_view("XXX");
  t.reserve(ent.size() + country.size() + type.size() + 2);
  t.append(ent).append(1, '.').append(country).append(1, '.').append(type);
  return t;
}

std::string id_to_hex(const Id128& id) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s(32, '0');
  for (int i = 0; i < 16; ++i) {
    s[static_cast<std::size_t>(15 - i)] = digits[(id.hi() >> (4 * i)) & 0xf];
    s[static_cast<std::size_t>(31 - i)] = digits[(id.lo() >> (4 * i)) & 0xf];
  }
  return s;
}

std::optional<Id128> id_from_hex(std::string_view hex) {
  std::string clean;
  for (char c : hex)
    if (c != '-') clean.push_back(c);
  if (clean.size() != 32) return std::nullopt;
  std::uint64_t parts[2] = {0, 0};
  for (std::size_t i = 0; i < 32; ++i) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(clean[i])));
    unsigned v;
    if (c >= '0' && c <= '9') v = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') v = static_cast<unsigned>(c - 'a' + 10);
    else return std::nullopt;
    parts[i / 16] = (parts[i / 16] << 4) | v;
  }
  return Id128(parts[0], parts[1]);
}

}  // namespace hub::schema
