#include "adapters/development/iati.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>
#include <utility>

#include "adapters/common/text.h"
#include "adapters/development/iati_reader.h"
#include "adapters/sdk/event.h"

namespace hub::adapters::iati {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

// Amounts above this in one transaction are almost certainly a wrong currency or scale
// (the fixtures hold a JPY amount reported as USD 200 billion).
constexpr double implausible_amount = 1e10;

std::string role_word(std::string_view code) {
  if (code == "1") return "funding";
  if (code == "2") return "accountable";
  if (code == "3") return "extending";
  if (code == "4") return "implementing";
  return std::string(code);
}

std::string line_prefix(std::size_t line) { return "line " + std::to_string(line) + ": "; }

// DAC 5-digit purpose codes (and their 3-digit families) -> the sector families the
// rules match on. Kept small on purpose; MAPPING.md lists it.
std::string family_of_dac(std::string_view code) {
  struct row {
    std::string_view prefix;
    std::string_view family;
  };
  static constexpr row rows[] = {
      {"15130", "rule_of_law"}, {"15131", "rule_of_law"}, {"15134", "rule_of_law"},
      {"15137", "rule_of_law"}, {"15210", "ssr"},         {"15240", "ddr"},
      {"15261", "ddr"},         {"15250", "mine_action"}, {"15220", "peacebuilding"},
      {"15230", "peacebuilding"}, {"15151", "elections"}, {"15160", "human_rights"},
      {"15170", "wps"},         {"15180", "wps"},         {"15111", "state_authority"},
      {"15112", "state_authority"}, {"15114", "state_authority"}, {"15110", "governance"},
      {"15150", "governance"},  {"15152", "governance"},  {"15153", "governance"},
      {"151", "governance"},    {"152", "peacebuilding"}, {"720", "humanitarian"},
      {"730", "recovery"},      {"740", "humanitarian"},  {"110", "education"},
      {"111", "education"},     {"112", "education"},     {"113", "education"},
      {"114", "education"},     {"120", "health"},        {"121", "health"},
      {"122", "health"},        {"123", "health"},        {"130", "health"},
      {"140", "wash"},          {"160", "social_protection"}, {"311", "food_security"},
      {"312", "food_security"}, {"313", "food_security"}, {"520", "food_security"},
      {"240", "livelihoods"},   {"250", "livelihoods"},   {"321", "livelihoods"},
      {"331", "livelihoods"},   {"410", "environment"},   {"430", "livelihoods"},
  };
  for (const auto& r : rows)
    if (code.starts_with(r.prefix)) return std::string(r.family);
  return {};
}

}  // namespace

void warn_remarks(import_context& ctx, std::size_t line, const std::vector<std::string>& remarks) {
  for (const auto& r : remarks) {
    // A remark that names its own line ("line 12: ...") is reported on that line.
    std::size_t own = 0, i = 5;
    if (r.starts_with("line ")) {
      while (i < r.size() && r[i] >= '0' && r[i] <= '9') own = own * 10 + static_cast<std::size_t>(r[i++] - '0');
    }
    if (own > 0 && r.compare(i, 2, ": ") == 0) ctx.warn(own, r.substr(i + 2));
    else ctx.warn(line, r);
  }
}

namespace {

}  // namespace

bool looks_like_iati(std::string_view head) { return head.find("<iati-activities") != std::string_view::npos; }

