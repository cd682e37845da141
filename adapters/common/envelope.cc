#include "adapters/common/envelope.h"

#include "adapters/common/text.h"
#include "adapters/sdk/event.h"
#include "hub/common/types.h"

namespace hub::adapters {
namespace {

// "Peace-keeping Ops" -> "peace_keeping_ops": the form enum names are written in.
std::string enum_key(std::string_view s) {
  auto k = name_key(s);
  for (auto& c : k)
    if (c == ' ') c = '_';
  return k;
}

template <typename E, std::size_t N>
std::optional<E> enum_from(std::string_view text, const E (&values)[N], const char* (*name_of)(E)) {
  auto k = enum_key(text);
  if (k.empty()) return std::nullopt;
  for (E v : values) {
    std::string n = name_of(v);
    if (!n.empty() && n.back() == '_') n.pop_back();  // public_
    if (n == k) return v;
  }
  return std::nullopt;
}

}  // namespace

result<gender_marker> normalise_gender(schema::GenderScheme scheme, std::string_view raw) {
  using L = schema::GenderLevel;
  using S = schema::GenderScheme;
  gender_marker g;
  g.scheme = scheme;
  g.raw = std::string(trim(raw));
  auto k = enum_key(g.raw);
  if (k == "none") return g;
  if (k == "limited") { g.level = L::limited; return g; }
  if (k == "significant") { g.level = L::significant; return g; }
  if (k == "principal") { g.level = L::principal; return g; }
  if (k.size() > 2 && (k.rfind("gm", 0) == 0 || k.rfind("gem", 0) == 0)) k = k.substr(k[1] == 'm' ? 2 : 3);
  if (!k.empty() && k[0] == '_') k.erase(0, 1);
  auto n = parse_int(k);
  auto bad = [&](const char* accepted) {
    return status::invalid_argument("gender marker \"" + g.raw + "\" is not a " +
                                    std::string(schema::EnumNameGenderScheme(scheme)) +
                                    " value (accepted: " + accepted + ")");
  };
  switch (scheme) {
    case S::iati_dac:
      if (!n || *n < 0 || *n > 2) return bad("0, 1, 2");
      g.level = *n == 0 ? L::none : *n == 1 ? L::significant : L::principal;
      return g;
    case S::pbf_gm:
      if (!n || *n < 0 || *n > 3) return bad("GM1, GM2, GM3 (GM0 is read as none)");
      g.level = static_cast<L>(*n);
      return g;
    case S::unct_gem:
    case S::mission:
      if (!n || *n < 0 || *n > 3) return bad("0, 1, 2, 3 or none/limited/significant/principal");
      g.level = static_cast<L>(*n);
      return g;
    case S::none:
      if (g.raw.empty()) return g;
      return bad("nothing: the scheme is none");
  }
  return bad("a known scheme");
}

flatbuffers::Offset<flatbuffers::String> opt_string(flatbuffers::FlatBufferBuilder& fbb,
                                                    std::string_view s) {
  if (s.empty()) return 0;
  return fbb.CreateString(s.data(), s.size());
}

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>> opt_strings(
    flatbuffers::FlatBufferBuilder& fbb, const std::vector<std::string>& v) {
  if (v.empty()) return 0;
  return fbb.CreateVectorOfStrings(v);
}

result<std::vector<std::uint8_t>> build_envelope(flatbuffers::FlatBufferBuilder& fbb,
                                                 const envelope_fields& f,
                                                 schema::Payload payload_type,
                                                 flatbuffers::Offset<void> payload) {
  if (f.source_record_id.empty())
    return status::invalid_argument("the record has no identifier, so it cannot get a stable event id");
  if (f.country.empty())
    return status::invalid_argument("no country (give a country column, P-codes, or --country ISO3)");
  if (!is_alpha3(f.country) && !(f.entity == schema::Entity::hub && f.country == no_country))
    return status::invalid_argument("country \"" + f.country + "\" is not an ISO 3166-1 alpha-3 code");
  if (f.source_system.empty()) return status::invalid_argument("no source system name");

  using namespace flatbuffers;
  Offset<schema::Geo> geo = 0;
  if (!f.admin_areas.empty() || !f.points.empty() || !f.place_name.empty()) {
    std::vector<Offset<schema::AdminArea>> areas;
    for (const auto& a : f.admin_areas)
      areas.push_back(schema::CreateAdminArea(fbb, a.level, opt_string(fbb, a.pcode),
                                              opt_string(fbb, a.name), a.resolution,
                                              opt_string(fbb, a.vocabulary), opt_string(fbb, a.code)));
    std::vector<schema::GeoPoint> pts;
    for (const auto& p : f.points) pts.emplace_back(p.lat, p.lon, p.exact);
    auto areas_v = areas.empty() ? 0 : fbb.CreateVector(areas);
    auto pts_v = pts.empty() ? 0 : fbb.CreateVectorOfStructs(pts);
    geo = schema::CreateGeo(fbb, areas_v, pts_v, opt_string(fbb, f.place_name));
  }
  Offset<Vector<schema::ThematicArea>> a4p = 0;
  if (!f.a4p_areas.empty()) a4p = fbb.CreateVector(f.a4p_areas);
  Offset<Vector<schema::A4pPlusPriority>> a4p_plus = 0;
  if (!f.a4p_plus.empty()) a4p_plus = fbb.CreateVector(f.a4p_plus);
  Offset<Vector<Offset<schema::StrategyRef>>> refs = 0;
  if (!f.strategy_refs.empty()) {
    std::vector<Offset<schema::StrategyRef>> v;
    for (const auto& r : f.strategy_refs)
      v.push_back(schema::CreateStrategyRef(fbb, opt_string(fbb, r.strategy_id), r.version,
                                            opt_string(fbb, r.objective_id)));
    refs = fbb.CreateVector(v);
  }
  Offset<schema::Gender> gender = 0;
  if (f.gender)
    gender = schema::CreateGender(fbb, f.gender->scheme, opt_string(fbb, f.gender->raw),
                                  f.gender->level, f.gender->gewe_share_pct);
  auto source_system = fbb.CreateString(f.source_system);
  auto country = fbb.CreateString(f.country);
  auto corr = opt_string(fbb, f.correlation_id);
  auto rec = fbb.CreateString(f.source_record_id);
  auto rev = opt_string(fbb, f.source_revision);
  const schema::Id128 id =
      f.id ? *f.id : sdk::derived_event_id(f.source_system, f.source_record_id, f.source_revision);
  const schema::Period period(f.period.start, f.period.end, f.period.precision);
  const bool has_period = f.period.start != 0 || f.period.end != 0;
  auto root = schema::CreateEnvelope(fbb, &id, source_system, f.entity, country, geo, f.occurred_at,
                                     now_millis(), f.classification, corr, nullptr, a4p, a4p_plus,
                                     refs, gender, rec, rev, has_period ? &period : nullptr,
                                     payload_type, payload);
  fbb.Finish(root, schema::EnvelopeIdentifier());
  return std::vector<std::uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

std::optional<schema::ActivityStatus> activity_status_from_text(std::string_view s) {
  using A = schema::ActivityStatus;
  auto k = name_key(s);
  if (k.empty()) return std::nullopt;
  struct w { const char* word; A status; };
  static constexpr w words[] = {
      {"1", A::pipeline}, {"2", A::active}, {"3", A::completed}, {"4", A::closed},
      {"5", A::cancelled}, {"6", A::suspended},
      {"ongoing", A::active}, {"on going", A::active}, {"active", A::active},
      {"in progress", A::active}, {"implementation", A::active}, {"underway", A::active},
      {"under way", A::active}, {"started", A::active}, {"en cours", A::active},
      {"activo", A::active}, {"activa", A::active}, {"en curso", A::active}, {"current", A::active},
      {"planned", A::pipeline}, {"pipeline", A::pipeline}, {"proposed", A::pipeline},
      {"not started", A::pipeline}, {"planifie", A::pipeline}, {"planificado", A::pipeline},
      {"identification", A::pipeline}, {"prevu", A::pipeline},
      {"completed", A::completed}, {"complete", A::completed}, {"finished", A::completed},
      {"done", A::completed}, {"termine", A::completed}, {"finalizado", A::completed},
      {"completado", A::completed}, {"finalisation", A::completed},
      {"closed", A::closed}, {"clos", A::closed}, {"cerrado", A::closed},
      {"operationally closed", A::closed}, {"financially closed", A::closed},
      {"cancelled", A::cancelled}, {"canceled", A::cancelled}, {"annule", A::cancelled},
      {"cancelado", A::cancelled},
      {"suspended", A::suspended}, {"on hold", A::suspended}, {"suspendu", A::suspended},
      {"suspendido", A::suspended}, {"paused", A::suspended},
  };
  for (const auto& e : words)
    if (k == e.word) return e.status;
  return std::nullopt;
}

std::optional<schema::MandateArea> mandate_area_from_text(std::string_view s) {
  auto k = enum_key(s);
  struct w { const char* word; schema::MandateArea v; };
  static constexpr w aliases[] = {
      {"protection_of_civilians", schema::MandateArea::poc},
      {"political", schema::MandateArea::political_process},
      {"security_sector_reform", schema::MandateArea::ssr},
      {"disarmament_demobilization_and_reintegration", schema::MandateArea::ddr},
      {"disarmament_demobilisation_and_reintegration", schema::MandateArea::ddr},
      {"justice", schema::MandateArea::rule_of_law},
      {"electoral_assistance", schema::MandateArea::elections},
      {"women_peace_and_security", schema::MandateArea::wps},
      {"quick_impact_projects", schema::MandateArea::qip},
      {"community_violence_reduction", schema::MandateArea::cvr},
  };
  for (const auto& a : aliases)
    if (k == a.word) return a.v;
  return enum_from(s, schema::EnumValuesMandateArea(), schema::EnumNameMandateArea);
}

std::optional<schema::Component> component_from_text(std::string_view s) {
  return enum_from(s, schema::EnumValuesComponent(), schema::EnumNameComponent);
}
std::optional<schema::MilestoneKind> milestone_kind_from_text(std::string_view s) {
  return enum_from(s, schema::EnumValuesMilestoneKind(), schema::EnumNameMilestoneKind);
}
std::optional<schema::MilestoneStatus> milestone_status_from_text(std::string_view s) {
  return enum_from(s, schema::EnumValuesMilestoneStatus(), schema::EnumNameMilestoneStatus);
}
std::optional<schema::ThematicArea> thematic_area_from_text(std::string_view s) {
  return enum_from(s, schema::EnumValuesThematicArea(), schema::EnumNameThematicArea);
}
std::optional<schema::Entity> entity_from_text(std::string_view s) {
  return enum_from(s, schema::EnumValuesEntity(), schema::EnumNameEntity);
}
std::optional<schema::Classification> classification_from_text(std::string_view s) {
  auto k = enum_key(s);
  if (k == "unclassified") return schema::Classification::public_;
  return enum_from(s, schema::EnumValuesClassification(), schema::EnumNameClassification);
}

}  // namespace hub::adapters
