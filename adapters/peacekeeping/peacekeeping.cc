#include "adapters/peacekeeping/peacekeeping.h"

#include <algorithm>
#include <cctype>

#include "adapters/common/text.h"
#include "adapters/peacekeeping/records.h"

namespace hub::adapters::peacekeeping {
namespace {

using schema::IncidentCategory;

// Place of a record: country, admin 1 and 2 (code or name), point.
struct place {
  std::string adm1, adm2;  // code or name as written
  std::optional<double> lat, lon;
  bool exact_point = false;
  // The finest admin level the point can tell (the feed's precision code): 2 when it is
  // within a district, 1 when it only stands for a province, 0 when it says nothing
  // about admin areas (country-wide, a border, at sea).
  std::uint8_t point_level = 2;
  std::string place_name;
};

// Looks like a P-code: letters then digits, no spaces ("LB63", "CF111", "SS0101").
bool looks_like_pcode(std::string_view s) {
  s = trim(s);
  if (s.size() < 3 || s.size() > 12) return false;
  std::size_t i = 0;
  while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
  if (i < 2 || i == s.size()) return false;
  for (; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

// Fills f.admin_areas and f.points, reporting codes the table does not know. A level the
// record names is resolved by code or name, falling back to the point; a level it does
// not name is resolved from the point alone (nearest centroid, within the parent area
// already known). The point is used for a level only when its precision allows.
void locate(import_context& ctx, std::size_t line, envelope_fields& f, const place& p) {
  const pcode_table* pc = ctx.settings().pcodes;
  auto point_for = [&](std::uint8_t level) {
    return p.lat && p.lon && p.point_level >= level ? std::pair{p.lat, p.lon}
                                                    : std::pair<std::optional<double>, std::optional<double>>{};
  };
  auto one = [&](std::uint8_t level, const std::string& v, const std::string& parent) {
    std::string code = looks_like_pcode(v) ? v : "";
    std::string name = code.empty() ? v : "";
    admin_area a;
    if (pc) {
      auto [lat, lon] = point_for(level);
      a = pc->resolve(f.country, level, code, name, lat, lon, parent);
    } else {
      a.level = level;
      a.name = v;
      if (!code.empty()) {
        a.pcode = code;
        a.resolution = schema::GeoResolution::exact;
      }
    }
    if (!code.empty() && a.resolution != schema::GeoResolution::exact)
      ctx.warn(line, "admin" + std::to_string(level) + " code \"" + code + "\" is not in the P-code table; kept unresolved");
    return a;
  };
  auto from_point = [&](std::uint8_t level, const std::string& parent) {
    auto [lat, lon] = point_for(level);
    if (!pc || !lat || !lon) return;
    if (const auto* e = pc->by_point(f.country, level, *lat, *lon, 75, parent))
      f.admin_areas.push_back({level, e->pcode, e->name, schema::GeoResolution::nearest_centroid, {}, {}});
  };
  if (!p.adm1.empty()) f.admin_areas.push_back(one(1, p.adm1, ""));
  else from_point(1, "");
  // Children of the admin-1 area when it is known; any admin-2 area when none is named.
  std::string parent = f.admin_areas.empty() ? "" : f.admin_areas.front().pcode;
  if (!p.adm2.empty()) f.admin_areas.push_back(one(2, p.adm2, parent));
  else if (f.admin_areas.empty() || !parent.empty()) from_point(2, parent);
  if (p.lat && p.lon) {
    if (*p.lat < -90 || *p.lat > 90 || *p.lon < -180 || *p.lon > 180)
      ctx.warn(line, "coordinates out of range; point left out");
    else
      f.points.push_back({*p.lat, *p.lon, p.exact_point});
  }
  f.place_name = p.place_name;
}

// A date column: nullopt and a skip when present but unreadable.
bool read_date(import_context& ctx, std::size_t line, const std::string& text, const char* what,
               std::optional<date_value>& out, bool required) {
  if (text.empty()) {
    if (required) {
      ctx.skip(line, std::string("no ") + what);
      return false;
    }
    return true;
  }
  out = parse_date(text);
  if (!out) {
    ctx.skip(line, std::string(what) + " \"" + text + "\" is not a date (use YYYY-MM-DD)");
    return false;
  }
  return true;
}

bool read_country(import_context& ctx, const record& r, envelope_fields& f,
                  std::initializer_list<std::string_view> cols) {
  std::string text = r.get(cols);
  if (!text.empty()) {
    auto c = country_from_text(text);
    if (!c) {
      ctx.skip(r.line, "country \"" + text + "\" is not an ISO 3166-1 code or country name");
      return false;
    }
    f.country = *c;
    return true;
  }
  f.country = ctx.settings().country;
  if (f.country.empty()) {
    ctx.skip(r.line, "no country; add a country column or import with --country ISO3");
    return false;
  }
  return true;
}

void read_classification(import_context& ctx, const record& r, envelope_fields& f) {
  if (ctx.settings().classification_forced) return;
  auto text = r.get({"classification"});
  if (text.empty()) return;
  if (auto c = classification_from_text(text)) f.classification = *c;
  else ctx.warn(r.line, "classification \"" + text + "\" not understood; kept " +
                            std::string(schema::EnumNameClassification(f.classification)));
}

void read_strategy(import_context& ctx, const record& r, envelope_fields& f) {
  auto sid = r.get({"strategy_id"});
  auto obj = r.get({"objective_id", "strategy_objective", "objective"});
  if (sid.empty()) {
    if (!obj.empty()) ctx.warn(r.line, "objective \"" + obj + "\" without strategy_id; claim left out");
    return;
  }
  std::uint32_t version = 0;
  if (auto v = parse_int(r.get({"strategy_version"})); v && *v >= 0) version = static_cast<std::uint32_t>(*v);
  for (const auto& o : split_list(obj, ';')) f.strategy_refs.push_back({sid, version, o});
  if (f.strategy_refs.empty()) ctx.warn(r.line, "strategy_id without objective_id; claim left out");
}

// ---------------------------------------------------------------------------
// Mandate activities

void map_mandate(import_context& ctx, const record& r) {
  envelope_fields f = ctx.base_fields();
  auto id = r.get({"activity_id", "id"});
  if (id.empty()) return ctx.skip(r.line, "no activity_id");
  if (!read_country(ctx, r, f, {"country", "country_code", "iso3"})) return;
  auto mission = r.get({"mission"});
  if (mission.empty()) mission = mission_in(f.country).value_or("");
  auto area_text = r.get({"mandate_area"});
  auto area = mandate_area_from_text(area_text);
  if (!area) return ctx.skip(r.line, "mandate_area \"" + area_text + "\" is not one of poc, political_process, ddr, ssr, rule_of_law, elections, human_rights, state_authority, humanitarian_access, wps, qip, cvr, other");
  auto comp_text = r.get({"component"});
  auto comp = comp_text.empty() ? std::optional(schema::Component::unspecified) : component_from_text(comp_text);
  if (!comp) {
    ctx.warn(r.line, "component \"" + comp_text + "\" not understood (military, police, civilian, mixed); left unspecified");
    comp = schema::Component::unspecified;
  }
  auto st_text = r.get({"status"});
  auto st = activity_status_from_text(st_text);
  if (!st) {
    if (!st_text.empty()) ctx.warn(r.line, "status \"" + st_text + "\" not understood; unknown");
    st = schema::ActivityStatus::unknown;
  }
  std::optional<date_value> start, end;
  if (!read_date(ctx, r.line, r.get({"start", "start_date"}), "start", start, false)) return;
  if (!read_date(ctx, r.line, r.get({"end", "end_date"}), "end", end, false)) return;
  if (start) {
    f.period = {start->ms, end ? end_of(*end) : 0, start->precision};
    if (end && end_of(*end) < start->ms) return ctx.skip(r.line, "end is before start");
  }
  f.occurred_at = start ? start->ms : 0;
  // A revision says when it was made: rules take the latest by occurred_at.
  if (auto upd = parse_date(r.get({"last_updated", "updated"}))) f.occurred_at = upd->ms;
  place p;
  p.adm1 = r.get({"adm1_pcode", "adm1_code", "adm1", "adm1_name"});
  p.adm2 = r.get({"adm2_pcode", "adm2_code", "adm2", "adm2_name"});
  p.lat = parse_double(r.get({"lat", "latitude"}));
  p.lon = parse_double(r.get({"lon", "longitude"}));
  p.exact_point = true;
  p.place_name = r.get({"location", "place"});
  locate(ctx, r.line, f, p);
  read_strategy(ctx, r, f);
  auto gm = r.get({"gender_marker", "gender"});
  if (!gm.empty()) {
    auto g = normalise_gender(schema::GenderScheme::mission, gm);
    if (!g) return ctx.skip(r.line, g.error().message());
    f.gender = g.value();
  } else {
    f.gender = gender_marker{};
  }
  for (const auto& a : split_list(r.get({"a4p_areas"}), ';')) {
    if (auto t = thematic_area_from_text(a)) f.a4p_areas.push_back(*t);
    else ctx.warn(r.line, "A4P area \"" + a + "\" not understood; left out");
  }
  read_classification(ctx, r, f);
  f.correlation_id = r.get({"correlation_id"});
  f.source_record_id = "mandate:" + (mission.empty() ? f.country : mission) + ":" + id;
  auto title = r.get({"title"});
  auto family = r.get({"sector_family"});
  f.source_revision = r.get({"revision", "last_updated", "updated"});
  if (f.source_revision.empty())
    f.source_revision = content_digest({title, area_text, comp_text, st_text, family, p.adm1, p.adm2,
                                        r.get({"start", "start_date"}), r.get({"end", "end_date"}),
                                        r.get({"strategy_id"}), r.get({"strategy_version"}),
                                        r.get({"objective_id", "strategy_objective", "objective"}), gm,
                                        r.get({"classification"}), f.correlation_id, r.get({"output_ref"})});
  flatbuffers::FlatBufferBuilder fbb;
  auto payload = schema::CreateMandateActivity(fbb, opt_string(fbb, id), opt_string(fbb, title),
                                               opt_string(fbb, mission), *area, *comp, *st,
                                               opt_string(fbb, family), opt_string(fbb, r.get({"output_ref"})));
  ctx.emit(r.line, fbb, f, schema::Payload::MandateActivity, payload.Union());
}


// ---------------------------------------------------------------------------
// Transition milestones

void map_transition(import_context& ctx, const record& r) {
  envelope_fields f = ctx.base_fields();
  auto id = r.get({"milestone_id", "id"});
  if (id.empty()) return ctx.skip(r.line, "no milestone_id");
  if (!read_country(ctx, r, f, {"country", "country_code", "iso3"})) return;
  auto kind_text = r.get({"kind"});
  auto kind = milestone_kind_from_text(kind_text);
  if (!kind) return ctx.skip(r.line, "kind \"" + kind_text + "\" is not one of base_closure, drawdown, handover, mandate_end");
  auto st_text = r.get({"status"});
  auto st = st_text.empty() ? std::optional(schema::MilestoneStatus::planned) : milestone_status_from_text(st_text);
  if (!st) return ctx.skip(r.line, "status \"" + st_text + "\" is not one of planned, completed, cancelled, delayed");
  std::optional<date_value> planned, actual;
  if (!read_date(ctx, r.line, r.get({"planned_date"}), "planned_date", planned, true)) return;
  if (!read_date(ctx, r.line, r.get({"actual_date"}), "actual_date", actual, false)) return;
  auto mission = r.get({"mission"});
  if (mission.empty()) mission = mission_in(f.country).value_or("");
  place p;
  p.adm1 = r.get({"adm1_pcode", "adm1_code", "adm1", "adm1_name"});
  p.adm2 = r.get({"adm2_pcode", "adm2_code", "adm2", "adm2_name"});
  p.lat = parse_double(r.get({"lat", "latitude"}));
  p.lon = parse_double(r.get({"lon", "longitude"}));
  p.exact_point = true;
  p.place_name = r.get({"location", "place", "base"});
  locate(ctx, r.line, f, p);
  read_strategy(ctx, r, f);
  read_classification(ctx, r, f);
  // occurred_at is when the step was decided or reported (last_updated), else when it
  // happened, else the planned date. A planned date far ahead would otherwise move the
  // rules engine's event-time watermark into the future.
  f.occurred_at = planned->ms;
  if (actual) f.occurred_at = actual->ms;
  if (auto upd = parse_date(r.get({"last_updated", "updated"}))) f.occurred_at = upd->ms;
  f.period = {planned->ms, actual ? end_of(*actual) : 0, planned->precision};
  auto functions = split_list(r.get({"functions", "functions_handed_over"}), ';');
  auto receivers = split_list(r.get({"receiving_entities", "receivers"}), ';');
  f.source_record_id = "transition:" + (mission.empty() ? f.country : mission) + ":" + id;
  f.source_revision = r.get({"revision", "last_updated"});
  if (f.source_revision.empty())
    f.source_revision = content_digest({kind_text, st_text, r.get({"planned_date"}), r.get({"actual_date"}),
                                        p.adm1, p.adm2, r.get({"functions", "functions_handed_over"}),
                                        r.get({"receiving_entities", "receivers"}), r.get({"classification"}),
                                        r.get({"strategy_id"}), r.get({"objective_id"})});
  flatbuffers::FlatBufferBuilder fbb;
  auto payload = schema::CreateTransitionMilestone(
      fbb, opt_string(fbb, id), *kind, opt_string(fbb, mission), planned->ms, actual ? actual->ms : 0,
      opt_strings(fbb, functions), opt_strings(fbb, receivers), *st);
  ctx.emit(r.line, fbb, f, schema::Payload::TransitionMilestone, payload.Union());
}

// ---------------------------------------------------------------------------
// Incidents

struct incident {
  std::string id;
  IncidentCategory category = IncidentCategory::unspecified;
  std::string source_category;
  std::vector<std::string> actors;
  std::string target;
  int best = -1, low = -1, high = -1, civilians = -1, un_personnel = -1;
  std::string mission;
  std::string feed;
};

int count_of(const std::string& s) {
  auto v = parse_int(s);
  if (!v || *v < 0 || *v > 10000000) return -1;
  return static_cast<int>(*v);
}

void emit_incident(import_context& ctx, std::size_t line, envelope_fields& f, const incident& in) {
  flatbuffers::FlatBufferBuilder fbb;
  auto payload = schema::CreateSecurityIncident(
      fbb, opt_string(fbb, in.id), in.category, opt_string(fbb, in.source_category),
      opt_strings(fbb, in.actors), opt_string(fbb, in.target), in.best, in.low, in.high, in.civilians,
      in.un_personnel, opt_string(fbb, in.mission), opt_string(fbb, in.feed), false);
  f.a4p_areas = {schema::ThematicArea::safety_security};
  if (in.category == IncidentCategory::violence_against_civilians) f.a4p_areas.push_back(schema::ThematicArea::protection);
  ctx.emit(line, fbb, f, schema::Payload::SecurityIncident, payload.Union());
}

void map_ucdp(import_context& ctx, const record& r) {
  envelope_fields f = ctx.base_fields();
  if (!ctx.settings().classification_forced) f.classification = schema::Classification::public_;
  incident in;
  in.feed = "ucdp-ged";
  in.id = r.get({"id"});
  if (in.id.empty()) return ctx.skip(r.line, "no id");
  if (!read_country(ctx, r, f, {"iso3", "country"})) return;
  auto type = r.get({"type_of_violence"});
  if (type == "1") in.category = IncidentCategory::battle;
  else if (type == "2") in.category = IncidentCategory::non_state_conflict;
  else if (type == "3") {
    in.category = IncidentCategory::violence_against_civilians;
    in.target = "civilians";
  } else return ctx.skip(r.line, "type_of_violence \"" + type + "\" is not 1, 2 or 3");
  static constexpr const char* type_names[] = {"", "state-based", "non-state", "one-sided"};
  in.source_category = "type_of_violence " + type + " (" + type_names[type[0] - '0'] + ")";
  for (const auto& a : {r.get({"side_a"}), r.get({"side_b"})})
    if (!a.empty()) in.actors.push_back(a);
  in.best = count_of(r.get({"best"}));
  in.low = count_of(r.get({"low"}));
  in.high = count_of(r.get({"high"}));
  in.civilians = count_of(r.get({"deaths_civilians"}));
  in.mission = mission_in(f.country).value_or("");
  std::optional<date_value> start, end;
  if (!read_date(ctx, r.line, r.get({"date_start"}), "date_start", start, true)) return;
  if (!read_date(ctx, r.line, r.get({"date_end"}), "date_end", end, false)) return;
  f.occurred_at = start->ms;
  f.period = {start->ms, end ? end_of(*end) : end_of(*start), schema::PeriodPrecision::day};
  auto prec = parse_int(r.get({"date_prec"}));
  if (prec && *prec >= 3) f.period.precision = *prec >= 5 ? schema::PeriodPrecision::year : schema::PeriodPrecision::month;
  place p;
  p.adm1 = r.get({"adm_1"});
  p.adm2 = r.get({"adm_2"});
  p.lat = parse_double(r.get({"latitude"}));
  p.lon = parse_double(r.get({"longitude"}));
  auto where = parse_int(r.get({"where_prec"}));
  p.exact_point = where && *where == 1;
  // UCDP where_prec: 1-3 within an admin-2 area, 4 an admin-1 area, 5-7 a border,
  // the country, or international waters.
  if (where) p.point_level = *where <= 3 ? 2 : *where == 4 ? 1 : 0;
  p.place_name = r.get({"where_coordinates"});
  locate(ctx, r.line, f, p);
  f.source_record_id = "ucdp-ged:" + in.id;
  f.source_revision = content_digest({type, r.get({"best"}), r.get({"low"}), r.get({"high"}),
                                      r.get({"date_start"}), r.get({"date_end"}), p.adm1, p.adm2,
                                      r.get({"latitude"}), r.get({"longitude"}), r.get({"side_a"}),
                                      r.get({"side_b"})});
  emit_incident(ctx, r.line, f, in);
}

void map_acled(import_context& ctx, const record& r) {
  envelope_fields f = ctx.base_fields();
  if (!ctx.settings().classification_forced) f.classification = schema::Classification::public_;
  incident in;
  in.feed = "acled";
  in.id = r.get({"event_id_cnty"});
  if (in.id.empty()) return ctx.skip(r.line, "no event_id_cnty");
  auto iso = parse_int(r.get({"iso"}));
  if (iso) {
    auto c = alpha3_from_numeric(static_cast<int>(*iso));
    if (!c) return ctx.skip(r.line, "iso " + r.get({"iso"}) + " is not an ISO 3166-1 numeric code");
    f.country = *c;
  } else if (!read_country(ctx, r, f, {"country"})) {
    return;
  }
  auto type = r.get({"event_type"});
  auto k = name_key(type);
  if (k == "battles") in.category = IncidentCategory::battle;
  else if (k == "violence against civilians") in.category = IncidentCategory::violence_against_civilians;
  else if (k == "explosions remote violence") in.category = IncidentCategory::explosion_remote_violence;
  else if (k == "riots") in.category = IncidentCategory::riot;
  else if (k == "protests") in.category = IncidentCategory::protest;
  else if (k == "strategic developments") in.category = IncidentCategory::strategic_development;
  else return ctx.skip(r.line, "event_type \"" + type + "\" is not an ACLED event type");
  in.source_category = type;
  if (auto sub = r.get({"sub_event_type"}); !sub.empty()) in.source_category += " / " + sub;
  for (const auto& a : {r.get({"actor1"}), r.get({"actor2"})})
    if (!a.empty()) in.actors.push_back(a);
  auto targets = name_key(r.get({"actor2"}) + " " + r.get({"assoc_actor_2"}));
  if (targets.find("peacekeep") != std::string::npos || targets.find("united nations") != std::string::npos) {
    in.target = "un_personnel";
    if (in.category == IncidentCategory::battle || in.category == IncidentCategory::violence_against_civilians ||
        in.category == IncidentCategory::explosion_remote_violence)
      in.category = IncidentCategory::attack_on_un_personnel;
  } else if (!r.get({"civilian_targeting"}).empty() ||
             in.category == IncidentCategory::violence_against_civilians) {
    in.target = "civilians";
  }
  in.best = count_of(r.get({"fatalities"}));
  in.mission = mission_in(f.country).value_or("");
  std::optional<date_value> date;
  if (!read_date(ctx, r.line, r.get({"event_date"}), "event_date", date, true)) return;
  f.occurred_at = date->ms;
  f.period = {date->ms, end_of(*date), schema::PeriodPrecision::day};
  if (auto tp = parse_int(r.get({"time_precision"})); tp && *tp >= 2)
    f.period.precision = *tp == 2 ? schema::PeriodPrecision::month : schema::PeriodPrecision::year;
  place p;
  p.adm1 = r.get({"admin1"});
  p.adm2 = r.get({"admin2"});
  p.lat = parse_double(r.get({"latitude"}));
  p.lon = parse_double(r.get({"longitude"}));
  auto gp = parse_int(r.get({"geo_precision"}));
  p.exact_point = gp && *gp == 1;
  // ACLED geo_precision: 1 the town, 2 near it or part of a region, 3 only the province.
  if (gp) p.point_level = *gp <= 2 ? 2 : 1;
  p.place_name = r.get({"location"});
  locate(ctx, r.line, f, p);
  f.source_record_id = "acled:" + in.id;
  f.source_revision = r.get({"timestamp"});
  if (f.source_revision.empty())
    f.source_revision = content_digest({type, r.get({"fatalities"}), r.get({"event_date"}), p.adm1, p.adm2});
  emit_incident(ctx, r.line, f, in);
}

void map_fatality(import_context& ctx, const record& r) {
  envelope_fields f = ctx.base_fields();
  if (!ctx.settings().classification_forced) f.classification = schema::Classification::public_;
  incident in;
  in.feed = "psdata-fatalities";
  auto casualty = r.get({"casualty_id"});
  in.id = casualty;
  if (in.id.empty()) in.id = r.get({"id"});
  if (in.id.empty()) return ctx.skip(r.line, "no casualty_id or id");
  in.mission = r.get({"mission_acronym"});
  auto host = mission_country(in.mission);
  if (!host) return ctx.skip(r.line, "mission \"" + in.mission + "\": host country not known (isocode3 is the casualty's nationality, not the place); add the mission to the table in adapters/peacekeeping/missions.cc");
  f.country = *host;
  auto type = r.get({"type_of_incident"});
  auto k = name_key(type);
  if (k == "malicious act") in.category = IncidentCategory::attack_on_un_personnel;
  else if (k == "accident") in.category = IncidentCategory::accident;
  else if (k == "illness") in.category = IncidentCategory::illness;
  else in.category = IncidentCategory::other;
  in.source_category = type;
  in.target = "un_personnel";
  // casualty_personnel_type (Military, Police, ...) names the victim, not an actor: the
  // event keeps it only in the target ("un_personnel:military").
  if (auto personnel = name_key(r.get({"casualty_personnel_type"})); !personnel.empty())
    in.target += ":" + personnel;
  bool fatality = name_key(r.get({"type_of_casualty"})) == "fatality";
  in.best = fatality ? 1 : 0;
  in.un_personnel = fatality ? 1 : 0;
  std::optional<date_value> date;
  if (!read_date(ctx, r.line, r.get({"incident_date"}), "incident_date", date, true)) return;
  f.occurred_at = date->ms;
  f.period = {date->ms, end_of(*date), schema::PeriodPrecision::day};
  f.place_name = in.mission + " mission area";
  f.source_record_id = "psdata-fatalities:" + in.id;
  f.source_revision = r.get({"last_update"});
  emit_incident(ctx, r.line, f, in);
}

// ---------------------------------------------------------------------------
// The definition: which file is which, by the header line.

std::string header_line(std::string_view head) {
  if (head.rfind("\xEF\xBB\xBF", 0) == 0) head.remove_prefix(3);
  auto nl = head.find('\n');
  return lower(head.substr(0, nl));
}

bool header_has(std::string_view head, std::initializer_list<std::string_view> cols) {
  auto h = header_line(head);
  // Compare on column keys so quoting and spacing do not matter.
  std::vector<std::string> keys;
  for (const auto& part : split_list(h, ',')) {
    std::string p = part;
    p.erase(std::remove(p.begin(), p.end(), '"'), p.end());
    keys.push_back(column_key(p));
  }
  for (auto c : cols)
    if (std::find(keys.begin(), keys.end(), c) == keys.end()) return false;
  return true;
}

source csv_source(std::string kind, std::string description, std::vector<std::string> columns,
                  std::string what, void (*map)(import_context&, const record&)) {
  source s;
  s.kind = std::move(kind);
  s.description = std::move(description);
  s.claims = [columns](const std::filesystem::path& f, std::string_view head) {
    if (!has_extension(f, {".csv", ".txt"})) return false;
    for (const auto& c : columns)
      if (!header_has(head, {c})) return false;
    return true;
  };
  s.read = [columns, what, map](import_context& ctx) {
    return for_each_csv_record(ctx, columns, what, [&](const record& r) { map(ctx, r); });
  };
  return s;
}

}  // namespace

const adapter_definition& definition() {
  static const adapter_definition def = [] {
    adapter_definition d;
    d.name = "peacekeeping-adapter";
    d.description = "Peacekeeping mission data (mandate activities, incidents, transition) -> hub events";
    d.entity = schema::Entity::peacekeeping;
    d.default_classification = schema::Classification::internal;
    d.sources.push_back(csv_source("transition-csv",
                                   "transition steps CSV (milestone_id, kind, mission, country, planned_date, ...)",
                                   {"milestone_id", "kind", "planned_date"},
                                   "a transition milestone CSV", map_transition));
    d.sources.push_back(csv_source("mandate-csv",
                                   "mandate activities CSV (activity_id, title, mission, country, mandate_area, ...)",
                                   {"activity_id", "mandate_area"}, "a mandate activity CSV", map_mandate));
    d.sources.push_back(csv_source("psdata-fatalities",
                                   "UN peacekeeper fatalities (psdata DPPADPOSS-FATALITIES columns)",
                                   {"casualty_id", "mission_acronym", "incident_date"},
                                   "a peacekeeper fatalities table", map_fatality));
    d.sources.push_back(csv_source("ucdp-ged", "UCDP GED events CSV (optionally with an HXL row)",
                                   {"id", "type_of_violence", "date_start"}, "a UCDP GED CSV", map_ucdp));
    d.sources.push_back(csv_source("acled", "ACLED events CSV (event_id_cnty, event_date, event_type, ...)",
                                   {"event_id_cnty", "event_date", "event_type"}, "an ACLED CSV", map_acled));
    source jl;
    jl.kind = "mandate-jsonl";
    jl.description = "mandate activities as JSON lines (same fields as mandate-csv)";
    jl.claims = [](const std::filesystem::path& f, std::string_view head) {
      auto t = trim(head);
      if (t.rfind("\xEF\xBB\xBF", 0) == 0) t.remove_prefix(3);
      return has_extension(f, {".jsonl", ".ndjson", ".json"}) || (!t.empty() && t[0] == '{');
    };
    jl.read = [](import_context& ctx) {
      return for_each_json_line(ctx, [&](const record& r) { map_mandate(ctx, r); });
    };
    d.sources.push_back(std::move(jl));
    return d;
  }();
  return def;
}

}  // namespace hub::adapters::peacekeeping
