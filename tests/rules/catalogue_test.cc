// One test per rule of deploy/rules/a4p.yaml: an event that trips it, the alert's text
// and evidence, and the closing event that resolves it.
#include <catch2/catch.hpp>

#include "tests/rules/event_builder.h"

using namespace hub::rules::test;
using hub::schema::ActivityStatus;
using hub::schema::GenderLevel;
using hub::schema::MandateArea;
using hub::schema::Payload;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

ev strategy(std::vector<objective_spec> objectives, unsigned version = 1, hub::millis from = t0 - 400 * day,
            hub::millis to = 0) {
  ev s;
  s.type = Payload::PoliticalStrategy;
  s.record = "SSD-PS-v" + std::to_string(version);
  s.version = version;
  s.valid_from = from;
  s.valid_to = to;
  s.objectives = std::move(objectives);
  s.occurred = from;
  return s;
}

objective_spec o1() { return {"O1", "Protect civilians in Jonglei", 2, {"SS01"}, {MandateArea::poc}, {}}; }

ev poc_activity() {
  ev a;
  a.type = Payload::MandateActivity;
  a.record = "UNMISS-POC-1";
  a.title = "Patrols around Bor";
  a.adm1 = "SS01";
  a.adm2 = "SS0101";
  a.start = t0;
  a.refs = {{"SSD-PS", "O1"}};
  return a;
}

}  // namespace

TEST_CASE("R1 fires for an activity that names no strategy objective and resolves when a revision links it",
          "[rules][catalogue][R1]") {
  harness h(a4p_path());
  h.feed(strategy({o1()}), t0);
  ev a = poc_activity();
  a.refs.clear();
  REQUIRE(harness::of(h.feed(a, t0), "R1").empty());            // linking grace of 14 days
  REQUIRE(harness::of(h.tick(t0 + 10 * day), "R1").empty());
  auto fired = harness::of(h.tick(t0 + 15 * day), "R1");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].status == "firing");
  CHECK(fired[0].severity == "critical");  // mandate activities are critical
  CHECK(contains(fired[0].explanation, "names no objective of SSD-PS v1"));
  CHECK(contains(fired[0].anchor, "Politics"));
  CHECK(contains(fired[0].closing_action, "strategy_refs"));
  REQUIRE(fired[0].evidence.size() == 1);
  CHECK(contains(fired[0].evidence[0], "UNMISS-POC-1"));

  ev linked = poc_activity();
  linked.revision = "2";
  linked.occurred = t0 + 16 * day;
  auto resolved = harness::of(h.feed(linked, t0 + 16 * day), "R1");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
  CHECK(resolved[0].alert_id == fired[0].alert_id);
}

TEST_CASE("R2 fires for a claim outside the objective's areas and resolves when the claim fits",
          "[rules][catalogue][R2]") {
  harness h(a4p_path());
  h.feed(strategy({o1()}), t0);
  ev a = poc_activity();
  a.adm1 = "SS02";
  a.adm2 = "SS0201";
  auto fired = harness::of(h.feed(a, t0), "R2");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].severity == "info");
  CHECK(fired[0].objective == "O1");
  CHECK(contains(fired[0].explanation, "outside the objective's scope"));
  CHECK(contains(fired[0].explanation, "SS0201"));

  ev fixed = poc_activity();
  fixed.revision = "2";
  fixed.occurred = t0 + day;
  auto resolved = harness::of(h.feed(fixed, t0 + day), "R2");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
}

