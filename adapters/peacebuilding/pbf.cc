#include "adapters/peacebuilding/pbf.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

#include "adapters/common/text.h"
#include "adapters/development/iati.h"
#include "adapters/sdk/event.h"

namespace hub::adapters::pbf {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

bool contains_ci(std::string_view hay, std::string_view needle) {
  return lower(hay).find(lower(needle)) != std::string::npos;
}

// Header cell -> column key: lower case, trimmed, spaces and '-' as '_'.
std::string column_key(std::string_view s) {
  std::string k = lower(trim(s));
  if (k.starts_with("\xEF\xBB\xBF")) k.erase(0, 3);
  for (char& c : k)
    if (c == ' ' || c == '-') c = '_';
  return k;
}

std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 14695981039346656037ull) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// "2.0" -> "2", "1.20" -> "1.2": codes exported from spreadsheets as numbers.
std::string code_text(std::string_view s) {
  std::string c(trim(s));
  if (c.find('.') != std::string::npos && parse_double(c)) {
    while (c.size() > 1 && c.back() == '0') c.pop_back();
    if (c.back() == '.') c.pop_back();
  }
  return c;
}

Offset<schema::Money> usd(FlatBufferBuilder& fbb, std::optional<double> amount) {
  if (!amount) return 0;
  return schema::CreateMoney(fbb, fbb.CreateString("USD"), *amount);
}

}  // namespace

std::optional<std::string> pbf_funding(const iati::activity& a) {
  for (const auto& o : a.participating_orgs) {
    if (o.role != "1") continue;
    if (o.ref == fund_donor_code) return "funder ref " + o.ref + (o.name.empty() ? "" : " \"" + o.name + "\"");
    if (contains_ci(o.name, "peacebuilding fund")) return "funder \"" + o.name + "\"";
  }
  if (a.reporting_org && a.reporting_org->ref == pooled_funds_publisher) {
    auto names_fund = [](std::string_view s) {
      return contains_ci(s, "peacebuilding") || s.find("PBF") != std::string_view::npos;
    };
    bool named = names_fund(a.identifier) || names_fund(a.title);
    for (const auto& o : a.participating_orgs) named = named || names_fund(o.name);
    if (named) return "reported by " + std::string(pooled_funds_publisher) + " for the fund";
  }
  return std::nullopt;
}

std::optional<schema::ActivityStatus> project_status(std::string_view s) {
  std::string k = column_key(s);
  if (k == "ongoing" || k == "on_going") return schema::ActivityStatus::active;
  if (k == "operationally_closed") return schema::ActivityStatus::completed;
  if (k == "financially_closed") return schema::ActivityStatus::closed;
  return activity_status_from_text(s);
}

std::string sector_family_of_focus(std::string_view focus_area) {
  static const std::map<std::string, std::string, std::less<>> families = {
      {"1.1", "ssr"},         {"1.2", "rule_of_law"},   {"1.3", "ddr"},
      {"1.4", "political_process"}, {"2.1", "peacebuilding"}, {"2.2", "governance"},
      {"2.3", "peacebuilding"}, {"3.1", "livelihoods"}, {"3.2", "social_protection"},
      {"4.1", "state_authority"}, {"4.2", "state_authority"}, {"4.3", "governance"},
  };
  auto it = families.find(code_text(focus_area));
  return it == families.end() ? std::string() : it->second;
}

std::optional<double> parse_amount(std::string_view s) {
  std::string t;
  std::string_view v = trim(s);
  if (v.starts_with("USD")) v.remove_prefix(3);
  for (char c : v) {
    if (c == '$' || c == ',' || c == ' ') continue;
    t += c;
  }
  auto d = parse_double(t);
  if (!d || *d < 0 || !std::isfinite(*d)) return std::nullopt;
  return d;
}

