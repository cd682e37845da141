// The engine's contract: load errors with lines, reload, skipped events, the replay
// protocol, acknowledgements and silences, and the check/backtest helpers.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <sstream>

#include "hub/rules/cli.h"
#include "schemas/schema.h"
#include "tests/rules/event_builder.h"
#include "tests/support/temp_dir.h"

using namespace hub::rules::test;
using hub::schema::Payload;

namespace {

std::string write(const hub::test::temp_dir& dir, const std::string& name, const std::string& text) {
  auto p = dir / name;
  std::ofstream(p) << text;
  return p.string();
}

const char* good_rule = R"(groups:
  - name: g
    rules:
      - id: G1
        kind: condition
        anchor: "DSC WPS"
        severity: warning
        on:
          event_types: [activity]
        fire_if:
          - {field: gender.level, equals: none}
        key: [country, source_record_id]
        title: "no gender marker: {key}"
        description: "missing marker"
        closing_action: "add one"
)";

std::vector<hub::rules::load_error> errors_of(const std::string& file) {
  auto r = hub::rules::load_rule_files({file});
  REQUIRE(std::holds_alternative<std::vector<hub::rules::load_error>>(r));
  return std::get<std::vector<hub::rules::load_error>>(r);
}

bool has_error(const std::vector<hub::rules::load_error>& errors, int line, const std::string& part) {
  for (const auto& e : errors)
    if (e.line == line && e.message.find(part) != std::string::npos) return true;
  for (const auto& e : errors) UNSCOPED_INFO(to_string(e));
  return false;
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

ev ungendered(const std::string& record) {
  ev p;
  p.type = Payload::ProgrammeActivity;
  p.record = record;
  p.adm2 = "SS0101";
  p.gender.reset();
  return p;
}

}  // namespace

TEST_CASE("the default catalogue loads without errors", "[rules][load]") {
  std::ostringstream out;
  CHECK(hub::rules::check_rules_command({a4p_path()}, out) == 0);
  CHECK(out.str().find("R11") != std::string::npos);
  CHECK(out.str().find("OK") != std::string::npos);
}

