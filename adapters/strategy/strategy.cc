#include "adapters/strategy/strategy.h"

#include <yaml-cpp/yaml.h>

#include "adapters/common/text.h"

namespace hub::adapters::strategy {
namespace {

std::size_t line_of(const YAML::Node& n) { return static_cast<std::size_t>(n.Mark().line + 1); }

std::string scalar(const YAML::Node& n) {
  if (!n || !n.IsScalar()) return {};
  return clean_text(n.Scalar());
}

// A list written as a YAML sequence or as "a; b; c".
std::vector<std::string> list(const YAML::Node& n) {
  std::vector<std::string> out;
  if (!n) return out;
  if (n.IsSequence()) {
    for (const auto& e : n)
      if (auto s = scalar(e); !s.empty()) out.push_back(s);
  } else if (n.IsScalar()) {
    for (auto& s : split_list(n.Scalar(), n.Scalar().find(';') != std::string::npos ? ';' : ','))
      out.push_back(s);
  }
  return out;
}

// Maps one YAML document; reports problems through ctx. False if it was skipped.
bool map_strategy(import_context& ctx, const YAML::Node& doc, std::size_t doc_line) {
  ctx.record_read();
  if (!doc.IsMap()) {
    ctx.skip(doc_line, "a strategy must be a YAML mapping (strategy_id: ..., objectives: [...])");
    return false;
  }
  envelope_fields f = ctx.base_fields();
  auto id = scalar(doc["strategy_id"]);
  if (id.empty()) id = scalar(doc["id"]);
  if (id.empty()) {
    ctx.skip(doc_line, "no strategy_id");
    return false;
  }
  auto version = parse_int(scalar(doc["version"]));
  if (!version || *version < 1 || *version > 1000000) {
    ctx.skip(doc["version"] ? line_of(doc["version"]) : doc_line,
             "strategy " + id + ": version must be a whole number from 1 (got \"" + scalar(doc["version"]) + "\")");
    return false;
  }
  auto country_text = scalar(doc["country"]);
  auto country = country_from_text(country_text);
  if (!country && country_text.empty() && !ctx.settings().country.empty()) country = ctx.settings().country;
  if (!country) {
    ctx.skip(doc["country"] ? line_of(doc["country"]) : doc_line,
             "strategy " + id + ": country \"" + country_text + "\" is not an ISO 3166-1 code or name");
    return false;
  }
  f.country = *country;
  auto from_text = scalar(doc["valid_from"]);
  auto to_text = scalar(doc["valid_to"]);
  auto from = parse_date(from_text);
  if (!from) {
    ctx.skip(doc["valid_from"] ? line_of(doc["valid_from"]) : doc_line,
             "strategy " + id + ": valid_from \"" + from_text + "\" is not a date (YYYY-MM-DD)");
    return false;
  }
  std::optional<date_value> to;
  if (!to_text.empty()) {
    to = parse_date(to_text);
    if (!to || end_of(*to) < from->ms) {
      ctx.skip(line_of(doc["valid_to"]), "strategy " + id + ": valid_to \"" + to_text +
                                             "\" is not a date on or after valid_from");
      return false;
    }
  }
  if (!ctx.settings().classification_forced) {
    if (auto c = scalar(doc["classification"]); !c.empty()) {
      if (auto cl = classification_from_text(c)) f.classification = *cl;
      else ctx.warn(line_of(doc["classification"]), "classification \"" + c + "\" not understood; kept internal");
    }
  }
  const YAML::Node objs = doc["objectives"];
  if (!objs || !objs.IsSequence() || objs.size() == 0) {
    ctx.skip(objs ? line_of(objs) : doc_line, "strategy " + id + ": objectives must be a non-empty list");
    return false;
  }
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<schema::StrategyObjective>> out;
  std::vector<std::string> seen_ids;
  std::string digest_text;
  const pcode_table* pc = ctx.settings().pcodes;
  for (const auto& o : objs) {
    std::size_t ol = line_of(o);
    if (!o.IsMap()) {
      ctx.skip(ol, "strategy " + id + ": an objective must be a mapping with id and text");
      return false;
    }
    auto oid = scalar(o["id"]);
    if (oid.empty()) {
      ctx.skip(ol, "strategy " + id + ": objective without id");
      return false;
    }
    if (std::find(seen_ids.begin(), seen_ids.end(), oid) != seen_ids.end()) {
      ctx.skip(ol, "strategy " + id + ": objective id " + oid + " appears twice");
      return false;
    }
    seen_ids.push_back(oid);
    std::vector<schema::ThematicArea> a4p;
    for (const auto& a : list(o["a4p_areas"])) {
      if (auto t = thematic_area_from_text(a)) a4p.push_back(*t);
      else ctx.warn(ol, "objective " + oid + ": A4P area \"" + a + "\" unknown (politics, women_peace_security, protection, safety_security, performance_accountability, peacebuilding_sustaining_peace, partnerships, conduct); left out");
    }
    std::vector<schema::MandateArea> areas;
    for (const auto& a : list(o["mandate_areas"])) {
      if (auto m = mandate_area_from_text(a)) areas.push_back(*m);
      else ctx.warn(ol, "objective " + oid + ": mandate area \"" + a + "\" unknown; left out");
    }
    std::vector<std::string> scope;
    auto scope_in = list(o["admin_areas"]);
    if (scope_in.empty()) scope_in = list(o["admin_areas_in_scope"]);
    for (const auto& a : scope_in) {
      if (pc && pc->covers(f.country)) {
        if (auto* e = pc->by_code(a)) {
          scope.push_back(e->pcode);
          continue;
        }
        const pcode_entry* e = pc->by_name(f.country, 2, a);
        if (!e) e = pc->by_name(f.country, 1, a);
        if (e) {
          scope.push_back(e->pcode);
          continue;
        }
        ctx.warn(ol, "objective " + oid + ": admin area \"" + a + "\" not in the P-code table for " + f.country + "; kept as written");
      }
      scope.push_back(a);
    }
    std::vector<schema::Entity> entities;
    for (const auto& a : list(o["expected_entities"])) {
      if (auto e = entity_from_text(a)) entities.push_back(*e);
      else ctx.warn(ol, "objective " + oid + ": entity \"" + a + "\" unknown (peacekeeping, development, peacebuilding, country_team, coordination); left out");
    }
    auto priority = parse_int(scalar(o["priority"]));
    if (priority && (*priority < 1 || *priority > 255)) {
      ctx.warn(ol, "objective " + oid + ": priority must be 1-255; read as 1");
      priority = 1;
    }
    auto families = list(o["sector_families"]);
    auto text = scalar(o["text"]);
    if (text.empty()) ctx.warn(ol, "objective " + oid + " has no text");
    digest_text += oid + "|" + text + "|" + std::to_string(priority.value_or(0));
    for (const auto& s : scope) digest_text += "|" + s;
    for (const auto& s : families) digest_text += "|" + s;
    for (auto a : a4p) digest_text += "|a" + std::to_string(static_cast<int>(a));
    for (auto a : areas) digest_text += "|m" + std::to_string(static_cast<int>(a));
    for (auto a : entities) digest_text += "|e" + std::to_string(static_cast<int>(a));
    out.push_back(schema::CreateStrategyObjective(
        fbb, opt_string(fbb, oid), opt_string(fbb, text), a4p.empty() ? 0 : fbb.CreateVector(a4p),
        areas.empty() ? 0 : fbb.CreateVector(areas), opt_strings(fbb, families), opt_strings(fbb, scope),
        static_cast<std::uint8_t>(priority.value_or(1)), entities.empty() ? 0 : fbb.CreateVector(entities)));
  }
  auto supersedes = parse_int(scalar(doc["supersedes"]));
  auto title = scalar(doc["title"]);
  std::int64_t valid_to = to ? end_of(*to) : 0;
  auto payload = schema::CreatePoliticalStrategy(
      fbb, opt_string(fbb, id), static_cast<std::uint32_t>(*version), opt_string(fbb, title), from->ms,
      valid_to, fbb.CreateVector(out),
      static_cast<std::uint32_t>(supersedes && *supersedes > 0 ? *supersedes : 0));
  f.occurred_at = from->ms;
  f.period = {from->ms, valid_to, from->precision};
  f.a4p_areas = {schema::ThematicArea::politics};
  f.a4p_plus = {schema::A4pPlusPriority::collective_coherence};
  f.source_record_id = "strategy:" + id;
  f.source_revision = "v" + std::to_string(*version) + ":" +
                      content_digest({title, from_text, to_text, digest_text, scalar(doc["supersedes"])});
  return ctx.emit(doc_line, fbb, f, schema::Payload::PoliticalStrategy, payload.Union());
}

status read_strategy_yaml(import_context& ctx) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAllFromFile(ctx.file().string());
  } catch (const YAML::BadFile&) {
    return status::io_error(ctx.file().string() + ": cannot be opened for reading");
  } catch (const YAML::ParserException& e) {
    return status::invalid_argument(ctx.file().string() + ":" + std::to_string(e.mark.line + 1) +
                                    ": not valid YAML: " + e.msg);
  }
  if (docs.empty()) return status::invalid_argument(ctx.file().string() + ": empty; expected a strategy (strategy_id, version, country, objectives)");
  std::size_t maps = 0;
  for (const auto& d : docs)
    if (d.IsMap()) ++maps;
  if (maps == 0)
    return status::invalid_argument(ctx.file().string() + ": YAML, but not a strategy (no mapping with strategy_id, version, country, objectives)");
  for (const auto& d : docs) {
    if (d.IsNull()) continue;
    map_strategy(ctx, d, line_of(d));
  }
  return status::ok();
}

}  // namespace

const adapter_definition& definition() {
  static const adapter_definition def = [] {
    adapter_definition d;
    d.name = "strategy-adapter";
    d.description = "Political strategies written in YAML -> PoliticalStrategy events (coordination)";
    d.entity = schema::Entity::coordination;
    d.default_classification = schema::Classification::internal;
    source s;
    s.kind = "strategy-yaml";
    s.description = "a political strategy in YAML (strategy_id, version, country, valid_from, objectives)";
    s.claims = [](const std::filesystem::path& f, std::string_view) { return has_extension(f, {".yaml", ".yml"}); };
    s.read = read_strategy_yaml;
    d.sources.push_back(std::move(s));
    return d;
  }();
  return def;
}

}  // namespace hub::adapters::strategy
