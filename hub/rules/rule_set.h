// The rule model as loaded from YAML. Private to hub/rules: other components use
// engine.h. A rule_set is immutable once loaded and shared between engines by
// shared_ptr<const rule_set>, so it may be read from any thread.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "hub/common/types.h"
#include "hub/rules/fields.h"
#include "schemas/events_generated.h"

namespace hub::rules {

enum class op : std::uint8_t { equals, not_equals, in, not_in, exists, missing, gt, ge, lt, le, prefix };

// One field predicate: `field op operand`.
struct predicate {
  std::string field;
  op o = op::equals;
  std::vector<std::string> texts;   // equals/in/prefix operands (strings, enum names)
  double number = 0;                // comparison operand (times already in ms)
  bool boolean = false;             // equals on a boolean field
  int line = 0;
};

// Which events a rule looks at: event types and predicates that must all hold.
struct selector {
  std::vector<schema::Payload> types;
  std::vector<predicate> where;
};

enum class rule_kind : std::uint8_t { condition, expectation, absence, threshold, pair, ratio, stagnation };

// Checks against the political strategy in force for the event's country.
enum class strategy_check : std::uint8_t {
  none,
  unlinked,           // no strategy_refs, or refs to objectives absent from the version in force
  out_of_scope,       // a claimed objective whose areas, mandate areas or sector families exclude the event
  expired_reference,  // refs a version no longer in force (expired, or superseded without the objective)
};

struct severity_when {
  std::vector<predicate> where;
  double share_above = -1;          // check out_of_scope: the share (percent) of the activity out of scope
  schema::Severity severity = schema::Severity::warning;
};

// An escalation: from `at` (relative to the rule's anchor time) the alert has `severity`.
struct escalation {
  millis at = 0;
  schema::Severity severity = schema::Severity::critical;
};

enum class period_relation : std::uint8_t { any, overlaps, covers };

// One kind of event that satisfies an expectation.
struct alternative {
  selector sel;
  period_relation relation = period_relation::overlaps;
  millis from = 0;   // window start, relative to the trigger's anchor time
  millis to = 0;     // window end, relative to the trigger's anchor time
  std::vector<std::string> same;   // fields equal in trigger and candidate (e.g. payload.sector_family)
  bool other_entity = true;        // the candidate comes from another entity than the trigger
};

// `also_firing` entry: raise the severity one step while an alert of `rule` fires in the
// same country, or, with `match: scope`, in the alert's scope (the objective's
// admin_areas_in_scope for `of: strategy_objectives`, else the alert's area; an alert
// without one is country-wide and takes any alert of the country).
struct also_ref {
  std::string rule;
  bool in_scope = false;
  int line = 0;
};

struct rule {
  // identity and texts
  std::string id, name, group, file;
  int line = 0;
  unsigned version = 1;
  std::string anchor, a4p_plus, title, description, closing_action;
  rule_kind kind = rule_kind::condition;
  schema::Severity severity = schema::Severity::warning;
  std::vector<severity_when> severity_by;
  std::vector<escalation> escalate;

  selector on;                      // the events the rule is about
  std::vector<std::string> key;     // field paths (or "area") making the alert key
  std::vector<bool> key_optional;   // per key part: a missing value is written empty instead of skipping the event
  std::vector<bool> key_element;    // per key part: read from the for_each element, not the whole event
  std::string area;                 // "" | "adm1" | "adm2": the area the rule is keyed on
  std::string area_fallback;        // "" | "adm1": coarser level allowed, one severity step lower
  bool skip_country_wide = true;    // country-wide events never trigger area-keyed rules

  // condition
  std::vector<predicate> fire_if;
  strategy_check check = strategy_check::none;
  millis check_grace = 0;           // expired_reference: days after expiry before warning
  millis for_duration = 0;          // must hold this long (processing time) before firing
  std::string for_each;             // "" | "strategy_refs": one finding (and alert) per element the check judges

  // expectation
  std::string anchor_time = "period.start";
  std::vector<alternative> expect;
  millis fire_at = 0;               // relative to the anchor time
  std::vector<predicate> ends_if;   // expectation: the trigger no longer needs a counterpart;
                                    // absence: the subject is no longer expected to report

  // absence
  bool of_objectives = false;       // subjects are the objectives of the strategy in force
  unsigned max_priority = 1;        // of_objectives: objectives of priority <= this
  millis every = 0;                 // expected interval; 0: the reporting period's own length
  millis grace = 0;
  unsigned critical_after_missed = 2;
  std::string report_time;          // "" : reporting period end (commitment_progress) or event time; else a time field

  // threshold
  millis window = 0;
  double count_at_least = 0;        // 0: no count condition
  std::string sum_field;            // "" : no sum condition
  double sum_at_least = 0;
  double resolve_fraction = 0.5;    // hysteresis: resolves below this share of the thresholds
  std::vector<selector> requires_active;  // some such activity must run in the area

  // pair: two `on` events of different subjects in the same area, judged against each other
  std::vector<std::string> pair_same;             // fields equal in both (and part of the bucket)
  std::vector<std::string> pair_same_if_present;  // lists that must share a value where both have one
  std::vector<std::string> pair_differ;           // fields that must differ (e.g. entity)
  std::vector<std::string> pair_unless_same;      // a shared value (e.g. correlation_id) excuses the pair
  period_relation pair_period = period_relation::overlaps;

  // ratio: sum(numerator) / sum(denominator) over the `on` events of a key in a sliding window
  std::string time_field = "occurred_at";  // the event time that places an event in the window
  std::string numerator, denominator;
  double below = 0;                         // fires while the ratio is below this (0..1)

  // stagnation: the same value of `field` in `periods` consecutive reports
  std::string stagnant_field;
  unsigned stagnant_periods = 3;

  std::vector<also_ref> also_firing;      // escalate one step while one of these rules fires (see also_ref)
  std::vector<std::string> fields_used;   // for evidence excerpts
};

class rule_set {
 public:
  std::vector<rule> rules;
  std::vector<std::string> files;
};

}  // namespace hub::rules