TEST_CASE("rule file errors name the file and line", "[rules][load]") {
  hub::test::temp_dir dir("rules");
  SECTION("an unknown field") {
    auto f = write(dir, "r.yaml", replace(good_rule, "{field: gender.level,", "{field: gender.levle,"));
    CHECK(has_error(errors_of(f), 11, "unknown field 'gender.levle'"));
  }
  SECTION("an unknown rule attribute") {
    auto f = write(dir, "r.yaml", replace(good_rule, "        severity: warning\n", "        severity: warning\n        colour: red\n"));
    CHECK(has_error(errors_of(f), 8, "unknown field 'colour'"));
  }
  SECTION("an unknown event type") {
    auto f = write(dir, "r.yaml", replace(good_rule, "[activity]", "[mandate_activty]"));
    CHECK(has_error(errors_of(f), 9, "unknown event type 'mandate_activty'"));
  }
  SECTION("a bad duration") {
    auto f = write(dir, "r.yaml", replace(good_rule, "        severity: warning\n", "        severity: warning\n        for: 14 days\n"));
    CHECK(has_error(errors_of(f), 8, "bad duration '14 days'"));
  }
  SECTION("a type mismatch") {
    auto f = write(dir, "r.yaml", replace(good_rule, "equals: none", "gt: none"));
    CHECK(has_error(errors_of(f), 11, "type mismatch"));
  }
  SECTION("an enum value the schema does not know") {
    auto f = write(dir, "r.yaml", replace(good_rule, "equals: none", "equals: nothing"));
    CHECK(has_error(errors_of(f), 11, "'nothing' is not a value of field 'gender.level'"));
  }
  SECTION("a cycle between rules") {
    std::string two = std::string(good_rule) + R"(      - id: G2
        kind: condition
        anchor: "x"
        severity: info
        also_firing: [G1]
        on: {event_types: [activity]}
        fire_if: [{field: gender.level, equals: none}]
        key: [country]
        title: "t"
        description: "d"
        closing_action: "c"
)";
    two = replace(two, "        severity: warning\n", "        severity: warning\n        also_firing: [G2]\n");
    auto f = write(dir, "r.yaml", two);
    auto errors = errors_of(f);
    CHECK(has_error(errors, 4, "cycle in also_firing"));
  }
  SECTION("also_firing entries: the kinds that honour it, match values and unknown rules, with lines") {
    auto f = write(dir, "r.yaml", replace(good_rule, "        severity: warning\n",
                                          "        severity: warning\n        also_firing:\n"
                                          "          - {rule: G9, match: scope}\n"
                                          "          - {rule: G1, match: nowhere}\n"));
    auto errors = errors_of(f);
    CHECK(has_error(errors, 9, "also_firing is only for expectation rules and absence rules with of: strategy_objectives"));
    CHECK(has_error(errors, 9, "also_firing names unknown rule 'G9'"));
    CHECK(has_error(errors, 10, "also_firing.match 'nowhere': use country"));
  }
  SECTION("pair, ratio and stagnation attributes are checked with their lines") {
    const char* pair_rule = R"(groups:
  - name: g
    rules:
      - id: P1
        kind: pair
        anchor: "x"
        severity: info
        on: {event_types: [activity]}
        area: adm2
        key: [country, area, quarter]
        pair:
          same: [payload.sector_family]
          same_if_present: [payload.title]
          differ: [entity]
          unless_same: [correlation_id]
          period: covers
        title: "t"
        description: "d"
        closing_action: "c"
      - id: Q1
        kind: ratio
        anchor: "x"
        severity: warning
        on: {event_types: [peacebuilding_project]}
        key: [country, quarter]
        time: payload.budget
        window: 365d
        ratio: {numerator: payload.gewe_allocation, denominator: payload.status, below_pct: 130}
        title: "t"
        description: "d"
        closing_action: "c"
      - id: S1
        kind: stagnation
        anchor: "x"
        severity: warning
        on: {event_types: [commitment_progress]}
        key: [country]
        field: payload.nothing
        periods: 1
        title: "t"
        description: "d"
        closing_action: "c"
)";
    auto errors = errors_of(write(dir, "r.yaml", pair_rule));
    CHECK(has_error(errors, 13, "pair.same_if_present needs a list field, 'payload.title'"));
    CHECK(has_error(errors, 16, "pair.period must be overlaps or any"));
    CHECK(has_error(errors, 25, "key 'quarter' (the quarter a pair starts to overlap) is only for pair rules"));
    CHECK(has_error(errors, 26, "time 'payload.budget' must be a time field"));
    CHECK(has_error(errors, 28, "ratio.denominator needs a number field, 'payload.status'"));
    CHECK(has_error(errors, 28, "ratio.below_pct is a percentage"));
    CHECK(has_error(errors, 38, "unknown field 'payload.nothing'"));
    CHECK(has_error(errors, 39, "periods must be at least 2"));
  }
  SECTION("optional key parts, and time and ends_if on absence rules, are checked with their lines") {
    const char* text = R"(groups:
  - name: g
    rules:
      - id: A1
        kind: absence
        anchor: "x"
        severity: warning
        on: {event_types: [commitment_progress]}
        key: [country, {field: payload.indicator_id, optional: true}, payload.commitment_id]
        title: "t"
        description: "d"
        closing_action: "c"
      - id: A2
        kind: absence
        anchor: "x"
        severity: warning
        on: {event_types: [programme_activity]}
        key: [country, {field: area, optional: true}, {field: source_record_id, optinal: true}]
        time: payload.budget
        every: 365d
        title: "t"
        description: "d"
        closing_action: "c"
      - id: A3
        kind: threshold
        anchor: "x"
        severity: warning
        on: {event_types: [security_incident]}
        key: [country]
        time: occurred_at
        window: 30d
        count_at_least: 1
        title: "t"
        description: "d"
        closing_action: "c"
)";
    auto errors = errors_of(write(dir, "r.yaml", text));
    CHECK(has_error(errors, 9, "key part 'payload.commitment_id' follows an optional part"));
    CHECK(has_error(errors, 18, "key part 'area' cannot be optional"));
    CHECK(has_error(errors, 18, "unknown field 'optinal' in key part"));
    CHECK(has_error(errors, 19, "time 'payload.budget' must be a time field"));
    CHECK(has_error(errors, 30, "'time' is only for ratio and absence rules"));
  }
  SECTION("for_each is checked with its lines: condition rules, a per-claim check, strategy_refs, a key part of the "
          "element") {
    const char* text = R"(groups:
  - name: g
    rules:
      - id: F1
        kind: absence
        anchor: "x"
        severity: warning
        on: {event_types: [activity]}
        every: 90d
        for_each: strategy_refs
        key: [country, source_record_id]
        title: "t"
        description: "d"
        closing_action: "c"
      - id: F2
        kind: condition
        anchor: "x"
        severity: warning
        on: {event_types: [activity]}
        check: unlinked
        for_each: strategy_refs
        key: [country, source_record_id, strategy_refs.objective_id]
        title: "t"
        description: "d"
        closing_action: "c"
      - id: F3
        kind: condition
        anchor: "x"
        severity: warning
        on: {event_types: [activity]}
        check: out_of_scope
        for_each: geo.admin_areas
        key: [country, source_record_id]
        title: "t"
        description: "d"
        closing_action: "c"
      - id: F4
        kind: condition
        anchor: "x"
        severity: warning
        on: {event_types: [activity]}
        check: out_of_scope
        for_each: strategy_refs
        key: [country, source_record_id]
        title: "t"
        description: "d"
        closing_action: "c"
      - id: F5
        kind: condition
        anchor: "x"
        severity: warning
        on: {event_types: [activity]}
        check: expired_reference
        for_each: [strategy_refs]
        key: [country, source_record_id, strategy_refs.strategy_id, strategy_refs.objective_id]
        title: "t"
        description: "d"
        closing_action: "c"
)";
    auto errors = errors_of(write(dir, "r.yaml", text));
    CHECK(has_error(errors, 10, "'for_each' is only for condition rules"));
    CHECK(has_error(errors, 21, "for_each: strategy_refs needs check: out_of_scope or expired_reference"));
    CHECK(has_error(errors, 32, "for_each 'geo.admin_areas': only strategy_refs can be iterated"));
    CHECK(has_error(errors, 44, "the key needs a part of the element"));
    CHECK(has_error(errors, 54, "for_each must be a single value"));
    CHECK(errors.size() == 5);
  }
  SECTION("share_above needs the out_of_scope check") {
    auto f = write(dir, "r.yaml", replace(good_rule, "        severity: warning\n",
                                          "        severity: warning\n        severity_by:\n          - {share_above: 50, severity: critical}\n"));
    CHECK(has_error(errors_of(f), 9, "share_above needs check: out_of_scope"));
  }
  SECTION("every error of a file is reported at once") {
    auto text = replace(replace(good_rule, "[activity]", "[nothing]"), "equals: none", "gt: none");
    auto f = write(dir, "r.yaml", text);
    CHECK(errors_of(f).size() >= 2);
    std::ostringstream out;
    CHECK(hub::rules::check_rules_command({f}, out) == 1);
    CHECK(out.str().find(f + ":9: ") != std::string::npos);
  }
}

