// The peacebuilding adapter's mapping: Peacebuilding Fund projects -> PeacebuildingProject
// events (entity peacebuilding), from two sources:
//  - IATI activities funded by the fund (read with hub::iati), and
//  - CSV files in the columns of the UN Peace and Security Data Hub dataset
//    DPPA-PBFPROJECTS.
// adapters/peacebuilding/MAPPING.md is the field-by-field description.
//
// Functions are thread-safe except through the import_context they are given.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "adapters/common/adapter.h"
#include "adapters/development/iati_activity.h"

namespace hub::adapters::pbf {

// The Peacebuilding Fund as funders' own donor codes name it (UNDP's code 11363).
inline constexpr std::string_view fund_donor_code = "11363";
// The MPTF Office's IATI publisher for the pooled funds it administers.
inline constexpr std::string_view pooled_funds_publisher = "XI-IATI-UNPF";

// Why an activity counts as funded by the Peacebuilding Fund, or nullopt if it does not:
// a funding participating-org (role 1) with ref 11363 or named "Peacebuilding Fund"
// (any case), or an activity reported by XI-IATI-UNPF that names the fund (PBF or
// "Peacebuilding") in its identifier, title or organisations.
[[nodiscard]] std::optional<std::string> pbf_funding(const iati::activity& a);

// Maps one PBF-funded IATI activity to PeacebuildingProject events (one per recipient
// country, as the development adapter does) and emits them.
void emit_iati_project(import_context& ctx, const iati::activity& a);

// Reads a DPPA-PBFPROJECTS CSV through ctx, one event per row. Refuses a file whose header
// lacks the identifying columns (project_id or project_number, and country_or_area).
[[nodiscard]] status read_projects_csv(import_context& ctx);

// PBF status words -> ActivityStatus: ongoing -> active, operationally_closed ->
// completed, financially_closed -> closed (also the generic words of
// activity_status_from_text). nullopt when not recognised.
[[nodiscard]] std::optional<schema::ActivityStatus> project_status(std::string_view s);

// The sector family of a PBF focus area ("1.2" -> "rule_of_law"); empty if unknown.
[[nodiscard]] std::string sector_family_of_focus(std::string_view focus_area);

// An amount as the data hub's exports write currency: "1500000", "1,500,000.00",
// "$1,500,000", "USD 1500000". nullopt when it is not a non-negative amount.
[[nodiscard]] std::optional<double> parse_amount(std::string_view s);

// The peacebuilding adapter: sources "iati-pbf" and "pbf-csv".
[[nodiscard]] adapter_definition peacebuilding_adapter();

}  // namespace hub::adapters::pbf