status read_file(import_context& ctx, const activity_fn& on_activity) {
  auto opened = reader::open(ctx.file());
  if (!opened) return opened.error();
  reader& r = *opened.value();
  std::size_t notes_seen = 0;
  auto pass_notes = [&]() {
    for (; notes_seen < r.notes().size(); ++notes_seen)
      ctx.warn(r.notes()[notes_seen].line, r.notes()[notes_seen].text);
  };
  pass_notes();
  const std::string& enc = r.header().encoding;
  const bool latin1 = enc == "iso-8859-1" || enc == "latin1" || enc == "latin-1" || enc == "windows-1252" ||
                      enc == "cp1252" || enc == "iso-8859-15";
  if (!enc.empty() && !latin1 && enc != "utf-8" && enc != "utf8" && enc != "us-ascii" && enc != "ascii")
    return status::invalid_argument(ctx.file().string() + ": encoding \"" + enc +
                                    "\" is not supported; save the file as UTF-8 and import it again");
  std::uint64_t last_progress = 0;
  while (auto text = r.next()) {
    ctx.record_read();
    if (r.bytes_read() - last_progress >= (1u << 20)) {
      last_progress = r.bytes_read();
      ctx.progress(r.bytes_read(), r.file_size());
    }
    if (!text->problem.empty()) {
      ctx.skip(text->line, text->problem);
      continue;
    }
    std::string converted;
    std::string_view xml = text->xml;
    if (latin1) {
      converted = latin1_to_utf8(xml);
      xml = converted;
    } else if (!is_utf8(xml)) {
      ctx.skip(text->line, "the activity is not UTF-8 (the file declares " +
                               (r.header().encoding.empty() ? std::string("no encoding") : r.header().encoding) +
                               "); save the file as UTF-8 or declare encoding=\"ISO-8859-1\"");
      continue;
    }
    auto parsed = parse_activity(xml, text->line);
    if (!parsed) {
      ctx.skip(text->line, parsed.error().message());
      continue;
    }
    activity& a = parsed.value();
    if (a.identifier.empty()) {
      ctx.skip(a.line, "empty iati-identifier: without it the activity has no stable event id "
                       "(the publisher must give one)");
      continue;
    }
    if (a.version.starts_with("1.")) {
      ctx.skip(a.line, a.identifier + ": activity declares IATI version " + a.version +
                           ", which is not supported (" + std::string(supported_versions) + ")");
      continue;
    }
    on_activity(ctx, a);
  }
  pass_notes();
  ctx.progress(r.file_size(), r.file_size());
  return r.error();
}

result<std::vector<country_share>> countries_of(const activity& a, std::string_view fallback,
                                                std::vector<std::string>& remarks) {
  std::vector<country_share> out;
  for (const auto& c : a.countries) {
    auto alpha3 = alpha3_from_alpha2(c.code);
    if (!alpha3) {
      remarks.push_back(line_prefix(c.line) + "recipient-country code \"" + c.code +
                        "\" is not an ISO 3166-1 alpha-2 code; left out");
      continue;
    }
    if (std::any_of(out.begin(), out.end(), [&](const country_share& s) { return s.alpha3 == *alpha3; }))
      continue;
    out.push_back({*alpha3, c.percentage});
  }
  std::stable_sort(out.begin(), out.end(), [](const country_share& x, const country_share& y) {
    return x.percentage.value_or(0) > y.percentage.value_or(0);
  });
  if (!out.empty()) return out;
  if (!fallback.empty()) return std::vector<country_share>{{std::string(fallback), std::nullopt}};
  std::string why = a.countries.empty() ? "no recipient-country" : "no recipient-country with a known code";
  if (!a.regions.empty()) why += " (only recipient-region " + a.regions.front().code + ")";
  return status::invalid_argument(why + "; the hub files every event under a country: run the "
                                        "import with --country ISO3 for such activities");
}