TEST_CASE("a broken file on reload leaves the running rules in force", "[rules][reload]") {
  hub::test::temp_dir dir("rules");
  auto f = write(dir, "r.yaml", good_rule);
  harness h(f);
  REQUIRE(h.feed(ungendered("A"), t0).size() == 1);
  write(dir, "r.yaml", replace(good_rule, "[activity]", "[nothing]"));
  auto reload = hub::rules::load_rule_files({f});
  REQUIRE(std::holds_alternative<std::vector<hub::rules::load_error>>(reload));
  // The caller keeps the engine as it was: the old rules still judge new events.
  CHECK(h.feed(ungendered("B"), t0 + 1).size() == 1);
  // A good reload keeps the state of rules whose ids match: A stays firing, once.
  write(dir, "r.yaml", good_rule);
  h.engine().replace_rules(load_or_fail({f}));
  CHECK(h.feed(ungendered("A"), t0 + 2).empty());
  CHECK(h.engine().firing().size() == 2);
}

TEST_CASE("events missing a field a rule needs are skipped and counted", "[rules][missing]") {
  harness h(a4p_path());
  ev inc;
  inc.type = Payload::SecurityIncident;
  inc.record = "acled-1";
  inc.adm2 = "SS0101";
  inc.fatalities = -1;  // not known
  CHECK(harness::of(h.feed(inc, t0), "R8").empty());
  auto st = h.engine().stats();
  CHECK(st.skipped_missing_fields["R8"] == 1);
  CHECK(st.events == 1);
}

