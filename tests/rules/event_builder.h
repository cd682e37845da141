// Makes envelopes for rules tests concisely, and a harness that plays the broker's part:
// events go to the engine in log order and the alerts it emits are appended to the log
// and fed back, as hubd does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hub/common/types.h"
#include "hub/rules/engine.h"
#include "schemas/events_generated.h"

namespace hub::rules::test {

constexpr millis day = 86'400'000;
constexpr millis t0 = 1'735'689'600'000;  // 2025-01-01T00:00:00Z

struct objective_spec {
  std::string id, text;
  unsigned priority = 2;
  std::vector<std::string> areas;
  std::vector<schema::MandateArea> mandate_areas;
  std::vector<std::string> families;
};

struct ev {
  schema::Payload type = schema::Payload::MandateActivity;
  std::string country = "SSD", source = "test-adapter", record = "rec-1", revision = "1";
  std::optional<schema::Entity> entity;  // default: from the payload type
  std::string adm1, adm2;
  std::vector<std::string> more_adm2;    // further admin 2 areas
  millis occurred = t0, start = t0, end = 0;
  millis published = 0;                  // 0: the same as occurred
  std::vector<std::pair<std::string, std::string>> refs;  // (strategy, objective)
  unsigned ref_version = 1;
  std::vector<unsigned> ref_versions;    // per ref, by position; refs beyond it cite ref_version
  std::string correlation;
  // activities
  std::string title = "an activity";
  schema::MandateArea mandate = schema::MandateArea::poc;
  schema::ActivityStatus status = schema::ActivityStatus::active;
  std::string family;
  std::vector<std::string> codes;        // sector codes as "vocabulary:code" (programme: all, country team: the first)
  bool humanitarian = false;
  std::optional<schema::GenderLevel> gender = schema::GenderLevel::significant;
  double budget = 0, gewe = -1;
  // transition milestones
  schema::MilestoneKind kind = schema::MilestoneKind::base_closure;
  schema::MilestoneStatus mstatus = schema::MilestoneStatus::planned;
  millis planned = 0;
  std::vector<std::string> receiving;
  // incidents
  int fatalities = -1, un_deaths = -1;
  schema::IncidentCategory category = schema::IncidentCategory::battle;
  std::string mission = "UNMISS";
  // commitment progress
  std::string commitment = "DSC-5.2";
  std::string indicator;                 // empty: none
  millis rp_start = 0, rp_end = 0;
  double value = 0;
  // strategies
  std::string strategy_id = "SSD-PS";
  unsigned version = 1;
  millis valid_from = 0, valid_to = 0;
  std::vector<objective_spec> objectives;
  // acknowledgements and silences
  std::string alert_id, by, note, rule_id, key;
  millis until = 0;
};

std::vector<std::uint8_t> build(const ev& e);

struct transition {
  std::string rule, key, status, severity, title, explanation, alert_id, envelope_id, anchor, closing_action,
      objective;
  std::vector<std::string> evidence;  // excerpts
  std::vector<std::string> evidence_ids;
  millis first_event_time = 0, processed_at = 0;
};
transition decode(const std::vector<std::uint8_t>& bytes);

class harness {
 public:
  explicit harness(std::shared_ptr<const rule_set> rules) : engine_(std::move(rules)) {}
  explicit harness(const std::string& rules_file);
  // Feeds one event stored at `log_time`; returns the transitions it caused.
  std::vector<transition> feed(const ev& e, millis log_time);
  std::vector<transition> feed_bytes(const std::vector<std::uint8_t>& bytes, millis log_time);
  std::vector<transition> tick(millis now);
  // Only the transitions of one rule.
  static std::vector<transition> of(const std::vector<transition>& all, const std::string& rule);
  rules::engine& engine() { return engine_; }
  // The whole log so far: events and emitted alerts, with their log times.
  const std::vector<std::pair<std::vector<std::uint8_t>, millis>>& log() const { return log_; }

 private:
  std::vector<transition> append(std::vector<std::vector<std::uint8_t>>& out, millis log_time);
  rules::engine engine_;
  std::vector<std::pair<std::vector<std::uint8_t>, millis>> log_;
};

std::shared_ptr<const rule_set> load_or_fail(const std::vector<std::string>& files);
std::string a4p_path();

}  // namespace hub::rules::test
