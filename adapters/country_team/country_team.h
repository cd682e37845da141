// The country_team adapter: HXL-tagged 3W ("who does what where") CSV ->
// CountryTeamActivity events. See MAPPING.md for every column.
#pragma once

#include "adapters/common/adapter.h"

namespace hub::adapters::country_team {

// The adapter's definition (name "country-team-adapter", entity country_team, default
// classification public, one source kind "hxl-3w").
[[nodiscard]] const adapter_definition& definition();

// Reads one HXL 3W file. Refuses files without a hashtag row, or whose hashtag row has
// none of #org, #sector, #activity.
status read_hxl_3w(import_context& ctx);

}  // namespace hub::adapters::country_team