TEST_CASE("a restart replays the log and neither loses nor repeats an alert", "[rules][replay]") {
  harness before(a4p_path());
  ev a = ungendered("XM-1");
  before.feed(a, t0);
  ev b = ungendered("XM-2");
  before.feed(b, t0 + day);
  ev fixed = a;
  fixed.revision = "2";
  fixed.occurred = t0 + 2 * day;
  fixed.gender = hub::schema::GenderLevel::significant;
  before.feed(fixed, t0 + 2 * day);  // XM-1 resolves, XM-2 stays firing
  const auto& log = before.log();

  SECTION("the whole log replayed: nothing is emitted") {
    hub::rules::engine after(load_or_fail({a4p_path()}));
    after.set_replaying(true);
    std::uint64_t offset = 0;
    for (const auto& [bytes, time] : log) {
      std::vector<std::vector<std::uint8_t>> out;
      after.on_event(offset++, time, *hub::schema::GetEnvelope(bytes.data()), out);
      REQUIRE(out.empty());
    }
    std::vector<std::vector<std::uint8_t>> out;
    after.set_replaying(false, &out);
    CHECK(out.empty());
    auto firing = after.firing();
    REQUIRE(firing.size() == 1);
    CHECK(firing[0].key.find("XM-2") != std::string::npos);
    CHECK(firing[0].alert_id == before.engine().firing()[0].alert_id);
  }
  SECTION("the last alert was never appended: it is emitted once, with the same id") {
    std::vector<std::pair<std::vector<std::uint8_t>, hub::millis>> cut(log.begin(), log.end() - 1);
    auto lost = decode(log.back().first);
    hub::rules::engine after(load_or_fail({a4p_path()}));
    after.set_replaying(true);
    std::uint64_t offset = 0;
    for (const auto& [bytes, time] : cut) {
      std::vector<std::vector<std::uint8_t>> out;
      after.on_event(offset++, time, *hub::schema::GetEnvelope(bytes.data()), out);
    }
    std::vector<std::vector<std::uint8_t>> out;
    after.set_replaying(false, &out);
    REQUIRE(out.size() == 1);
    auto again = decode(out[0]);
    CHECK(again.envelope_id == lost.envelope_id);
    CHECK(again.status == lost.status);
    CHECK(again.alert_id == lost.alert_id);
  }
}

