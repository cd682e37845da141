// One IATI activity (Activity Standard 2.01-2.03) read from its XML text into plain
// values, with the line of every part that can be wrong. Nothing here knows about
// events; iati.h maps an activity to ProgrammeActivity events and the peacebuilding
// adapter reuses the same values.
//
// Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hub/common/status.h"

namespace hub::adapters::iati {

struct organisation {
  std::string ref;          // @ref as written (publishers use their own donor codes)
  std::string name;         // the narrative
  std::string role;         // @role code: 1 funding, 2 accountable, 3 extending, 4 implementing
  std::string type;         // @type code
  std::string activity_id;  // @activity-id
};

// A code with its vocabulary and share (recipient country or region, sector).
struct coded_share {
  std::string vocabulary;
  std::string code;
  std::string name;
  std::optional<double> percentage;
  std::optional<double> published_percentage;  // the number as published, even outside 0-100
  std::size_t line = 0;
};

struct administrative {
  std::string vocabulary;  // A1 GAUL, A2 SALB, A3 GADM, A4 ISO, G1 GeoNames, G2 OSM...
  std::string code;
  std::optional<int> level;
};

struct location {
  std::string ref;
  std::string name;
  std::vector<administrative> admin;
  std::optional<double> lat, lon;
  std::string exactness;    // 1 exact, 2 approximate
  std::size_t line = 0;
};

struct policy_marker {
  std::string vocabulary;   // empty means 1 (OECD DAC CRS)
  std::string code;
  std::string significance;
  std::size_t line = 0;
};

struct humanitarian_scope {
  std::string type;
  std::string vocabulary;
  std::string code;
};

struct money_line {
  std::string type;          // budget @type (1 original, 2 revised) or transaction-type code
  std::string status;        // budget @status
  std::string period_start;  // budget period, or the transaction date
  std::string period_end;
  std::string currency;      // @currency, else the activity's default-currency
  double value = 0;
  std::size_t line = 0;
};

struct related_activity {
  std::string type;  // 1 parent, 2 child, 3 sibling, 4 co-funded, 5 third party
  std::string ref;
};

struct activity {
  std::size_t line = 0;               // line of <iati-activity>
  std::string identifier;             // iati-identifier, trimmed
  std::string last_updated;           // @last-updated-datetime
  std::string default_currency;
  std::string lang;                   // @xml:lang
  std::string version;                // per-activity version attribute (D-Portal), if any
  std::string title;
  std::string description;
  std::optional<int> hierarchy;       // @hierarchy; the standard's default is 1
  bool humanitarian = false;
  std::optional<organisation> reporting_org;
  std::vector<organisation> participating_orgs;
  std::string status_code;            // activity-status/@code
  // activity-date/@iso-date by type; empty when not given.
  std::string planned_start, actual_start, planned_end, actual_end;
  std::vector<coded_share> countries;     // vocabulary "iso2"
  std::vector<coded_share> regions;
  std::vector<coded_share> sectors;       // vocabulary defaults to "1"
  std::vector<coded_share> tags;          // vocabulary, code
  std::vector<location> locations;
  std::vector<policy_marker> policy_markers;
  std::vector<humanitarian_scope> humanitarian_scopes;
  std::vector<money_line> budgets;
  std::vector<money_line> transactions;
  std::vector<related_activity> related;
  std::uint64_t fingerprint = 0;      // FNV-1a 64 of the activity's XML text
  // Parts left out because they could not be read ("line 12: budget value \"xx\" is
  // not a number; budget left out"); the rest of the activity is still usable.
  std::vector<std::string> remarks;
};

// Parses one `<iati-activity>` element. `first_line` is the line of its start tag in the
// file, so that remarks name file lines. invalid_argument when the text is not
// well-formed XML or its root is not iati-activity (with the line of the fault).
[[nodiscard]] result<activity> parse_activity(std::string_view xml, std::size_t first_line);

}  // namespace hub::adapters::iati
