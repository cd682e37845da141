#include "adapters/common/geo.h"

#include <cmath>
#include <cstdlib>

#include "adapters/common/country_table.h"
#include "adapters/common/csv.h"
#include "adapters/common/text.h"

namespace hub::adapters {
namespace {

std::string upper(std::string_view s) {
  std::string out(trim(s));
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The name without a trailing administrative word ("Alindao region" -> "alindao").
std::string area_key(std::string_view name) {
  auto k = name_key(name);
  static constexpr const char* words[] = {" province", " region", " prefecture", " district",
                                          " county", " state", " governorate", " division",
                                          " prefecture", " sous prefecture", " subprefecture"};
  for (const char* w : words) {
    std::string_view sw(w);
    if (k.size() > sw.size() && k.compare(k.size() - sw.size(), sw.size(), sw) == 0) {
      k.erase(k.size() - sw.size());
      break;
    }
  }
  // A leading article the tables often omit: "El Nabatieh" vs "Nabatieh" is NOT folded:
  // the table is the reference, and the Lebanese table spells it "El Nabatieh".
  return k;
}

std::string name_index(std::string_view country, std::uint8_t level, std::string_view key) {
  std::string s(country);
  s.push_back('|');
  s.push_back(static_cast<char>('0' + level));
  s.push_back('|');
  s.append(key);
  return s;
}

double distance_km(double lat1, double lon1, double lat2, double lon2) {
  constexpr double r = 6371.0, d2r = 3.14159265358979323846 / 180.0;
  double dlat = (lat2 - lat1) * d2r, dlon = (lon2 - lon1) * d2r;
  double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
             std::cos(lat1 * d2r) * std::cos(lat2 * d2r) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * r * std::asin(std::sqrt(a));
}

}  // namespace

std::optional<std::string> alpha3_from_alpha2(std::string_view alpha2) {
  auto a = upper(alpha2);
  for (std::size_t i = 0; i < detail::country_row_count; ++i)
    if (a == detail::country_rows[i].alpha2) return std::string(detail::country_rows[i].alpha3);
  return std::nullopt;
}

std::optional<std::string> alpha2_from_alpha3(std::string_view alpha3) {
  auto a = upper(alpha3);
  for (std::size_t i = 0; i < detail::country_row_count; ++i)
    if (a == detail::country_rows[i].alpha3) return std::string(detail::country_rows[i].alpha2);
  return std::nullopt;
}

std::optional<std::string> alpha3_from_numeric(int numeric) {
  for (std::size_t i = 0; i < detail::country_row_count; ++i)
    if (numeric == detail::country_rows[i].numeric) return std::string(detail::country_rows[i].alpha3);
  return std::nullopt;
}

bool is_alpha3(std::string_view alpha3) {
  for (std::size_t i = 0; i < detail::country_row_count; ++i)
    if (alpha3 == detail::country_rows[i].alpha3) return true;
  return false;
}

std::optional<std::string> country_from_text(std::string_view text) {
  auto t = trim(text);
  if (t.empty()) return std::nullopt;
  if (t.size() == 3) {
    auto u = upper(t);
    if (is_alpha3(u)) return u;
  }
  if (t.size() == 2)
    if (auto a = alpha3_from_alpha2(t)) return a;
  auto k = name_key(t);
  for (std::size_t i = 0; i < detail::country_row_count; ++i)
    if (name_key(detail::country_rows[i].name) == k) return std::string(detail::country_rows[i].alpha3);
  // Common short forms that differ from the ISO names.
  struct alias { const char* name; const char* alpha3; };
  static constexpr alias aliases[] = {
      {"democratic republic of the congo", "COD"}, {"dr congo", "COD"}, {"drc", "COD"},
      {"congo kinshasa", "COD"}, {"dem rep congo", "COD"}, {"car", "CAF"},
      {"ivory coast", "CIV"}, {"cote d ivoire", "CIV"}, {"syria", "SYR"}, {"south sudan", "SSD"},
      {"palestine", "PSE"}, {"occupied palestinian territory", "PSE"}, {"kosovo", "XKX"},
      {"bolivia", "BOL"}, {"venezuela", "VEN"}, {"iran", "IRN"}, {"tanzania", "TZA"},
      {"russia", "RUS"}, {"laos", "LAO"}, {"vietnam", "VNM"}, {"moldova", "MDA"},
      {"myanmar", "MMR"}, {"burma", "MMR"}, {"western sahara", "ESH"}, {"cyprus", "CYP"},
  };
  for (const auto& a : aliases)
    if (k == a.name) return std::string(a.alpha3);
  return std::nullopt;
}

namespace {

// A CSV table of the adapters' reference data, open, with its header row read; an empty
// file is an error naming `what`.
struct open_table {
  std::unique_ptr<csv_reader> reader;
  csv_row header;
};
result<open_table> open_with_header(const std::filesystem::path& file, const char* what) {
  auto r = csv_reader::open(file, {});
  if (!r) return r.error();
  auto header = (*r)->next();
  if (!header) {
    if (!(*r)->error().is_ok()) return (*r)->error();
    return status::config_error(file.string() + ": empty " + what);
  }
  return open_table{std::move(*r), std::move(*header)};
}

}  // namespace

result<pcode_table> pcode_table::load(const std::filesystem::path& file) {
  auto opened = open_with_header(file, "P-code table");
  if (!opened) return opened.error();
  auto& reader = *opened->reader;
  const csv_row* header = &opened->header;
  int c_loc = -1, c_level = -1, c_code = -1, c_name = -1, c_parent = -1, c_lat = -1, c_lon = -1;
  for (std::size_t i = 0; i < header->fields.size(); ++i) {
    auto k = name_key(header->fields[i]);
    int idx = static_cast<int>(i);
    if (k == "location" || k == "country" || k == "iso3") c_loc = idx;
    else if (k == "admin level" || k == "level") c_level = idx;
    else if (k == "p code" || k == "pcode") c_code = idx;
    else if (k == "name") c_name = idx;
    else if (k == "parent p code" || k == "parent pcode" || k == "parent") c_parent = idx;
    else if (k == "latitude" || k == "lat") c_lat = idx;
    else if (k == "longitude" || k == "lon") c_lon = idx;
  }
  if (c_loc < 0 || c_level < 0 || c_code < 0 || c_name < 0)
    return status::config_error(file.string() + ":1: a P-code table needs the columns Location, "
                                "Admin Level, P-Code and Name (Parent P-Code optional)");
  pcode_table t;
  t.has_coordinates_ = c_lat >= 0 && c_lon >= 0;
  auto col = [](const csv_row& row, int c) { return c < 0 ? std::string() : std::string(trim(row.at(static_cast<std::size_t>(c)))); };
  while (auto row = reader.next()) {
    if (row->blank()) continue;
    pcode_entry e;
    e.country = upper(col(*row, c_loc));
    auto lvl = parse_int(col(*row, c_level));
    e.pcode = upper(col(*row, c_code));
    e.name = col(*row, c_name);
    e.parent = upper(col(*row, c_parent));
    if (e.parent == e.country) e.parent.clear();
    if (!lvl || *lvl < 0 || *lvl > 9 || e.pcode.empty() || e.country.empty())
      return status::config_error(file.string() + ":" + std::to_string(row->line) +
                                  ": P-code row needs a country, a level 0-9 and a code");
    e.level = static_cast<std::uint8_t>(*lvl);
    if (t.has_coordinates_) {
      e.lat = parse_double(col(*row, c_lat));
      e.lon = parse_double(col(*row, c_lon));
    }
    std::size_t idx = t.entries_.size();
    t.by_code_.emplace(e.pcode, idx);
    t.by_name_[name_index(e.country, e.level, area_key(e.name))].push_back(idx);
    if (e.pcode.size() >= 2) t.prefix_country_.emplace(e.pcode.substr(0, 2), e.country);
    ++t.country_rows_[e.country];
    t.entries_.push_back(std::move(e));
  }
  if (!reader.error().is_ok()) return reader.error();
  return t;
}

const pcode_entry* pcode_table::by_code(std::string_view pcode) const {
  auto it = by_code_.find(upper(pcode));
  return it == by_code_.end() ? nullptr : &entries_[it->second];
}

const pcode_entry* pcode_table::by_name(std::string_view country, std::uint8_t level,
                                        std::string_view name, std::string_view parent) const {
  auto key = area_key(name);
  if (key.empty()) return nullptr;
  auto it = by_name_.find(name_index(upper(country), level, key));
  if (it == by_name_.end()) return nullptr;
  if (!parent.empty()) {
    auto p = upper(parent);
    for (auto i : it->second)
      if (entries_[i].parent == p) return &entries_[i];
  }
  return &entries_[it->second.front()];
}

const pcode_entry* pcode_table::by_point(std::string_view country, std::uint8_t level, double lat,
                                         double lon, double max_km, std::string_view parent) const {
  if (!has_coordinates_) return nullptr;
  auto c = upper(country);
  auto p = upper(parent);
  const pcode_entry* best = nullptr;
  double best_km = max_km;
  for (const auto& e : entries_) {
    if (e.country != c || e.level != level || !e.lat || !e.lon) continue;
    if (!p.empty() && e.parent != p) continue;
    double d = distance_km(lat, lon, *e.lat, *e.lon);
    if (d <= best_km) {
      best_km = d;
      best = &e;
    }
  }
  return best;
}

std::optional<std::string> pcode_table::country_of(std::string_view pcode) const {
  if (auto* e = by_code(pcode)) return e->country;
  auto p = upper(pcode);
  if (p.size() < 2) return std::nullopt;
  auto it = prefix_country_.find(p.substr(0, 2));
  if (it == prefix_country_.end()) return std::nullopt;
  return it->second;
}

admin_area pcode_table::resolve(std::string_view country, std::uint8_t level, std::string_view code,
                                std::string_view name, std::optional<double> lat,
                                std::optional<double> lon, std::string_view parent) const {
  admin_area a;
  a.level = level;
  a.name = std::string(trim(name));
  if (!trim(code).empty()) {
    if (auto* e = by_code(code); e && e->level == level) {
      a.pcode = e->pcode;
      if (a.name.empty()) a.name = e->name;
      a.resolution = schema::GeoResolution::exact;
      return a;
    }
  }
  if (!a.name.empty()) {
    if (auto* e = by_name(country, level, a.name, parent)) {
      a.pcode = e->pcode;
      a.resolution = schema::GeoResolution::name_match;
      return a;
    }
  }
  if (lat && lon) {
    if (auto* e = by_point(country, level, *lat, *lon, 75, parent)) {
      a.pcode = e->pcode;
      if (a.name.empty()) a.name = e->name;
      a.resolution = schema::GeoResolution::nearest_centroid;
      return a;
    }
  }
  if (!trim(code).empty() && !covers(country)) {
    a.pcode = upper(code);
    a.resolution = schema::GeoResolution::exact;
    return a;
  }
  // A code the table does not know is kept as the source wrote it, unresolved.
  if (a.name.empty()) a.name = std::string(trim(code));
  return a;
}

result<std::size_t> pcode_table::add_centroids(const std::filesystem::path& file) {
  auto opened = open_with_header(file, "centroid table");
  if (!opened) return opened.error();
  auto& reader = *opened->reader;
  const csv_row* header = &opened->header;
  int c_code = -1, c_lat = -1, c_lon = -1;
  for (std::size_t i = 0; i < header->fields.size(); ++i) {
    auto k = name_key(header->fields[i]);
    int idx = static_cast<int>(i);
    if (k == "p code" || k == "pcode") c_code = idx;
    else if (k == "latitude" || k == "lat") c_lat = idx;
    else if (k == "longitude" || k == "lon") c_lon = idx;
  }
  if (c_code < 0 || c_lat < 0 || c_lon < 0)
    return status::config_error(file.string() + ":1: a centroid table needs the columns P-Code, Latitude and Longitude");
  std::size_t added = 0;
  while (auto row = reader.next()) {
    if (row->blank()) continue;
    auto col = [&](int c) { return std::string(trim(row->at(static_cast<std::size_t>(c)))); };
    auto lat = parse_double(col(c_lat));
    auto lon = parse_double(col(c_lon));
    if (!lat || !lon || *lat < -90 || *lat > 90 || *lon < -180 || *lon > 180)
      return status::config_error(file.string() + ":" + std::to_string(row->line) +
                                  ": latitude and longitude must be numbers in degrees");
    auto it = by_code_.find(upper(col(c_code)));
    if (it == by_code_.end()) continue;
    entries_[it->second].lat = lat;
    entries_[it->second].lon = lon;
    ++added;
  }
  if (!reader.error().is_ok()) return reader.error();
  if (added > 0) has_coordinates_ = true;
  return added;
}

bool pcode_table::covers(std::string_view country) const {
  return country_rows_.count(upper(country)) > 0;
}

namespace {

// The file named by the environment variable (unless it says "none"), else the one built
// in, when it exists.
std::optional<std::filesystem::path> data_file(const char* env_name, const char* built_in) {
  std::error_code ec;
  if (const char* env = std::getenv(env_name); env && *env) {
    if (std::string_view(env) == "none") return std::nullopt;
    std::filesystem::path p(env);
    if (std::filesystem::exists(p, ec)) return p;
  }
  if (built_in != nullptr && *built_in) {
    std::filesystem::path p(built_in);
    if (std::filesystem::exists(p, ec)) return p;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::filesystem::path> default_pcode_file() {
#ifdef HUB_DEFAULT_PCODES
  return data_file("HUB_PCODES", HUB_DEFAULT_PCODES);
#else
  return data_file("HUB_PCODES", nullptr);
#endif
}

std::optional<std::filesystem::path> default_centroid_file() {
#ifdef HUB_DEFAULT_CENTROIDS
  return data_file("HUB_CENTROIDS", HUB_DEFAULT_CENTROIDS);
#else
  return data_file("HUB_CENTROIDS", nullptr);
#endif
}

}  // namespace hub::adapters
