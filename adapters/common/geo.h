// Places: ISO 3166-1 country codes and names, and a P-code table (OCHA common
// operational datasets) to resolve admin areas by code, by name or by point.
//
// Country functions are pure and thread-safe. A pcode_table is immutable after load()
// and may be shared by threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hub/common/status.h"
#include "schemas/events_generated.h"

namespace hub::adapters {

// "LB" -> "LBN"; case-insensitive; nullopt for unknown codes.
[[nodiscard]] std::optional<std::string> alpha3_from_alpha2(std::string_view alpha2);
// "LBN" -> "LB".
[[nodiscard]] std::optional<std::string> alpha2_from_alpha3(std::string_view alpha3);
// 422 -> "LBN" (ACLED's numeric iso column; "422.0" is accepted by callers via parse_int).
[[nodiscard]] std::optional<std::string> alpha3_from_numeric(int numeric);
// True for an assigned alpha-3 code (capitals).
[[nodiscard]] bool is_alpha3(std::string_view alpha3);
// A country from what a feed writes: an alpha-3 or alpha-2 code, or an English name
// ("Central African Republic", "Mali", "Lebanon"; case and accents ignored).
[[nodiscard]] std::optional<std::string> country_from_text(std::string_view text);

// One resolved admin area, ready for the envelope's Geo.
struct admin_area {
  std::uint8_t level = 0;            // 1 or 2
  std::string pcode;                 // empty when unresolved
  std::string name;                  // as the source wrote it (or the table's name)
  schema::GeoResolution resolution = schema::GeoResolution::unresolved;
  std::string vocabulary;            // the source's own code vocabulary when it is not a P-code ("G1")
  std::string code;                  // the source's own code in that vocabulary ("1453782")
};

// A row of the P-code table.
struct pcode_entry {
  std::string country;     // ISO alpha-3
  std::uint8_t level = 0;
  std::string pcode;
  std::string name;
  std::string parent;      // parent P-code, empty at level 1
  std::optional<double> lat, lon;  // centroid, when the table has coordinates
};

class pcode_table {
 public:
  // Loads a CSV shaped like fixtures/reference/pcodes-adm1-adm2-subset.csv:
  // "Location, Admin Level, P-Code, Name, Parent P-Code[, ...]" (header names matched
  // case-insensitively; a BOM is skipped), optionally with "Latitude"/"Longitude" (or
  // "lat"/"lon") centroid columns. config_error naming the file and line when the
  // header lacks a needed column.
  static result<pcode_table> load(const std::filesystem::path& file);

  [[nodiscard]] const pcode_entry* by_code(std::string_view pcode) const;
  // By normalised name (name_key) within a country and level; a trailing word such as
  // "province", "region", "prefecture", "district", "county", "state", "governorate"
  // is ignored on both sides. If `parent` is given, children of that P-code win.
  [[nodiscard]] const pcode_entry* by_name(std::string_view country, std::uint8_t level,
                                           std::string_view name,
                                           std::string_view parent = {}) const;
  // The area whose centroid is nearest the point, within max_km; only areas with a
  // centroid (from the table's own coordinates or add_centroids()). If `parent` is
  // given, only its children are candidates. An approximation of point-in-polygon,
  // recorded as nearest_centroid and said in the MAPPING.md files.
  [[nodiscard]] const pcode_entry* by_point(std::string_view country, std::uint8_t level,
                                            double lat, double lon, double max_km = 75,
                                            std::string_view parent = {}) const;
  // The country (alpha-3) whose P-codes start like this code ("LB63" -> "LBN").
  [[nodiscard]] std::optional<std::string> country_of(std::string_view pcode) const;

  // Resolves one level of a place: the code if it is in the table (exact), else the
  // name (name_match), else the point (nearest_centroid, within the parent when one is
  // given), else unresolved with the name kept.
  // A code for a country the table has no rows for is trusted as given (exact).
  [[nodiscard]] admin_area resolve(std::string_view country, std::uint8_t level,
                                   std::string_view code, std::string_view name,
                                   std::optional<double> lat = std::nullopt,
                                   std::optional<double> lon = std::nullopt,
                                   std::string_view parent = {}) const;

  // Adds centroids from a CSV with the columns "P-Code, Latitude, Longitude" (header
  // names matched case-insensitively, other columns ignored, a BOM skipped). Rows for
  // P-codes the table does not hold are ignored (a table may be a subset); returns how
  // many areas got a centroid. config_error naming the file and line for a missing
  // column or a coordinate that is not a number in range. Not thread-safe: call
  // before the table is shared.
  result<std::size_t> add_centroids(const std::filesystem::path& file);

  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] bool covers(std::string_view country) const;
  [[nodiscard]] bool has_coordinates() const { return has_coordinates_; }

 private:
  std::vector<pcode_entry> entries_;
  std::unordered_map<std::string, std::size_t> by_code_;
  std::unordered_map<std::string, std::vector<std::size_t>> by_name_;  // country|level|key
  std::unordered_map<std::string, std::string> prefix_country_;        // "LB" -> "LBN"
  std::unordered_map<std::string, std::size_t> country_rows_;          // rows per country
  bool has_coordinates_ = false;
};

// The default table shipped with the project (fixtures/reference), or the file named by
// the HUB_PCODES environment variable (HUB_PCODES=none: no table). nullopt when none.
[[nodiscard]] std::optional<std::filesystem::path> default_pcode_file();

// The centroid table added to the default P-code table: the file named by HUB_CENTROIDS,
// else the one shipped in adapters/common/data (derived from the UCDP incident fixtures,
// see the README there). HUB_CENTROIDS=none turns centroids off. nullopt when none.
[[nodiscard]] std::optional<std::filesystem::path> default_centroid_file();

}  // namespace hub::adapters