place place_of(const activity& a, std::string_view country, const pcode_table* pcodes,
               std::vector<std::string>& remarks) {
  place p;
  auto add = [&](admin_area area) {
    for (auto& x : p.areas)
      if (x.level == area.level && x.pcode == area.pcode && x.name == area.name) {
        // The same area reached twice: keep the source code the second one carries.
        if (x.code.empty() && !area.code.empty()) {
          x.vocabulary = std::move(area.vocabulary);
          x.code = std::move(area.code);
        }
        return;
      }
    p.areas.push_back(std::move(area));
  };
  // The location's own (non-P-code) administrative code at this level, kept on the area
  // so that a GeoNames or GAUL code is not lost when the P-code comes from the name.
  auto own_code = [](const location& l, std::uint8_t level) -> const administrative* {
    for (const auto& ad : l.admin)
      if (ad.level && *ad.level == level && !ad.code.empty()) return &ad;
    return nullptr;
  };
  auto add_with_parent = [&](const location& l, const pcode_entry& e, schema::GeoResolution how,
                             std::string name) {
    if (pcodes && !e.parent.empty())
      if (const auto* parent = pcodes->by_code(e.parent)) {
        admin_area up{parent->level, parent->pcode, parent->name, how, {}, {}};
        if (const auto* ad = own_code(l, parent->level); ad && ad->code != parent->pcode) {
          up.vocabulary = ad->vocabulary;
          up.code = ad->code;
        }
        add(std::move(up));
      }
    admin_area area{e.level, e.pcode, name.empty() ? e.name : std::move(name), how, {}, {}};
    if (const auto* ad = own_code(l, e.level); ad && ad->code != e.pcode) {
      area.vocabulary = ad->vocabulary;
      area.code = ad->code;
    }
    add(std::move(area));
  };
  for (const auto& l : a.locations) {
    if (l.lat && l.lon) p.points.push_back(geo_point{*l.lat, *l.lon, l.exactness == "1"});
    if (p.place_name.empty()) p.place_name = l.name;
    // A location named after the country itself is the whole country: no admin area.
    if (!l.name.empty() && country_from_text(l.name) == std::string(country)) continue;
    bool done = false;
    if (pcodes) {
      for (const auto& ad : l.admin) {
        const auto* e = pcodes->by_code(ad.code);
        if (e && e->country == country) {
          add_with_parent(l, *e, schema::GeoResolution::exact, {});
          done = true;
        }
      }
      for (std::uint8_t level : {std::uint8_t{2}, std::uint8_t{1}}) {
        if (done || l.name.empty()) break;
        if (const auto* e = pcodes->by_name(country, level, l.name)) {
          add_with_parent(l, *e, schema::GeoResolution::name_match, l.name);
          done = true;
        }
      }
      for (std::uint8_t level : {std::uint8_t{2}, std::uint8_t{1}}) {
        if (done || !l.lat || !l.lon) break;
        if (const auto* e = pcodes->by_point(country, level, *l.lat, *l.lon)) {
          add_with_parent(l, *e, schema::GeoResolution::nearest_centroid, l.name);
          done = true;
        }
      }
    }
    if (done) continue;
    // Unresolved: one area per administrative code the location gives (GeoNames,
    // GAUL, ... are not P-codes, but they identify the area: kept with their
    // vocabulary), the location's name on the finest; else the name alone.
    std::uint8_t finest = 0;
    for (const auto& ad : l.admin)
      if (ad.level && *ad.level >= 0 && *ad.level <= 9 && !ad.code.empty())
        finest = std::max(finest, static_cast<std::uint8_t>(*ad.level));
    bool coded = false;
    for (const auto& ad : l.admin) {
      if (ad.code.empty()) continue;
      auto level = static_cast<std::uint8_t>(ad.level && *ad.level >= 0 && *ad.level <= 9 ? *ad.level : 1);
      add(admin_area{level, {}, level == finest || !ad.level ? l.name : std::string(),
                     schema::GeoResolution::unresolved, ad.vocabulary, ad.code});
      coded = true;
    }
    if (coded) continue;
    if (!l.name.empty()) {
      std::uint8_t level = 1;
      for (const auto& ad : l.admin)
        if (ad.level && *ad.level >= 1 && *ad.level <= 2) level = static_cast<std::uint8_t>(*ad.level);
      add(admin_area{level, {}, l.name, schema::GeoResolution::unresolved, {}, {}});
    } else if (!l.lat) {
      remarks.push_back(line_prefix(l.line) + "location" + (l.ref.empty() ? "" : " " + l.ref) +
                        " has no name, point or administrative code; left out");
    }
  }
  return p;
}

std::optional<gender_marker> gender_of(const activity& a, std::vector<std::string>& remarks) {
  std::optional<gender_marker> out;
  for (const auto& m : a.policy_markers) {
    if (!(m.vocabulary.empty() || m.vocabulary == "1") || m.code != "1") continue;
    if (out) {
      remarks.push_back(line_prefix(m.line) + "a second gender policy marker; the first is kept");
      continue;
    }
    auto g = normalise_gender(schema::GenderScheme::iati_dac, m.significance);
    if (!g) {
      remarks.push_back(line_prefix(m.line) + "gender policy marker significance \"" + m.significance +
                        "\" is not 0, 1 or 2; gender marker left out");
      continue;
    }
    out = g.value();
  }
  return out;
}

std::int64_t time_of(std::string_view iso) {
  if (trim(iso).empty()) return 0;
  if (auto t = sdk::parse_time(trim(iso))) return *t;
  if (auto d = parse_date(iso)) return d->ms;
  return 0;
}