namespace {

ev ssd_strategy() {
  ev s;
  s.type = Payload::PoliticalStrategy;
  s.record = "SSD-PS-v1";
  s.valid_from = t0 - 400 * day;
  s.occurred = s.valid_from;
  s.objectives = {{"O1", "Protect civilians in Jonglei", 2, {"SS01"}, {hub::schema::MandateArea::poc}, {}},
                  {"O2", "Local peace agreements in Upper Nile", 2, {"SS03"}, {hub::schema::MandateArea::poc}, {}}};
  return s;
}

// A PoC activity in SS02 claiming O1 and O2: out of both objectives' scope.
ev claims_two(const std::string& record) {
  ev a;
  a.type = Payload::MandateActivity;
  a.record = record;
  a.adm1 = "SS02";
  a.adm2 = "SS0201";
  a.refs = {{"SSD-PS", "O1"}, {"SSD-PS", "O2"}};
  return a;
}

std::vector<hub::rules::alert_view> firing_of(const hub::rules::engine& e, const std::string& rule) {
  std::vector<hub::rules::alert_view> out;
  for (auto& v : e.firing())
    if (v.rule_id == rule) out.push_back(std::move(v));
  return out;
}

}  // namespace

TEST_CASE("a restart rebuilds the findings of a for_each rule claim by claim", "[rules][replay]") {
  harness before(a4p_path());
  before.feed(ssd_strategy(), t0);
  REQUIRE(harness::of(before.feed(claims_two("UNMISS-2"), t0), "R2").size() == 2);
  ev moved = claims_two("UNMISS-2");  // now inside O1's scope, still outside O2's
  moved.revision = "2";
  moved.occurred = t0 + day;
  moved.adm1 = "SS01";
  moved.adm2 = "SS0101";
  auto fixed = harness::of(before.feed(moved, t0 + day), "R2");
  REQUIRE(fixed.size() == 1);
  REQUIRE(fixed[0].status == "resolved");
  REQUIRE(fixed[0].objective == "O1");
  auto still = firing_of(before.engine(), "R2");
  REQUIRE(still.size() == 1);
  REQUIRE(still[0].objective_id == "O2");
  const auto& log = before.log();
  REQUIRE(decode(log.back().first).envelope_id == fixed[0].envelope_id);  // the O1 resolve is the last entry

  ev ended = moved;
  ended.revision = "3";
  ended.occurred = t0 + 2 * day;
  ended.status = hub::schema::ActivityStatus::completed;

  SECTION("the whole log replayed: nothing is emitted, the open claim resolves on its own later") {
    harness after(a4p_path());
    after.engine().set_replaying(true);
    for (const auto& [bytes, time] : log) REQUIRE(after.feed_bytes(bytes, time).empty());
    std::vector<std::vector<std::uint8_t>> out;
    after.engine().set_replaying(false, &out);
    CHECK(out.empty());
    auto firing = firing_of(after.engine(), "R2");
    REQUIRE(firing.size() == 1);
    CHECK(firing[0].key == still[0].key);
    CHECK(firing[0].alert_id == still[0].alert_id);
    auto closed = harness::of(after.feed(ended, t0 + 2 * day), "R2");
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].status == "resolved");
    CHECK(closed[0].objective == "O2");
    CHECK(closed[0].alert_id == still[0].alert_id);
  }
  SECTION("the resolve of one claim was never appended: only it is emitted, with the same id") {
    harness after(a4p_path());
    after.engine().set_replaying(true);
    for (auto it = log.begin(); it != log.end() - 1; ++it) after.feed_bytes(it->first, it->second);
    std::vector<std::vector<std::uint8_t>> out;
    after.engine().set_replaying(false, &out);
    REQUIRE(out.size() == 1);
    auto again = decode(out[0]);
    CHECK(again.envelope_id == fixed[0].envelope_id);
    CHECK(again.status == "resolved");
    CHECK(again.objective == "O1");
    CHECK(again.alert_id == fixed[0].alert_id);
    REQUIRE(firing_of(after.engine(), "R2").size() == 1);
    CHECK(firing_of(after.engine(), "R2")[0].alert_id == still[0].alert_id);
  }
}