void emit_iati_project(import_context& ctx, const iati::activity& a) {
  std::vector<std::string> remarks = a.remarks;
  auto countries = iati::countries_of(a, ctx.settings().country, remarks);
  if (!countries) {
    iati::warn_remarks(ctx, a.line, remarks);
    ctx.skip(a.line, a.identifier + ": " + countries.error().message());
    return;
  }
  auto gender = iati::gender_of(a, remarks);
  auto period = iati::period_of(a, remarks);
  auto budgets = iati::budget_totals(a);
  std::optional<std::pair<std::string, double>> budget;
  if (auto it = budgets.find("USD"); it != budgets.end()) budget = *it;
  else if (!budgets.empty()) budget = *budgets.begin();
  if (budgets.size() > 1)
    remarks.push_back("budgets in several currencies; the approved budget shows " + budget->first + " only");
  std::vector<const iati::organisation*> recipients;
  for (const auto& o : a.participating_orgs)
    if (o.role == "4") recipients.push_back(&o);
  if (recipients.empty() && a.reporting_org) recipients.push_back(&*a.reporting_org);
  std::string family = iati::sector_family_of(a);
  bool several = countries.value().size() > 1;

  for (const auto& c : countries.value()) {
    FlatBufferBuilder fbb(2048);
    std::vector<Offset<schema::Organisation>> orgs;
    for (const auto* o : recipients)
      orgs.push_back(schema::CreateOrganisation(fbb, opt_string(fbb, o->ref), opt_string(fbb, o->name),
                                                fbb.CreateString("recipient"), opt_string(fbb, o->type)));
    Offset<schema::Money> approved = 0;
    if (budget) approved = schema::CreateMoney(fbb, fbb.CreateString(budget->first), budget->second);
    auto payload = schema::CreatePeacebuildingProject(
        fbb, opt_string(fbb, a.identifier), opt_string(fbb, a.title), 0, 0, 0,
        orgs.empty() ? 0 : fbb.CreateVector(orgs), 0, approved, 0, iati::status_of(a.status_code), 0,
        opt_string(fbb, family));
    envelope_fields f = ctx.base_fields();
    f.country = c.alpha3;
    std::vector<std::string> ignored;
    auto where = iati::place_of(a, c.alpha3, ctx.settings().pcodes, ignored);
    f.admin_areas = std::move(where.areas);
    f.points = std::move(where.points);
    f.place_name = std::move(where.place_name);
    f.period = period;
    f.occurred_at = period.start ? period.start : iati::time_of(a.last_updated);
    f.gender = gender;
    f.a4p_areas = {schema::ThematicArea::peacebuilding_sustaining_peace};
    f.source_record_id = several ? a.identifier + "@" + c.alpha3 : a.identifier;
    f.source_revision = iati::revision_of(a);
    // The same activity's ProgrammeActivity (development adapter) carries the same
    // correlation id, so the two views of one project can be joined.
    f.correlation_id = a.identifier;
    ctx.emit(a.line, fbb, f, schema::Payload::PeacebuildingProject, payload.Union());
  }
  iati::warn_remarks(ctx, a.line, remarks);
}