period_value period_of(const activity& a, std::vector<std::string>& remarks) {
  period_value p;
  auto check = [&](const std::string& text, const char* what) {
    if (!text.empty() && time_of(text) == 0 && text.rfind("1970-01-01", 0) != 0)
      remarks.push_back(line_prefix(a.line) + what + " \"" + text + "\" is not a date; left out");
  };
  check(a.planned_start, "planned start");
  check(a.actual_start, "actual start");
  check(a.planned_end, "planned end");
  check(a.actual_end, "actual end");
  auto ps = time_of(a.planned_start), as = time_of(a.actual_start);
  auto pe = time_of(a.planned_end), ae = time_of(a.actual_end);
  if (ps && pe && pe < ps)
    remarks.push_back(line_prefix(a.line) + "planned end " + a.planned_end + " is before planned start " +
                      a.planned_start + "; the dates are kept as published");
  if (as && ae && ae < as)
    remarks.push_back(line_prefix(a.line) + "actual end " + a.actual_end + " is before actual start " +
                      a.actual_start + "; the dates are kept as published");
  p.start = as ? as : ps;
  p.end = ae ? ae : pe;
  if (p.start && p.end && p.end < p.start) p.end = 0;  // open-ended rather than inverted
  else if (p.end) p.end += 86'400'000 - 1;              // the last day is part of the period
  if (p.start || p.end) p.precision = schema::PeriodPrecision::day;
  return p;
}

money_by_currency budget_totals(const activity& a) {
  std::set<std::pair<std::string, std::string>> revised;
  for (const auto& b : a.budgets)
    if (b.type == "2") revised.emplace(b.period_start, b.period_end);
  money_by_currency out;
  for (const auto& b : a.budgets) {
    bool superseded = b.type != "2" && revised.count({b.period_start, b.period_end}) > 0;
    if (!superseded) out[b.currency] += b.value;
  }
  return out;
}

money_by_currency transaction_totals(const activity& a, std::initializer_list<std::string_view> types) {
  money_by_currency out;
  for (const auto& t : a.transactions)
    if (std::find(types.begin(), types.end(), t.type) != types.end()) out[t.currency] += t.value;
  return out;
}

namespace {

// The codes of the sectors and tags in the given IATI vocabularies, each once, in order.
std::vector<std::string> codes_in(const activity& a, std::string_view sector_vocabulary,
                                  std::string_view tag_vocabulary) {
  std::vector<std::string> out;
  auto add = [&](const std::string& code) {
    if (!code.empty() && std::find(out.begin(), out.end(), code) == out.end()) out.push_back(code);
  };
  for (const auto& s : a.sectors)
    if (s.vocabulary == sector_vocabulary) add(s.code);
  for (const auto& t : a.tags)
    if (t.vocabulary == tag_vocabulary) add(t.code);
  return out;
}

}  // namespace

// SDG targets: sector vocabulary 8, tag vocabulary 3.
std::vector<std::string> sdg_targets_of(const activity& a) { return codes_in(a, "8", "3"); }

// SDG goals: sector vocabulary 7, tag vocabulary 2.
std::vector<std::string> sdg_goals_of(const activity& a) { return codes_in(a, "7", "2"); }

schema::ActivityStatus status_of(std::string_view code) {
  if (code.size() == 1 && code[0] >= '1' && code[0] <= '6')
    return static_cast<schema::ActivityStatus>(code[0] - '0');
  return schema::ActivityStatus::unknown;
}

std::string sector_family_of(const activity& a) {
  const coded_share* best = nullptr;
  for (const auto& s : a.sectors) {
    if (s.vocabulary != "1" && s.vocabulary != "2") continue;
    if (family_of_dac(s.code).empty()) continue;
    if (!best || s.percentage.value_or(0) > best->percentage.value_or(0)) best = &s;
  }
  return best ? family_of_dac(best->code) : std::string();
}

std::string revision_of(const activity& a) {
  if (!a.last_updated.empty()) return a.last_updated;
  char buf[32];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016llx", static_cast<unsigned long long>(a.fingerprint));
  return buf;
}