TEST_CASE("a restart after R2 v1 (one alert per activity) became per claim resolves the old alert and opens one "
          "per claim, once",
          "[rules][replay]") {
  std::ifstream in(a4p_path());
  std::stringstream text;
  text << in.rdbuf();
  std::string v1 = replace(replace(replace(text.str(), "        for_each: strategy_refs  #", "        #"),
                                   "key: [country, source_system, source_record_id, strategy_refs.objective_id]",
                                   "key: [country, source_system, source_record_id]"),
                           "version: 2               # v2", "version: 1               # v2");
  hub::test::temp_dir dir("rules");
  harness before(load_or_fail({write(dir, "a4p-v1.yaml", v1)}));
  before.feed(ssd_strategy(), t0);
  auto old = harness::of(before.feed(claims_two("UNMISS-3"), t0), "R2");
  REQUIRE(old.size() == 1);
  CHECK(old[0].key == "SSD/test-adapter/UNMISS-3");

  harness after(a4p_path());
  after.engine().set_replaying(true);
  for (const auto& [bytes, time] : before.log()) REQUIRE(after.feed_bytes(bytes, time).empty());
  std::vector<std::vector<std::uint8_t>> out;
  after.engine().set_replaying(false, &out);
  std::map<std::string, std::string> status;  // key -> status
  for (const auto& b : out) {
    auto t = decode(b);
    if (t.rule == "R2") status[t.key] += t.status;
  }
  CHECK(status == std::map<std::string, std::string>{{"SSD/test-adapter/UNMISS-3", "resolved"},
                                                     {"SSD/test-adapter/UNMISS-3/O1", "firing"},
                                                     {"SSD/test-adapter/UNMISS-3/O2", "firing"}});
  // Fed back like the broker does, a second replay changes nothing.
  harness again(a4p_path());
  again.engine().set_replaying(true);
  for (const auto& [bytes, time] : before.log()) again.feed_bytes(bytes, time);
  for (const auto& b : out) again.feed_bytes(b, t0 + day);
  std::vector<std::vector<std::uint8_t>> none;
  again.engine().set_replaying(false, &none);
  CHECK(none.empty());
  CHECK(firing_of(again.engine(), "R2").size() == 2);
}

TEST_CASE("an acknowledgement attaches to the firing alert until it resolves", "[rules][ack]") {
  harness h(a4p_path());
  auto fired = harness::of(h.feed(ungendered("XM-1"), t0), "R6");
  REQUIRE(fired.size() == 1);
  ev ack;
  ack.type = Payload::AlertAcknowledgement;
  ack.record = "ack-1";
  ack.alert_id = fired[0].alert_id;
  ack.by = "rco.juba";
  ack.note = "asking UNDP for the marker";
  CHECK(h.feed(ack, t0 + 1).empty());
  auto firing = h.engine().firing();
  REQUIRE(firing.size() == 1);
  CHECK(firing[0].acknowledged_by == "rco.juba");
  CHECK(firing[0].ack_note == "asking UNDP for the marker");
}

TEST_CASE("a silence mutes a rule and key until its date", "[rules][silence]") {
  harness h(a4p_path());
  ev silence;
  silence.type = Payload::AlertSilence;
  silence.record = "silence-1";
  silence.rule_id = "R6";
  silence.key = "SSD/test-adapter/XM-1";
  silence.until = t0 + 10 * day;
  silence.by = "rco.juba";
  silence.note = "marker comes with the next IATI refresh";
  h.feed(silence, t0);
  CHECK(harness::of(h.feed(ungendered("XM-1"), t0 + day), "R6").empty());
  auto firing = h.engine().firing();
  REQUIRE(firing.size() == 1);
  CHECK(firing[0].silenced);
  CHECK(harness::of(h.feed(ungendered("XM-2"), t0 + day), "R6").size() == 1);  // other keys are not muted
  auto after = harness::of(h.tick(t0 + 11 * day), "R6");
  REQUIRE(after.size() == 1);
  CHECK(after[0].key == "SSD/test-adapter/XM-1");
}