TEST_CASE("R3 fires for protection of civilians without longer-term engagement and resolves when a programme arrives",
          "[rules][catalogue][R3]") {
  harness h(a4p_path());
  ev poc = poc_activity();
  auto fired = harness::of(h.feed(poc, t0 + 40 * day), "R3");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].key == "SSD/SS0101");
  CHECK(fired[0].severity == "warning");
  CHECK(contains(fired[0].title, "SS0101"));
  CHECK(contains(fired[0].anchor, "short-term stability is not enough"));
  REQUIRE(fired[0].evidence.size() == 1);
  CHECK(contains(fired[0].evidence[0], "payload.mandate_area=poc"));

  ev humanitarian;
  humanitarian.type = Payload::CountryTeamActivity;
  humanitarian.record = "3W-77";
  humanitarian.adm2 = "SS0101";
  humanitarian.humanitarian = true;
  REQUIRE(harness::of(h.feed(humanitarian, t0 + 41 * day), "R3").empty());  // humanitarian work does not count

  ev programme;
  programme.type = Payload::ProgrammeActivity;
  programme.record = "XM-DAC-41114-SSD-1";
  programme.adm1 = "SS01";
  programme.adm2 = "SS0101";
  programme.start = t0 + 30 * day;
  auto resolved = harness::of(h.feed(programme, t0 + 42 * day), "R3");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
  REQUIRE(!resolved[0].evidence.empty());
  CHECK(contains(resolved[0].evidence[0], "XM-DAC-41114-SSD-1"));
}

TEST_CASE("R3 falls back to admin 1 with a lower severity and says so", "[rules][catalogue][R3]") {
  harness h(a4p_path());
  ev poc = poc_activity();
  poc.adm2.clear();
  auto fired = harness::of(h.feed(poc, t0 + 40 * day), "R3");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].key == "SSD/SS01");
  CHECK(fired[0].severity == "info");
  CHECK(contains(fired[0].explanation, "admin level 1"));
}

TEST_CASE("a country-wide activity satisfies R3 everywhere but never triggers it", "[rules][catalogue][R3]") {
  harness h(a4p_path());
  ev national = poc_activity();
  national.record = "UNMISS-POC-NATIONAL";
  national.adm1.clear();
  national.adm2.clear();
  REQUIRE(harness::of(h.feed(national, t0 + 40 * day), "R3").empty());
  ev programme;
  programme.type = Payload::ProgrammeActivity;
  programme.record = "XM-NATIONAL";
  h.feed(programme, t0 + 40 * day);
  REQUIRE(harness::of(h.feed(poc_activity(), t0 + 41 * day), "R3").empty());
}

TEST_CASE("R4 fires for civilian mandate work without a country-team counterpart and resolves when one arrives",
          "[rules][catalogue][R4]") {
  harness h(a4p_path());
  ev rol = poc_activity();
  rol.record = "UNMISS-ROL-1";
  rol.mandate = MandateArea::rule_of_law;
  rol.family = "rule_of_law";
  auto fired = harness::of(h.feed(rol, t0 + 40 * day), "R4");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].key == "SSD/SS01/rule_of_law");
  CHECK(contains(fired[0].evidence[0], "UNMISS-ROL-1"));

  ev other_family;
  other_family.type = Payload::CountryTeamActivity;
  other_family.record = "3W-1";
  other_family.adm1 = "SS01";
  other_family.family = "education";
  REQUIRE(harness::of(h.feed(other_family, t0 + 41 * day), "R4").empty());

  ev counterpart = other_family;
  counterpart.record = "3W-2";
  counterpart.family = "rule_of_law";
  auto resolved = harness::of(h.feed(counterpart, t0 + 42 * day), "R4");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
}

TEST_CASE("R5 warns 90 days before a base closure, turns critical on the date, and resolves on a handover",
          "[rules][catalogue][R5]") {
  harness h(a4p_path());
  ev closure;
  closure.type = Payload::TransitionMilestone;
  closure.record = "UNMISS-BC-7";
  closure.adm1 = "SS01";
  closure.adm2 = "SS0101";
  closure.planned = t0 + 200 * day;
  closure.start = 0;
  REQUIRE(harness::of(h.feed(closure, t0), "R5").empty());
  auto warned = harness::of(h.tick(t0 + 120 * day), "R5");
  REQUIRE(warned.size() == 1);
  CHECK(warned[0].severity == "warning");
  CHECK(warned[0].key == "SSD/SS0101/UNMISS-BC-7");
  auto critical = harness::of(h.tick(t0 + 201 * day), "R5");
  REQUIRE(critical.size() == 1);
  CHECK(critical[0].status == "firing");
  CHECK(critical[0].severity == "critical");
  CHECK(critical[0].alert_id == warned[0].alert_id);

  ev handover = closure;
  handover.record = "UNMISS-HO-7";
  handover.kind = hub::schema::MilestoneKind::handover;
  handover.receiving = {"UNDP", "national police"};
  auto resolved = harness::of(h.feed(handover, t0 + 202 * day), "R5");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
  CHECK(contains(resolved[0].evidence[0], "UNMISS-HO-7"));
}