namespace {

// IATI's rule: recipient-country percentages add up to 100. Checked only when the
// activity names no region (regions of several vocabularies make the sum ambiguous).
std::optional<std::string> share_total_remark(const activity& a) {
  if (a.countries.empty() || !a.regions.empty()) return std::nullopt;
  double total = 0;
  std::string parts;
  for (const auto& c : a.countries) {
    if (!c.published_percentage) return std::nullopt;  // shares not given for all: no rule to check
    total += *c.published_percentage;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", *c.published_percentage);
    parts += (parts.empty() ? "" : " + ") + std::string(buf);
  }
  if (std::fabs(total - 100) <= 0.5) return std::nullopt;
  char sum[32];
  std::snprintf(sum, sizeof sum, "%g", total);
  return "recipient-country percentages add up to " + std::string(sum) + " (" + parts +
         "), not 100; shares kept as published";
}

// The reporting organisation's ref written another way elsewhere in the activity
// (Terre des hommes: "CH-FDJP-CHE106823242" reports, "CH-FDJP-CHE-106823242" takes
// part and prefixes an identifier): refs are kept as published, but a consumer that
// matches organisations by ref should know.
std::optional<std::string> org_spelling_remark(const activity& a) {
  if (!a.reporting_org || a.reporting_org->ref.empty()) return std::nullopt;
  auto fold = [](std::string_view s) {
    std::string out;
    for (char c : s)
      if (std::isalnum(static_cast<unsigned char>(c))) out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return out;
  };
  const std::string& rep = a.reporting_org->ref;
  const std::string key = fold(rep);
  std::string other;
  for (const auto& o : a.participating_orgs)
    if (o.ref != rep && fold(o.ref) == key) other = o.ref;
  if (other.empty()) return std::nullopt;
  std::string where = "participating-org";
  if (!a.identifier.starts_with(rep) && a.identifier.starts_with(other)) where += " and iati-identifier";
  return "reporting-org ref \"" + rep + "\" is written \"" + other + "\" in " + where +
         " (the same organisation, spelt differently); refs kept as published";
}

Offset<schema::Organisation> make_org(FlatBufferBuilder& fbb, const organisation& o, std::string role) {
  return schema::CreateOrganisation(fbb, opt_string(fbb, o.ref), opt_string(fbb, o.name),
                                    opt_string(fbb, role), opt_string(fbb, o.type));
}

Offset<flatbuffers::Vector<Offset<schema::SectorCode>>> make_codes(FlatBufferBuilder& fbb,
                                                                   const std::vector<coded_share>& v) {
  if (v.empty()) return 0;
  std::vector<Offset<schema::SectorCode>> out;
  for (const auto& c : v)
    out.push_back(schema::CreateSectorCode(fbb, opt_string(fbb, c.vocabulary), opt_string(fbb, c.code),
                                           opt_string(fbb, c.name),
                                           static_cast<float>(c.percentage.value_or(-1))));
  return fbb.CreateVector(out);
}

Offset<flatbuffers::Vector<Offset<schema::Money>>> make_money(FlatBufferBuilder& fbb,
                                                              const money_by_currency& m) {
  if (m.empty()) return 0;
  std::vector<Offset<schema::Money>> out;
  for (const auto& [currency, amount] : m)
    out.push_back(schema::CreateMoney(fbb, fbb.CreateString(currency), amount));
  return fbb.CreateVector(out);
}

}  // namespace

