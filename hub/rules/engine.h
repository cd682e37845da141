// The rules engine: reads the event log in order and turns coherence gaps into
// CoherenceAlert events (firing and resolved), following the rule files of
// docs/rules.md. Independent of the broker: hubd runs it as a log consumer, hubctl runs
// it offline for `rules check` and `rules backtest`.
//
// Threads: on_event, on_tick, set_replaying and replace_rules must be called from one
// thread at a time (the consumer's); stats() and firing() may be called from any thread.
// No exception escapes on_event or on_tick; a rule that cannot read an event skips it
// and counts it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "hub/common/types.h"
#include "schemas/events_generated.h"

namespace hub::rules {

struct load_error {
  std::string file;
  int line = 0;          // 1-based; 0 if the error concerns the whole file
  std::string message;   // what is wrong and what would fix it
};
// "file:line: message"
[[nodiscard]] std::string to_string(const load_error& e);

class rule_set;  // immutable once loaded (hub/rules/rule_set.h)

// Loads and validates rule files. On any error returns every error found, each naming
// file:line. Never throws.
std::variant<std::shared_ptr<const rule_set>, std::vector<load_error>> load_rule_files(
    const std::vector<std::filesystem::path>& files);

// Summary of a loaded rule set, for `hubctl rules check` and logs.
struct rule_summary {
  std::string id, name, kind, severity, anchor, file;
  int line = 0;
  unsigned version = 0;
};
[[nodiscard]] std::vector<rule_summary> summarize(const rule_set& rules);

// An alert as coordinators see it (status API, `hubctl alerts`).
struct alert_view {
  std::string alert_id, rule_id, key, country, severity, title, explanation, anchor,
      closing_action, objective_id, strategy_id;
  std::vector<std::string> evidence;  // "<event id hex>: <excerpt>"
  millis first_event_time = 0, last_event_time = 0, first_processed_at = 0, processed_at = 0;
  std::string acknowledged_by, ack_note;  // empty when nobody took it
  bool silenced = false;                  // firing but muted by an AlertSilence
};

struct engine_stats {
  std::uint64_t events = 0;                                   // events seen
  std::map<std::string, std::uint64_t> evaluated;             // per rule: events the rule judged
  std::map<std::string, std::uint64_t> skipped_missing_fields;// per rule: events lacking a needed field
  std::map<std::string, std::uint64_t> firing_by_severity;    // "info", "warning", "critical"
  std::uint64_t open_expectations = 0;                        // triggers still waiting for a counterpart
  std::uint64_t alerts_emitted = 0;                           // transitions appended to `out`
  // Memory (see docs/rules.md, "Memory"): these shrink when records end.
  std::uint64_t interned = 0;                // distinct subject, key and bucket strings held
  std::uint64_t expectation_candidates = 0;  // counterparts kept for expectation rules
  std::uint64_t index_entries = 0;           // entries of the expectation area indexes
  std::uint64_t records = 0;                 // per-rule records: subjects (and their for_each findings), triggers, reports, members, items, alerts, active spans
};

class engine {
 public:
  // The source_system of every event the engine emits.
  static constexpr const char* source_system = "hub-rules";

  explicit engine(std::shared_ptr<const rule_set> rules);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // Swaps in a new rule set. State (open expectations, counts, firing alerts) is kept for
  // rules whose id and kind match; a new rule judges only events from now on.
  void replace_rules(std::shared_ptr<const rule_set> rules);

  // One stored event, in log order, including the engine's own CoherenceAlert,
  // AlertAcknowledgement and AlertSilence events. `e` must have passed
  // schema::check_envelope. New alert transitions are appended to `out` as finished
  // envelope bytes (entity coordination, the alert's country, classification internal,
  // ids derived from the alert and transition so that a re-emitted one dedups).
  void on_event(std::uint64_t offset, millis log_time, const schema::Envelope& e,
                std::vector<std::vector<std::uint8_t>>& out);

  // Processing time passes: deadlines of expectations and absences, escalations,
  // silences that end.
  void on_tick(millis now, std::vector<std::vector<std::uint8_t>>& out);

  // Replay protocol: while on, transitions are computed but not emitted and the
  // engine learns the published state from its own CoherenceAlert events. Turning it
  // off emits (into *out, if given) only the differences, so a restart neither loses
  // nor repeats an alert.
  void set_replaying(bool on, std::vector<std::vector<std::uint8_t>>* out = nullptr);

  [[nodiscard]] engine_stats stats() const;
  [[nodiscard]] std::vector<alert_view> firing() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace hub::rules