TEST_CASE("a backtest prints the alerts it would raise and publishes nothing", "[rules][backtest]") {
  std::vector<hub::rules::stored_event> events;
  events.push_back({0, t0, build(ungendered("XM-1"))});
  ev p = ungendered("XM-1");
  p.revision = "2";
  p.occurred = t0 + day;
  p.gender = hub::schema::GenderLevel::limited;
  events.push_back({1, t0 + day, build(p)});
  std::ostringstream out;
  int rc = hub::rules::backtest_command(
      {a4p_path()},
      [&](const std::function<void(const hub::rules::stored_event&)>& sink) {
        for (const auto& e : events) sink(e);
        return true;
      },
      0, t0 + 2 * day, out);
  CHECK(rc == 0);
  INFO(out.str());
  CHECK(out.str().find("FIRING") != std::string::npos);
  CHECK(out.str().find("RESOLVED") != std::string::npos);
  CHECK(out.str().find("Nothing was published") != std::string::npos);
}

TEST_CASE("state shrinks once records end: candidates, indexes, records and interned strings are pruned",
          "[rules][memory]") {
  harness h(a4p_path());
  constexpr int n = 300;
  auto programme = [](int i) {
    ev p;
    p.type = Payload::ProgrammeActivity;
    p.record = "XM-PRUNE-" + std::to_string(i);
    p.adm1 = "SS0" + std::to_string(1 + i % 9);
    p.adm2 = p.adm1 + std::to_string(100 + i);
    p.family = "rule_of_law";
    p.start = t0;
    p.end = t0 + 60 * day;
    p.occurred = t0;
    return p;
  };
  auto poc = [](int i) {
    ev m;
    m.type = Payload::MandateActivity;
    m.record = "UNMISS-PRUNE-" + std::to_string(i);
    m.adm1 = "SS0" + std::to_string(1 + i % 9);
    m.adm2 = m.adm1 + std::to_string(100 + i);
    m.start = t0;
    m.end = t0 + 60 * day;
    m.occurred = t0;
    return m;
  };
  for (int i = 0; i < n; ++i) {
    h.feed(poc(i), t0);
    h.feed(programme(i), t0);
  }
  auto full = h.engine().stats();
  CAPTURE(full.interned, full.expectation_candidates, full.index_entries, full.records);
  CHECK(full.expectation_candidates >= 2u * n);  // R3 and R4 keep each programme
  CHECK(full.index_entries >= 4u * n);
  CHECK(full.open_expectations == 0);            // every PoC activity has its programme
  CHECK(full.interned >= 2u * n);

  // Every record ends; a year later the watermark has moved past every window.
  for (int i = 0; i < n; ++i) {
    ev m = poc(i), p = programme(i);
    m.revision = p.revision = "2";
    m.occurred = p.occurred = t0 + 61 * day;
    m.status = p.status = hub::schema::ActivityStatus::completed;
    h.feed(m, t0 + 61 * day);
    h.feed(p, t0 + 61 * day);
  }
  ev later;
  later.type = Payload::SecurityIncident;
  later.record = "ucdp-later";
  later.adm2 = "SS0909";
  later.occurred = t0 + 400 * day;
  h.feed(later, t0 + 400 * day);
  h.tick(t0 + 400 * day);
  auto pruned = h.engine().stats();
  CAPTURE(pruned.interned, pruned.expectation_candidates, pruned.index_entries, pruned.records);
  CHECK(pruned.expectation_candidates == 0);
  CHECK(pruned.index_entries == 0);
  CHECK(pruned.records < 10);
  CHECK(pruned.interned < 10);
  CHECK(pruned.open_expectations == 0);
  CHECK(h.engine().firing().empty());
}