TEST_CASE("R6 fires for an activity without a gender marker and resolves when a revision adds one",
          "[rules][catalogue][R6]") {
  harness h(a4p_path());
  ev p;
  p.type = Payload::ProgrammeActivity;
  p.record = "XM-1";
  p.adm2 = "SS0101";
  p.gender.reset();
  auto fired = harness::of(h.feed(p, t0), "R6");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].severity == "info");  // programme rows are info
  CHECK(contains(fired[0].evidence[0], "gender.level=none"));
  p.revision = "2";
  p.occurred = t0 + day;
  p.gender = GenderLevel::limited;
  auto resolved = harness::of(h.feed(p, t0 + day), "R6");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
}

TEST_CASE("R6b fires for a peacebuilding project under 15 percent GEWE and resolves when the share is raised",
          "[rules][catalogue][R6]") {
  harness h(a4p_path());
  ev p;
  p.type = Payload::PeacebuildingProject;
  p.record = "PBF/SSD/B-3";
  p.adm2 = "SS0101";
  p.budget = 1'000'000;
  p.gewe = 100'000;
  auto fired = harness::of(h.feed(p, t0), "R6b");
  REQUIRE(fired.size() == 1);
  CHECK(contains(fired[0].evidence[0], "payload.gewe_share_pct=10"));
  p.revision = "2";
  p.occurred = t0 + day;
  p.gewe = 300'000;
  auto resolved = harness::of(h.feed(p, t0 + day), "R6b");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
}

TEST_CASE("R7 fires when commitment progress is overdue, escalates after two missed periods, and resolves on a report",
          "[rules][catalogue][R7]") {
  harness h(a4p_path());
  ev p;
  p.type = Payload::CommitmentProgress;
  p.entity = hub::schema::Entity::peacekeeping;
  p.record = "CPAS-1";
  p.rp_start = t0;
  p.rp_end = t0 + 90 * day;
  p.occurred = t0 + 95 * day;
  h.feed(p, t0 + 95 * day);
  REQUIRE(harness::of(h.tick(t0 + 200 * day), "R7").empty());  // due by end + 90 + 30 days
  auto fired = harness::of(h.tick(t0 + 215 * day), "R7");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].severity == "warning");
  CHECK(fired[0].key == "SSD/DSC-5.2");
  CHECK(contains(fired[0].explanation, "overdue"));
  auto critical = harness::of(h.tick(t0 + 305 * day), "R7");
  REQUIRE(critical.size() == 1);
  CHECK(critical[0].severity == "critical");
  ev next = p;
  next.record = "CPAS-2";
  next.rp_start = t0 + 270 * day;
  next.rp_end = t0 + 300 * day;
  next.occurred = t0 + 306 * day;
  auto resolved = harness::of(h.feed(next, t0 + 306 * day), "R7");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
}

TEST_CASE("R8 fires for deadly incidents where work runs and resolves once a window is quiet",
          "[rules][catalogue][R8]") {
  harness h(a4p_path());
  ev work;
  work.type = Payload::ProgrammeActivity;
  work.record = "XM-5";
  work.adm2 = "SS0101";
  work.start = t0 - 100 * day;
  h.feed(work, t0);
  std::vector<transition> fired;
  for (int i = 0; i < 5; ++i) {
    ev inc;
    inc.type = Payload::SecurityIncident;
    inc.record = "ucdp-" + std::to_string(i);
    inc.adm2 = "SS0101";
    inc.fatalities = 2;
    inc.occurred = t0 + i * day;
    auto t = harness::of(h.feed(inc, t0 + i * day), "R8");
    fired.insert(fired.end(), t.begin(), t.end());
  }
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].key == "SSD/SS0101");
  CHECK(fired[0].evidence.size() == 5);
  CHECK(contains(fired[0].explanation, "5 matching events"));
  // An event 40 days later moves event time on: the window around SS0101 is empty.
  ev later;
  later.type = Payload::SecurityIncident;
  later.record = "ucdp-far";
  later.adm2 = "SS0505";
  later.fatalities = 1;
  later.occurred = t0 + 40 * day;
  auto resolved = harness::of(h.feed(later, t0 + 40 * day), "R8");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
}

