#include "adapters/country_team/country_team.h"

#include <chrono>
#include <cstdio>
#include <unordered_map>

#include "adapters/common/hxl.h"
#include "adapters/common/text.h"

namespace hub::adapters::country_team {
namespace {

using schema::ActivityStatus;

// FNV-1a, 64 bits, as hex: a short, stable digest of a row's mapped content, used as
// the source revision (a changed row is a new revision, an unchanged one the same).
std::string digest(const std::vector<std::string>& parts) {
  std::uint64_t h = 1469598103934665603ull;
  for (const auto& p : parts) {
    for (unsigned char c : p) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0x1f;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string family_of(std::string_view sector) {
  auto k = name_key(sector);
  for (auto& c : k)
    if (c == ' ') c = '_';
  return k;
}

bool yes(std::string_view s) {
  auto k = name_key(s);
  return k == "yes" || k == "y" || k == "true" || k == "1" || k == "oui" || k == "si";
}
bool no(std::string_view s) {
  auto k = name_key(s);
  return k == "no" || k == "n" || k == "false" || k == "0" || k == "non";
}

// The columns this reader uses, found once per file.
struct columns {
  std::optional<std::size_t> org_name, org_acronym, org_code, org_type, org_plain;
  std::optional<std::size_t> sector_name, sector_code, sector_family;
  std::optional<std::size_t> activity, activity_code, activity_type;
  std::optional<std::size_t> country, country_code;
  std::optional<std::size_t> adm1_code, adm1_name, adm2_code, adm2_name, loc_name, lat, lon;
  std::optional<std::size_t> status;
  std::optional<std::size_t> date_start, date_end, date_reported, date_year, date_month, date_plain;
  std::vector<std::size_t> targeted, reached;
  std::optional<std::size_t> targeted_total, reached_total;
  std::optional<std::size_t> humanitarian, cf_outcome, cf_output, gem;
  std::optional<std::size_t> strategy_id, strategy_version, strategy_objective, correlation;
};

columns find_columns(const hxl_columns& h) {
  columns c;
  c.org_name = h.find("org", {"name"}, {"type", "code", "acronym"});
  c.org_acronym = h.find("org", {"acronym"});
  c.org_code = h.find("org", {"code"});
  c.org_type = h.find("org", {"type"});
  c.org_plain = h.find("org", {}, {"type", "code", "acronym", "name", "funder", "prog"});
  c.sector_code = h.find("sector", {"code"});
  c.sector_family = h.find("sector", {"family"});
  c.sector_name = h.find("sector", {}, {"code", "family"});
  c.activity_code = h.find("activity", {"code"});
  c.activity_type = h.find("activity", {"type"});
  c.activity = h.find("activity", {}, {"code", "type"});
  c.country_code = h.find("country", {"code"});
  c.country = h.find("country", {}, {"code"});
  c.adm1_code = h.find("adm1", {"code"});
  c.adm1_name = h.find("adm1", {}, {"code"});
  c.adm2_code = h.find("adm2", {"code"});
  c.adm2_name = h.find("adm2", {}, {"code"});
  c.loc_name = h.find("loc", {}, {"code", "type"});
  c.lat = h.find("geo", {"lat"});
  c.lon = h.find("geo", {"lon"});
  c.status = h.find("status");
  c.date_start = h.find("date", {"start"});
  c.date_end = h.find("date", {"end"});
  c.date_reported = h.find("date", {"reported"});
  c.date_year = h.find("date", {"year"});
  c.date_month = h.find("date", {"month"});
  c.date_plain = h.find("date", {}, {"start", "end", "reported", "year", "month", "quarter"});
  for (const auto& col : h.columns()) {
    bool total = true;
    for (const auto& a : col.attributes)
      if (a != "ind" && a != "total" && a != "i" && a.size() > 0) total = false;
    if (col.tag == "targeted") {
      c.targeted.push_back(col.index);
      if (total && !c.targeted_total) c.targeted_total = col.index;
    }
    if (col.tag == "reached") {
      c.reached.push_back(col.index);
      if (total && !c.reached_total) c.reached_total = col.index;
    }
  }
  c.humanitarian = h.find("x_humanitarian");
  if (!c.humanitarian) c.humanitarian = h.find("meta", {"humanitarian"});
  c.cf_outcome = h.find("x_cf", {"outcome"});
  c.cf_output = h.find("x_cf", {"output"});
  c.gem = h.find("x_gem");
  c.strategy_id = h.find("x_strategy", {"id"});
  c.strategy_version = h.find("x_strategy", {"version"});
  c.strategy_objective = h.find("x_strategy", {"objective"});
  c.correlation = h.find("x_correlation");
  return c;
}

// People figures: the total column if there is one, else the sum of the disaggregated
// columns; -1 when none has a number.
std::int64_t people(const hxl_columns& h, const csv_row& row, std::optional<std::size_t> total,
                    const std::vector<std::size_t>& all) {
  if (total) {
    if (auto v = parse_int(h.cell(row, total))) return *v;
  }
  std::int64_t sum = -1;
  for (auto i : all) {
    if (total && i == *total) continue;
    if (auto v = parse_int(h.cell(row, i)); v && *v >= 0) sum = (sum < 0 ? 0 : sum) + *v;
  }
  return sum;
}

}  // namespace

status read_hxl_3w(import_context& ctx) {
  const auto& settings = ctx.settings();
  auto opened = csv_reader::open(ctx.file(), settings.csv);
  if (!opened) return opened.error();
  auto& reader = **opened;
  auto header = hxl_columns::read_header(reader);
  if (!header) return header.error();
  const hxl_columns& h = header.value();
  for (const auto& n : h.notes())
    ctx.warn(h.header_line(), "column " + std::to_string(n.column) + ": " + n.text);
  const columns c = find_columns(h);
  if (!c.org_name && !c.org_acronym && !c.org_plain && !c.org_code && !c.sector_name &&
      !c.sector_code && !c.activity && !c.activity_code)
    return status::invalid_argument(
        ctx.file().string() + ":" + std::to_string(h.header_line()) +
        ": an HXL file, but not a 3W: its hashtag row has none of #org, #sector, #activity");
  if (reader.converted_latin1())
    ctx.warn(reader.first_converted_line(), "file is ISO-8859-1, not UTF-8: converted (from this line on)");

  const pcode_table* pc = settings.pcodes;
  std::unordered_map<std::string, std::size_t> keys_seen;  // row key -> line
  bool warned_latin1 = reader.converted_latin1();
  while (auto row = reader.next()) {
    ctx.progress(reader.bytes_read(), reader.file_size());
    if (!warned_latin1 && reader.converted_latin1()) {
      warned_latin1 = true;
      ctx.warn(reader.first_converted_line(), "file is ISO-8859-1, not UTF-8: converted (from this line on)");
    }
    if (row->blank()) continue;
    ctx.record_read();
    const std::size_t line = row->line;
    // A second hashtag row (files concatenated) is not data.
    if (hxl_columns::from_row(*row)) {
      ctx.skip(line, "another hashtag row; not data");
      continue;
    }

    std::string org_name = h.cell(*row, c.org_name);
    std::string org_acr = h.cell(*row, c.org_acronym);
    std::string org_plain = h.cell(*row, c.org_plain);
    std::string org_code = h.cell(*row, c.org_code);
    if (org_name.empty()) org_name = !org_plain.empty() ? org_plain : org_acr;
    std::string org_ref = !org_code.empty() ? org_code : org_acr;
    std::string sector = h.cell(*row, c.sector_name);
    std::string sector_code = h.cell(*row, c.sector_code);
    std::string activity = h.cell(*row, c.activity);
    std::string activity_code = h.cell(*row, c.activity_code);
    if (org_name.empty() && org_ref.empty() && sector.empty() && sector_code.empty() && activity.empty() &&
        activity_code.empty()) {
      ctx.skip(line, "no organisation, sector or activity: nothing to report");
      continue;
    }

    // Country: the row's own, else from its P-codes, else --country.
    envelope_fields f = ctx.base_fields();
    std::string country_text = h.cell(*row, c.country_code);
    if (country_text.empty()) country_text = h.cell(*row, c.country);
    if (!country_text.empty()) {
      auto cc = country_from_text(country_text);
      if (!cc) {
        ctx.skip(line, "country \"" + country_text + "\" is not an ISO 3166-1 code or country name");
        continue;
      }
      f.country = *cc;
    }
    std::string adm1_code = h.cell(*row, c.adm1_code), adm1_name = h.cell(*row, c.adm1_name);
    std::string adm2_code = h.cell(*row, c.adm2_code), adm2_name = h.cell(*row, c.adm2_name);
    if (f.country.empty() && pc) {
      if (!adm2_code.empty()) f.country = pc->country_of(adm2_code).value_or("");
      if (f.country.empty() && !adm1_code.empty()) f.country = pc->country_of(adm1_code).value_or("");
    }
    if (f.country.empty()) f.country = settings.country;
    if (f.country.empty()) {
      ctx.skip(line, "no country: the row has no #country and no known P-code; import with --country ISO3");
      continue;
    }

    auto lat = parse_double(h.cell(*row, c.lat));
    auto lon = parse_double(h.cell(*row, c.lon));
    if (!adm1_code.empty() || !adm1_name.empty()) {
      admin_area a = pc ? pc->resolve(f.country, 1, adm1_code, adm1_name, lat, lon)
                        : admin_area{1, "", adm1_name.empty() ? adm1_code : adm1_name, schema::GeoResolution::unresolved, {}, {}};
      if (!adm1_code.empty() && a.resolution != schema::GeoResolution::exact)
        ctx.warn(line, "admin1 code \"" + adm1_code + "\" is not in the P-code table" +
                           (a.pcode.empty() ? "" : "; matched by name to " + a.pcode));
      f.admin_areas.push_back(std::move(a));
    }
    if (!adm2_code.empty() || !adm2_name.empty()) {
      std::string parent = f.admin_areas.empty() ? "" : f.admin_areas.front().pcode;
      admin_area a = pc ? pc->resolve(f.country, 2, adm2_code, adm2_name, lat, lon, parent)
                        : admin_area{2, "", adm2_name.empty() ? adm2_code : adm2_name, schema::GeoResolution::unresolved, {}, {}};
      if (pc && a.resolution == schema::GeoResolution::exact && !parent.empty()) {
        if (auto* e = pc->by_code(a.pcode); e && !e->parent.empty() && e->parent != parent)
          ctx.warn(line, "admin2 " + a.pcode + " (" + e->name + ") belongs to " + e->parent +
                             " in the P-code table, not to " + parent + " as the row says; kept as given");
      }
      if (!adm2_code.empty() && a.resolution != schema::GeoResolution::exact)
        ctx.warn(line, "admin2 code \"" + adm2_code + "\" is not in the P-code table" +
                           (a.pcode.empty() ? "" : "; matched by name to " + a.pcode));
      f.admin_areas.push_back(std::move(a));
    }
    if (lat && lon) f.points.push_back({*lat, *lon, true});
    f.place_name = h.cell(*row, c.loc_name);

    // When: explicit start/end, else the report month, else a reported date, else a year.
    std::string report_month;
    auto start = parse_date(h.cell(*row, c.date_start));
    auto end = parse_date(h.cell(*row, c.date_end));
    auto year = parse_int(h.cell(*row, c.date_year));
    auto month = month_from_name(h.cell(*row, c.date_month));
    if (!month) {
      if (auto m = parse_int(h.cell(*row, c.date_month)); m && *m >= 1 && *m <= 12) month = static_cast<int>(*m);
    }
    if (year && month && *year > 1900 && *year < 2200) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%04d-%02d", static_cast<int>(*year), *month);
      report_month = buf;
    }
    auto reported = parse_date(h.cell(*row, c.date_reported));
    if (!reported) reported = parse_date(h.cell(*row, c.date_plain));
    if (start) {
      f.period.start = start->ms;
      f.period.precision = start->precision;
      f.period.end = end ? end_of(*end) : 0;
    } else if (!report_month.empty()) {
      auto d = parse_date(report_month);
      f.period = {d->ms, end_of(*d), schema::PeriodPrecision::month};
    } else if (reported) {
      f.period = {reported->ms, end_of(*reported), reported->precision};
    } else if (year && *year > 1900 && *year < 2200) {
      date_value d{days_to_ms(static_cast<int>(*year), 1, 1), schema::PeriodPrecision::year};
      f.period = {d.ms, end_of(d), d.precision};
    } else {
      std::string raw = h.cell(*row, c.date_plain);
      if (raw.empty()) raw = h.cell(*row, c.date_start);
      if (!raw.empty()) ctx.warn(line, "date \"" + raw + "\" not understood; period left open");
    }
    if (report_month.empty() && reported && reported->precision != schema::PeriodPrecision::year) {
      char buf[16];
      auto d = std::chrono::sys_days(std::chrono::days(reported->ms / 86400000LL));
      std::chrono::year_month_day ymd(d);
      std::snprintf(buf, sizeof buf, "%04d-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()));
      report_month = buf;
    }
    f.occurred_at = f.period.start;

    // Status: the #status word; a 3W without a status column reports current presence.
    ActivityStatus st = ActivityStatus::active;
    if (c.status) {
      std::string s = h.cell(*row, c.status);
      if (s.empty()) {
        st = ActivityStatus::unknown;
        ctx.warn(line, "empty #status; status unknown");
      } else if (auto a = activity_status_from_text(s)) {
        st = *a;
      } else {
        st = ActivityStatus::unknown;
        ctx.warn(line, "#status \"" + s + "\" not understood (use planned, ongoing, completed, suspended, cancelled); status unknown");
      }
    }

    bool humanitarian = true;
    std::string hum = h.cell(*row, c.humanitarian);
    std::string atype = name_key(h.cell(*row, c.activity_type));
    if (no(hum) || atype == "development" || atype == "peacebuilding" || atype == "cooperation framework")
      humanitarian = false;
    else if (!hum.empty() && !yes(hum))
      ctx.warn(line, "humanitarian flag \"" + hum + "\" not understood (yes/no); read as yes");

    std::string gem = h.cell(*row, c.gem);
    if (!gem.empty()) {
      auto g = normalise_gender(schema::GenderScheme::unct_gem, gem);
      if (g) f.gender = g.value();
      else ctx.warn(line, g.error().message() + "; marker left out");
    } else {
      f.gender = gender_marker{};  // scheme none: the 3W gives no marker
    }
    std::string sid = h.cell(*row, c.strategy_id), sobj = h.cell(*row, c.strategy_objective);
    if (!sid.empty() && !sobj.empty()) {
      strategy_ref r{sid, 0, sobj};
      if (auto v = parse_int(h.cell(*row, c.strategy_version)); v && *v >= 0) r.version = static_cast<std::uint32_t>(*v);
      for (const auto& o : split_list(sobj, ';')) f.strategy_refs.push_back({sid, r.version, o});
    } else if (!sobj.empty()) {
      ctx.warn(line, "strategy objective \"" + sobj + "\" without #x_strategy+id; claim left out");
    }
    f.correlation_id = h.cell(*row, c.correlation);
    if (!settings.classification_forced) f.classification = settings.classification;

    std::string family = h.cell(*row, c.sector_family);
    if (family.empty()) family = family_of(!sector.empty() ? sector : sector_code);

    // Row key: org x sector x activity x admin codes x report period.
    std::string period_key = !report_month.empty() ? report_month
                             : f.period.start ? std::to_string(f.period.start) : "";
    std::string where = f.admin_areas.size() > 0 ? (f.admin_areas[0].pcode.empty() ? name_key(f.admin_areas[0].name) : f.admin_areas[0].pcode) : "";
    if (f.admin_areas.size() > 1)
      where += "/" + (f.admin_areas[1].pcode.empty() ? name_key(f.admin_areas[1].name) : f.admin_areas[1].pcode);
    std::string key = "3w:" + f.country + ":" + name_key(!org_ref.empty() ? org_ref : org_name) + "|" +
                      name_key(!sector_code.empty() ? sector_code : sector) + "|" +
                      (!activity_code.empty() ? name_key(activity_code) : name_key(activity)) + "|" + where +
                      "|" + period_key;
    if (auto [it, fresh] = keys_seen.emplace(key, line); !fresh) {
      ctx.skip(line, "same organisation, sector, activity, place and period as line " +
                         std::to_string(it->second) + "; not imported twice");
      continue;
    }
    f.source_record_id = key;
    std::int64_t targeted = people(h, *row, c.targeted_total, c.targeted);
    std::int64_t reached = people(h, *row, c.reached_total, c.reached);
    std::string status_text(schema::EnumNameActivityStatus(st));
    f.source_revision = digest({org_name, org_ref, h.cell(*row, c.org_type), sector, sector_code, activity,
                                activity_code, status_text, std::to_string(targeted), std::to_string(reached),
                                gem, sid, sobj, h.cell(*row, c.strategy_version), f.correlation_id,
                                h.cell(*row, c.cf_outcome), h.cell(*row, c.cf_output), hum, atype,
                                f.place_name, std::to_string(f.period.end)});

    flatbuffers::FlatBufferBuilder fbb;
    auto org = schema::CreateOrganisation(fbb, opt_string(fbb, org_ref), opt_string(fbb, org_name),
                                          opt_string(fbb, "implementing"),
                                          opt_string(fbb, h.cell(*row, c.org_type)));
    auto sec = schema::CreateSectorCode(fbb, opt_string(fbb, "hxl"), opt_string(fbb, sector_code),
                                        opt_string(fbb, sector), -1.0f);
    std::string act = activity;
    if (act.empty()) act = activity_code;
    auto payload = schema::CreateCountryTeamActivity(
        fbb, org, sec, opt_string(fbb, act), st, opt_string(fbb, report_month), targeted, reached,
        opt_string(fbb, h.cell(*row, c.cf_outcome)), opt_string(fbb, h.cell(*row, c.cf_output)),
        humanitarian, opt_string(fbb, family));
    ctx.emit(line, fbb, f, schema::Payload::CountryTeamActivity, payload.Union());
  }
  if (!reader.error().is_ok()) return reader.error();
  return status::ok();
}

const adapter_definition& definition() {
  static const adapter_definition def = [] {
    adapter_definition d;
    d.name = "country-team-adapter";
    d.description = "UN country team 3W (HXL-tagged CSV) -> CountryTeamActivity events";
    d.entity = schema::Entity::country_team;
    d.default_classification = schema::Classification::public_;
    source s;
    s.kind = "hxl-3w";
    s.description = "HXL-tagged CSV (3W: #org, #sector, #activity, #adm1+code, ...)";
    s.claims = [](const std::filesystem::path& f, std::string_view) {
      return has_extension(f, {".csv", ".txt", ".hxl"});
    };
    s.read = read_hxl_3w;
    d.sources.push_back(std::move(s));
    return d;
  }();
  return def;
}

}  // namespace hub::adapters::country_team