TEST_CASE("a satisfied expectation stays satisfied when its trigger is revised after the counterpart was pruned",
          "[rules][memory]") {
  harness h(a4p_path());
  ev p;
  p.type = Payload::MandateActivity;
  p.record = "UNMISS-POC-LONG";
  p.adm1 = "SS01";
  p.adm2 = "SS0101";
  p.start = t0;
  ev partner;
  partner.type = Payload::ProgrammeActivity;
  partner.record = "XM-SHORT";
  partner.adm1 = "SS01";
  partner.adm2 = "SS0101";
  partner.family = "food_security";
  partner.start = t0 - 30 * day;
  partner.end = t0 + 10 * day;
  partner.occurred = t0 - 30 * day;
  h.feed(partner, t0);
  REQUIRE(harness::of(h.feed(p, t0), "R3").empty());
  CHECK(h.engine().stats().expectation_candidates >= 1);
  ev later;
  later.type = Payload::SecurityIncident;
  later.record = "ucdp-later";
  later.adm2 = "SS0909";
  later.occurred = t0 + 300 * day;
  h.feed(later, t0 + 300 * day);
  REQUIRE(harness::of(h.tick(t0 + 300 * day), "R3").empty());
  CHECK(h.engine().stats().expectation_candidates == 0);  // the programme ended 290 days ago: pruned
  CHECK(h.engine().stats().open_expectations == 0);
  ev revised = p;
  revised.revision = "2";
  revised.occurred = t0 + 301 * day;
  revised.title = "Patrols around Bor, extended";
  REQUIRE(harness::of(h.feed(revised, t0 + 301 * day), "R3").empty());
  REQUIRE(harness::of(h.tick(t0 + 302 * day), "R3").empty());
  CHECK(h.engine().stats().open_expectations == 0);

  // Moved to another admin 2, it needs a counterpart there: R3 fires, and resolves when one comes.
  ev moved = revised;
  moved.revision = "3";
  moved.occurred = t0 + 303 * day;
  moved.adm2 = "SS0102";
  auto fired = harness::of(h.feed(moved, t0 + 303 * day), "R3");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].status == "firing");
  CHECK(fired[0].key == "SSD/SS0102");
  REQUIRE(fired[0].evidence.size() == 1);
  CHECK(fired[0].evidence[0].find("UNMISS-POC-LONG") != std::string::npos);
  ev there = partner;
  there.record = "XM-THERE";
  there.adm2 = "SS0102";
  there.end = 0;
  there.occurred = t0 + 304 * day;
  auto resolved = harness::of(h.feed(there, t0 + 304 * day), "R3");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
  CHECK(resolved[0].evidence[0].find("XM-THERE") != std::string::npos);
}

TEST_CASE("the per-claim findings of a for_each rule are pruned once the activities end", "[rules][memory]") {
  harness h(a4p_path());
  h.feed(ssd_strategy(), t0);
  constexpr int n = 200;
  for (int i = 0; i < n; ++i) h.feed(claims_two("UNMISS-EACH-" + std::to_string(i)), t0);
  auto full = h.engine().stats();
  CAPTURE(full.interned, full.records);
  CHECK(firing_of(h.engine(), "R2").size() == 2u * n);
  CHECK(full.records >= 5u * n);  // R2 alone: a subject, two findings and two alerts per activity
  for (int i = 0; i < n; ++i) {
    ev done = claims_two("UNMISS-EACH-" + std::to_string(i));
    done.revision = "2";
    done.occurred = t0 + day;
    done.status = hub::schema::ActivityStatus::completed;
    REQUIRE(harness::of(h.feed(done, t0 + day), "R2").size() == 2);
  }
  ev later;
  later.type = Payload::SecurityIncident;
  later.record = "ucdp-later";
  later.adm2 = "SS0909";
  later.occurred = t0 + 400 * day;
  h.feed(later, t0 + 400 * day);
  h.tick(t0 + 400 * day);
  auto pruned = h.engine().stats();
  CAPTURE(pruned.interned, pruned.records);
  CHECK(pruned.records < 10);
  CHECK(pruned.interned < 10);
  CHECK(h.engine().firing().empty());
}