void emit_programme_activity(import_context& ctx, const activity& a) {
  std::vector<std::string> remarks = a.remarks;
  auto countries = countries_of(a, ctx.settings().country, remarks);
  if (!countries) {
    warn_remarks(ctx, a.line, remarks);
    ctx.skip(a.line, a.identifier + ": " + countries.error().message());
    return;
  }
  auto gender = gender_of(a, remarks);
  auto period = period_of(a, remarks);
  auto status = status_of(a.status_code);
  if (status == schema::ActivityStatus::unknown)
    remarks.push_back(line_prefix(a.line) +
                      (a.status_code.empty() ? std::string("no activity-status")
                                             : "activity-status \"" + a.status_code + "\" is not an IATI code 1-6") +
                      "; status unknown");
  for (const auto& t : a.transactions)
    if (std::fabs(t.value) >= implausible_amount) {
      char amount[64];
      std::snprintf(amount, sizeof amount, "%.0f", t.value);
      remarks.push_back(line_prefix(t.line) + "transaction of " + t.currency + " " + amount +
                        " is implausibly large; kept as published (check its currency)");
    }
  if (auto r = share_total_remark(a)) remarks.push_back(line_prefix(a.line) + *r);
  if (auto r = org_spelling_remark(a)) remarks.push_back(line_prefix(a.line) + *r);
  std::string parent;
  for (const auto& r : a.related)
    if (r.type == "1" && !r.ref.empty()) {
      parent = r.ref;
      break;
    }
  auto budgets = budget_totals(a);
  // Incoming commitments (11) repeat the outgoing ones (2) for the same money in UNDP's
  // data, so they count only when no outgoing commitment is reported.
  auto commitments = transaction_totals(a, {"2"});
  if (commitments.empty()) commitments = transaction_totals(a, {"11"});
  auto disbursements = transaction_totals(a, {"3", "4"});
  auto sdgs = sdg_targets_of(a);
  auto goals = sdg_goals_of(a);
  auto family = sector_family_of(a);
  std::vector<std::string> scopes;
  for (const auto& s : a.humanitarian_scopes)
    if (!s.code.empty() && std::find(scopes.begin(), scopes.end(), s.code) == scopes.end())
      scopes.push_back(s.code);

  bool several = countries.value().size() > 1;
  std::vector<std::string> place_remarks;
  for (const auto& c : countries.value()) {
    FlatBufferBuilder fbb(4096);
    auto rep = a.reporting_org ? make_org(fbb, *a.reporting_org, "reporting") : 0;
    std::vector<Offset<schema::Organisation>> orgs;
    for (const auto& o : a.participating_orgs) orgs.push_back(make_org(fbb, o, role_word(o.role)));
    auto payload = schema::CreateProgrammeActivity(
        fbb, opt_string(fbb, a.identifier), opt_string(fbb, a.title), rep,
        orgs.empty() ? 0 : fbb.CreateVector(orgs), status,
        static_cast<std::uint8_t>(status == schema::ActivityStatus::unknown ? 0 : a.status_code[0] - '0'),
        time_of(a.planned_start), time_of(a.planned_end), time_of(a.actual_start), time_of(a.actual_end),
        make_codes(fbb, a.countries), make_codes(fbb, a.regions), make_codes(fbb, a.sectors),
        opt_strings(fbb, sdgs), static_cast<std::uint8_t>(a.hierarchy.value_or(1)), opt_string(fbb, parent),
        make_money(fbb, budgets), make_money(fbb, commitments), make_money(fbb, disbursements),
        a.humanitarian, opt_strings(fbb, scopes), opt_string(fbb, family), opt_strings(fbb, goals));

    envelope_fields f = ctx.base_fields();
    f.country = c.alpha3;
    std::vector<std::string> repeated;  // the same remarks again for the other countries
    auto where = place_of(a, c.alpha3, ctx.settings().pcodes,
                          &c == &countries.value().front() ? place_remarks : repeated);
    f.admin_areas = std::move(where.areas);
    f.points = std::move(where.points);
    f.place_name = std::move(where.place_name);
    f.period = period;
    f.occurred_at = period.start ? period.start : time_of(a.last_updated);
    f.gender = gender;
    f.source_record_id = several ? a.identifier + "@" + c.alpha3 : a.identifier;
    f.source_revision = revision_of(a);
    // Outputs share their project's identifier, and the events of a multi-country
    // activity share the activity's, so consumers can group them.
    f.correlation_id = !parent.empty() ? parent : (several || a.hierarchy.value_or(1) == 1) ? a.identifier : "";
    ctx.emit(a.line, fbb, f, schema::Payload::ProgrammeActivity, payload.Union());
  }
  remarks.insert(remarks.end(), place_remarks.begin(), place_remarks.end());
  warn_remarks(ctx, a.line, remarks);
}

adapter_definition development_adapter() {
  adapter_definition def;
  def.name = "development-adapter";
  def.description = "IATI Activity Standard 2.01-2.03 XML -> ProgrammeActivity events";
  def.entity = schema::Entity::development;
  def.default_classification = schema::Classification::public_;
  source s;
  s.kind = "iati";
  s.description = "IATI activity XML (<iati-activities version=\"2.0x\">), streamed activity by activity";
  s.claims = [](const std::filesystem::path& file, std::string_view head) {
    return looks_like_iati(head) || has_extension(file, {".xml"});
  };
  s.read = [](import_context& ctx) { return read_file(ctx, emit_programme_activity); };
  def.sources.push_back(std::move(s));
  return def;
}

}  // namespace hub::adapters::iati