status read_projects_csv(import_context& ctx) {
  const std::string where = ctx.file().string();
  auto opened = csv_reader::open(ctx.file(), ctx.settings().csv);
  if (!opened) return opened.error();
  csv_reader& in = *opened.value();
  std::optional<csv_row> header;
  while (auto row = in.next()) {
    if (!row->blank()) {
      header = std::move(row);
      break;
    }
  }
  if (!in.error().is_ok()) return in.error();
  if (!header) return status::invalid_argument(where + ": the file is empty; expected a DPPA-PBFPROJECTS CSV");
  std::map<std::string, std::size_t> col;
  for (std::size_t i = 0; i < header->fields.size(); ++i) col.emplace(column_key(header->fields[i]), i);
  auto has = [&](const char* name) { return col.count(name) > 0; };
  if ((!has("project_id") && !has("project_number")) || !has("country_or_area")) {
    return status::invalid_argument(
        where + ":" + std::to_string(header->line) +
        ": not a Peacebuilding Fund projects CSV: the header needs project_id or project_number, and "
        "country_or_area (the DPPA-PBFPROJECTS columns; see adapters/peacebuilding/MAPPING.md)");
  }
  for (const char* expected : {"approved_project_budget", "gender_marker", "gewe_allocation", "project_name"})
    if (!has(expected))
      ctx.warn(header->line, std::string("no ") + expected + " column; the events will not carry it");
  auto cell = [&](const csv_row& r, const char* name) -> std::string {
    auto it = col.find(name);
    return it == col.end() ? std::string() : clean_text(r.at(it->second));
  };

  while (auto row = in.next()) {
    if (row->blank()) continue;
    ctx.record_read();
    ctx.progress(in.bytes_read(), in.file_size());
    const std::size_t line = row->line;
    std::vector<std::string> remarks;
    std::string id = cell(*row, "project_id");
    std::string number = cell(*row, "project_number");
    if (number.empty()) number = cell(*row, "mptf_number");
    if (id.empty()) id = number;
    if (id.empty()) {
      ctx.skip(line, "no project_id or project_number: the row has no stable identity");
      continue;
    }
    std::string country_text = cell(*row, "country_or_area");
    auto country = country_from_text(country_text);
    if (!country) {
      if (country_text.empty() && !ctx.settings().country.empty()) {
        country = ctx.settings().country;
      } else {
        ctx.skip(line, id + ": country_or_area \"" + country_text +
                           (country_text == "United Nations"
                                ? "\" means a global project; the hub files events under a country"
                                : "\" is not a country name or ISO code"));
        continue;
      }
    }
    auto amount = [&](const char* name) -> std::optional<double> {
      std::string text = cell(*row, name);
      if (text.empty()) return std::nullopt;
      auto v = parse_amount(text);
      if (!v) remarks.push_back(std::string(name) + " \"" + text + "\" is not an amount; left out");
      return v;
    };
    auto budget = amount("approved_project_budget");
    auto gewe = amount("gewe_allocation");

    std::optional<gender_marker> gender;
    std::string gm = cell(*row, "gender_marker");
    if (!gm.empty()) {
      auto g = normalise_gender(schema::GenderScheme::pbf_gm, code_text(gm));
      if (g) {
        gender = g.value();
        gender->raw = gm;
      } else {
        remarks.push_back(g.error().message() + "; gender marker left out");
      }
    }
    if (gewe && budget && *budget > 0) {
      if (!gender) gender = gender_marker{};
      gender->gewe_share_pct = static_cast<float>(*gewe / *budget * 100.0);
      if (*gewe > *budget)
        remarks.push_back("gewe_allocation is larger than approved_project_budget; kept as published");
    }

    std::string status_text = cell(*row, "project_status");
    auto status = project_status(status_text);
    if (!status_text.empty() && !status)
      remarks.push_back("project_status \"" + status_text +
                        "\" is not ongoing, operationally_closed or financially_closed; status unknown");

    std::string window = lower(cell(*row, "irf_prf"));
    for (char& ch : window) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    std::string pw = cell(*row, "priority_window");
    if (!pw.empty()) {
      std::string words = lower(pw);
      std::replace(words.begin(), words.end(), '_', ' ');
      for (auto pos = words.find("gypi"); pos != std::string::npos; pos = words.find("gypi", pos + 4))
        words.replace(pos, 4, "GYPI");
      window += (window.empty() ? "" : "; ") + words;
    }
    if (std::string detail = cell(*row, "priority_window_detail"); !detail.empty()) {
      std::string d = detail;
      for (char& ch : d) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      window += " (" + d + ")";
    }
    std::string priority = code_text(cell(*row, "pbf_tor_priority_area"));
    std::string focus = code_text(cell(*row, "pbf_tor_focus_area"));

    std::uint16_t year = 0;
    std::string year_text = cell(*row, "year_of_approval");
    if (auto y = parse_int(year_text); y && *y >= 1990 && *y <= 2100) year = static_cast<std::uint16_t>(*y);
    else if (auto d = parse_date(year_text)) year = static_cast<std::uint16_t>(std::stoi(sdk::format_time(d->ms, true).substr(0, 4)));
    else if (!year_text.empty())
      remarks.push_back("year_of_approval \"" + year_text + "\" is not a year; left out");

    period_value period;
    std::string start_text = cell(*row, "mptf_date");
    if (auto d = parse_date(start_text)) {
      period.start = d->ms;
      period.precision = d->precision;
    } else if (!start_text.empty()) {
      remarks.push_back("mptf_date \"" + start_text + "\" is not a date; left out");
    }

    FlatBufferBuilder fbb(1024);
    auto payload = schema::CreatePeacebuildingProject(
        fbb, opt_string(fbb, number.empty() ? id : number), opt_string(fbb, cell(*row, "project_name")),
        opt_string(fbb, window), opt_string(fbb, priority), opt_string(fbb, focus), 0, 0, usd(fbb, budget),
        usd(fbb, gewe), status.value_or(schema::ActivityStatus::unknown), year,
        opt_string(fbb, sector_family_of_focus(focus)));
    envelope_fields f = ctx.base_fields();
    f.country = *country;
    f.period = period;
    f.occurred_at = period.start ? period.start : year ? days_to_ms(year, 1, 1) : 0;
    f.gender = gender;
    f.a4p_areas = {schema::ThematicArea::peacebuilding_sustaining_peace};
    if (gender && (gender->level == schema::GenderLevel::principal ||
                   contains_ci(window, "GPI") || contains_ci(window, "gypi")))
      f.a4p_areas.push_back(schema::ThematicArea::women_peace_security);
    f.source_record_id = id;
    // The dataset has no last-updated column: a fingerprint of the row stands for the
    // revision, so a corrected row is a new event and an unchanged one a duplicate.
    std::uint64_t h = 14695981039346656037ull;
    for (const auto& field : row->fields) h = fnv1a(field, fnv1a("\x1f", h));
    char rev[32];
    std::snprintf(rev, sizeof rev, "row-fnv1a64:%016llx", static_cast<unsigned long long>(h));
    f.source_revision = rev;
    if (ctx.emit(line, fbb, f, schema::Payload::PeacebuildingProject, payload.Union()))
      for (const auto& r : remarks) ctx.warn(line, id + ": " + r);
  }
  return in.error();
}

