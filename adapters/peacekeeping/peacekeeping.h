// The peacekeeping adapter: mandate activities (CSV or JSON lines) -> MandateActivity;
// security incidents (UCDP GED, with or without an HXL row; ACLED; the UN peacekeeper
// fatalities table) -> SecurityIncident; transition steps (CSV) -> TransitionMilestone.
// See MAPPING.md for every column.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "adapters/common/adapter.h"

namespace hub::adapters::peacekeeping {

// Name "peacekeeping-adapter", entity peacekeeping, default classification internal
// (mission plans); incident feeds that are public (UCDP, ACLED, psdata) are marked
// public per record. Kinds: mandate-csv, mandate-jsonl, transition-csv, ucdp-ged,
// acled, psdata-fatalities.
[[nodiscard]] const adapter_definition& definition();

// The host country (ISO alpha-3) of a UN peace operation by its acronym
// ("MINUSCA" -> "CAF"); nullopt for acronyms not in the table.
[[nodiscard]] std::optional<std::string> mission_country(std::string_view acronym);
// The peacekeeping mission deployed in a country today, if any ("CAF" -> "MINUSCA").
[[nodiscard]] std::optional<std::string> mission_in(std::string_view alpha3);

}  // namespace hub::adapters::peacekeeping
