// The development adapter's mapping: IATI activities -> ProgrammeActivity events
// (entity development), and the pieces of that mapping the peacebuilding adapter reuses.
// adapters/development/MAPPING.md is the field-by-field description.
//
// All functions are thread-safe except through the import_context they are given (one
// per file, one thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/common/adapter.h"
#include "adapters/development/iati_activity.h"
#include "hub/common/status.h"

namespace hub::adapters::iati {

// Streams the file of ctx (see iati_reader.h), parses each activity and calls
// on_activity for each one that parses. Counts every activity as read; an activity that
// cannot be cut or parsed, or that has no iati-identifier, is skipped with
// "file:line: reason"; file notes and activity remarks become warnings. Returns the
// refusal when the file is not an IATI 2.0x activity file.
using activity_fn = std::function<void(import_context& ctx, const activity& a)>;
[[nodiscard]] status read_file(import_context& ctx, const activity_fn& on_activity);

// True if the first bytes look like an IATI activity file (<iati-activities).
[[nodiscard]] bool looks_like_iati(std::string_view head);

// A country an activity is filed under, with its share.
struct country_share {
  std::string alpha3;
  std::optional<double> percentage;
};

// The countries to publish an activity under: every recipient-country (alpha-2 ->
// alpha-3), largest share first (ties in document order); else `fallback` (--country)
// when given. invalid_argument with the reason when there is none or a code is unknown
// (unknown codes are left out when at least one other is known; their text is added to
// `remarks`).
[[nodiscard]] result<std::vector<country_share>> countries_of(const activity& a,
                                                              std::string_view fallback,
                                                              std::vector<std::string>& remarks);

// The activity's admin areas within one country, coarsest first and without duplicates:
// a location's administrative code when it is a P-code of that country (exact), else its
// name (name_match), else its point (nearest_centroid, tables with centroids only), else
// unresolved: one area per non-P-code administrative code (vocabulary and code kept), or
// the name alone. A resolved area also keeps the location's own code at its level.
// Points and the first place name are added too. Remarks name locations that say nothing.
struct place {
  std::vector<admin_area> areas;
  std::vector<geo_point> points;
  std::string place_name;
};
[[nodiscard]] place place_of(const activity& a, std::string_view country, const pcode_table* pcodes,
                             std::vector<std::string>& remarks);

// The gender-equality policy marker (vocabulary 1, code 1) on the UN scale (DOMAIN 8(a)).
// nullopt when there is none; a marker whose significance is not 0-2 gives a remark.
[[nodiscard]] std::optional<gender_marker> gender_of(const activity& a, std::vector<std::string>& remarks);

// Period: actual dates over planned ones. An end before the start gives a remark and the
// period is left open-ended. occurred_at is the start, else the last update.
[[nodiscard]] period_value period_of(const activity& a, std::vector<std::string>& remarks);

// ms since epoch of an IATI date or date-time; 0 when empty or unreadable.
[[nodiscard]] std::int64_t time_of(std::string_view iso);

// Sums by currency (currency -> amount), in currency order.
using money_by_currency = std::map<std::string, double>;
// Budgets: for each (period-start, period-end), revised budgets (type 2) supersede the
// original ones (type 1); what is left is summed by currency.
[[nodiscard]] money_by_currency budget_totals(const activity& a);
// Transactions of these types (transaction-type codes) summed by currency.
[[nodiscard]] money_by_currency transaction_totals(const activity& a,
                                                   std::initializer_list<std::string_view> types);

// SDG targets from sector vocabulary 8 and tag vocabulary 3, de-duplicated, in order.
[[nodiscard]] std::vector<std::string> sdg_targets_of(const activity& a);
// SDG goals ("16") from sector vocabulary 7 and tag vocabulary 2, de-duplicated, in
// order. Goals are kept as published, not derived from the targets.
[[nodiscard]] std::vector<std::string> sdg_goals_of(const activity& a);

// IATI activity-status code 1-6 -> ActivityStatus (unknown otherwise).
[[nodiscard]] schema::ActivityStatus status_of(std::string_view code);

// The sector family of the activity for matching with partners ("rule_of_law", "ssr",
// "health", ...): from the DAC sector (vocabulary 1 or 2) with the largest share.
// Empty when no DAC sector maps to a family.
[[nodiscard]] std::string sector_family_of(const activity& a);

// The record revision: last-updated-datetime, or (when the publisher gives none) a
// fingerprint of the activity's XML text, so a changed record gets a new event id.
[[nodiscard]] std::string revision_of(const activity& a);

// Maps one activity to ProgrammeActivity events, one per recipient country (see
// MAPPING.md), and emits them through ctx. Reasons it cannot be mapped are reported as
// a skip on the activity's line; remarks as warnings.
void emit_programme_activity(import_context& ctx, const activity& a);

// Reports remarks as warnings: on the line a remark names ("line 12: ..."), else `line`.
void warn_remarks(import_context& ctx, std::size_t line, const std::vector<std::string>& remarks);

// The development adapter: one source, "iati" (IATI Activity Standard 2.01-2.03 XML).
[[nodiscard]] adapter_definition development_adapter();

}  // namespace hub::adapters::iati