adapter_definition peacebuilding_adapter() {
  adapter_definition def;
  def.name = "peacebuilding-adapter";
  def.description = "Peacebuilding Fund projects (IATI activities funded by the fund, DPPA-PBFPROJECTS CSV) "
                    "-> PeacebuildingProject events";
  def.entity = schema::Entity::peacebuilding;
  def.default_classification = schema::Classification::public_;
  source x;
  x.kind = "iati-pbf";
  x.description = "IATI activity XML; only activities funded by the Peacebuilding Fund become events";
  x.claims = [](const std::filesystem::path& file, std::string_view head) {
    return iati::looks_like_iati(head) || has_extension(file, {".xml"});
  };
  x.read = [](import_context& ctx) {
    std::uint64_t passed_over = 0;
    auto s = iati::read_file(ctx, [&](import_context& c, const iati::activity& a) {
      if (pbf_funding(a)) emit_iati_project(c, a);
      else ++passed_over;
    });
    if (s.is_ok() && passed_over > 0)
      ctx.warn(0, std::to_string(passed_over) +
                      " activities are not funded by the Peacebuilding Fund and were passed over");
    return s;
  };
  def.sources.push_back(std::move(x));
  source c;
  c.kind = "pbf-csv";
  c.description = "CSV in the columns of the UN Peace and Security Data Hub dataset DPPA-PBFPROJECTS";
  c.claims = [](const std::filesystem::path& file, std::string_view head) {
    return has_extension(file, {".csv"}) || contains_ci(head, "approved_project_budget");
  };
  c.read = read_projects_csv;
  def.sources.push_back(std::move(c));
  return def;
}

}  // namespace hub::adapters::pbf