TEST_CASE("R8 does not fire where no activity runs", "[rules][catalogue][R8]") {
  harness h(a4p_path());
  std::vector<transition> all;
  for (int i = 0; i < 6; ++i) {
    ev inc;
    inc.type = Payload::SecurityIncident;
    inc.record = "ucdp-" + std::to_string(i);
    inc.adm2 = "SS0909";
    inc.fatalities = 5;
    inc.occurred = t0 + i * day;
    auto t = harness::of(h.feed(inc, t0 + i * day), "R8");
    all.insert(all.end(), t.begin(), t.end());
  }
  CHECK(all.empty());
}

TEST_CASE("R8-un is critical for a UN personnel fatality and resolves after 30 quiet days", "[rules][catalogue][R8]") {
  harness h(a4p_path());
  ev inc;
  inc.type = Payload::SecurityIncident;
  inc.record = "sage-1";
  inc.category = hub::schema::IncidentCategory::attack_on_un_personnel;
  inc.un_deaths = 1;
  inc.adm2 = "SS0101";
  auto fired = harness::of(h.feed(inc, t0), "R8-un");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].severity == "critical");
  CHECK(fired[0].key == "SSD/UNMISS");
  ev later = inc;
  later.record = "sage-2";
  later.category = hub::schema::IncidentCategory::battle;
  later.occurred = t0 + 31 * day;
  auto resolved = harness::of(h.feed(later, t0 + 31 * day), "R8-un");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
}

TEST_CASE("R9 fires for an activity citing a superseded strategy version and resolves when re-linked",
          "[rules][catalogue][R9]") {
  harness h(a4p_path());
  objective_spec o3{"O3", "Support the 2024 elections", 2, {}, {}, {}};
  h.feed(strategy({o1(), o3}, 1, t0 - 400 * day, t0 - 60 * day), t0 - 400 * day);
  h.feed(strategy({o1()}, 2, t0 - 59 * day), t0 - 59 * day);
  ev a = poc_activity();
  a.refs = {{"SSD-PS", "O3"}};
  a.ref_version = 1;
  auto fired = harness::of(h.feed(a, t0), "R9");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].severity == "warning");  // more than 30 days after the new version took over
  CHECK(contains(fired[0].explanation, "superseded by v2"));
  ev relinked = poc_activity();
  relinked.revision = "2";
  relinked.occurred = t0 + day;
  relinked.ref_version = 2;
  auto resolved = harness::of(h.feed(relinked, t0 + day), "R9");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
}

TEST_CASE("R11 fires for a priority-1 objective without linked activity for 90 days and resolves when one arrives",
          "[rules][catalogue][R11]") {
  harness h(a4p_path());
  objective_spec top{"O7", "Reopen the Juba-Bor road", 1, {}, {}, {}};
  auto none = harness::of(h.feed(strategy({top}, 1, t0 - 30 * day), t0 - 30 * day), "R11");
  REQUIRE(none.empty());
  auto fired = harness::of(h.tick(t0 + 61 * day), "R11");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].key == "SSD/SSD-PS/O7");
  CHECK(fired[0].objective == "O7");
  CHECK(contains(fired[0].explanation, "Reopen the Juba-Bor road"));
  ev a;
  a.type = Payload::CountryTeamActivity;
  a.record = "3W-road";
  a.adm2 = "SS0101";
  a.refs = {{"SSD-PS", "O7"}};
  a.occurred = t0 + 62 * day;
  auto resolved = harness::of(h.feed(a, t0 + 62 * day), "R11");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
}
