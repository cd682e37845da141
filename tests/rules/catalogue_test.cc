// One test per rule of deploy/rules/a4p.yaml: an event that trips it, the alert's text
// and evidence, and the closing event that resolves it.
#include <catch2/catch.hpp>

#include <map>

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
  CHECK(fired[0].severity == "warning");  // the whole activity is out of scope: more than 50 % of its budget
  CHECK(fired[0].objective == "O1");
  CHECK(contains(fired[0].explanation, "(100 % of the activity"));
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

TEST_CASE("an adapter heartbeat does not move event time, so R8 stays firing", "[rules][catalogue][R8][heartbeat]") {
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
  // An idle adapter's heartbeat 40 days on (as an adapter started today sends while the
  // feed it reads is from the past).
  flatbuffers::FlatBufferBuilder fbb;
  auto hb = hub::schema::CreateAdapterHeartbeatDirect(fbb, "peacekeeping-adapter", "/inbox");
  hub::schema::Id128 id(7, 7);
  auto env = hub::schema::CreateEnvelopeDirect(fbb, &id, "peacekeeping-adapter", hub::schema::Entity::hub, "XXX",
                                               0, t0 + 40 * day, t0 + 40 * day, hub::schema::Classification::internal,
                                               nullptr, nullptr, nullptr, nullptr, nullptr, 0, "peacekeeping-adapter/heartbeat",
                                               "1", nullptr, Payload::AdapterHeartbeat, hb.Union());
  hub::schema::FinishEnvelopeBuffer(fbb, env);
  std::vector<std::uint8_t> bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  CHECK(harness::of(h.feed_bytes(bytes, t0 + 40 * day), "R8").empty());
  // A real event 40 days on still does (the test above).
  ev later;
  later.type = Payload::SecurityIncident;
  later.record = "ucdp-far";
  later.adm2 = "SS0505";
  later.fatalities = 1;
  later.occurred = t0 + 40 * day;
  auto resolved = harness::of(h.feed(later, t0 + 41 * day), "R8");
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

TEST_CASE("R2 is info when at most half of the activity is out of scope, warning above", "[rules][catalogue][R2]") {
  harness h(a4p_path());
  h.feed(strategy({o1()}), t0);
  ev a = poc_activity();
  a.more_adm2 = {"SS0201"};  // SS0101 in scope, SS0201 not: half of the activity
  auto fired = harness::of(h.feed(a, t0), "R2");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].severity == "info");
  CHECK(contains(fired[0].explanation, "[SS0201] are outside the objective's scope (50 % of the activity"));
  ev most = a;
  most.revision = "2";
  most.occurred = t0 + day;
  most.more_adm2 = {"SS0201", "SS0202"};  // two of three areas outside
  auto raised = harness::of(h.feed(most, t0 + day), "R2");
  REQUIRE(raised.size() == 1);
  CHECK(raised[0].status == "firing");
  CHECK(raised[0].severity == "warning");
  CHECK(raised[0].alert_id == fired[0].alert_id);
  CHECK(contains(raised[0].explanation, "(67 % of the activity"));
  ev fixed = poc_activity();
  fixed.revision = "3";
  fixed.occurred = t0 + 2 * day;
  auto resolved = harness::of(h.feed(fixed, t0 + 2 * day), "R2");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
}

namespace {

// Two objectives a PoC activity in SS02 is out of scope of: O1 (SS01) and O2 (SS03).
objective_spec o2() { return {"O2", "Local peace agreements in Upper Nile", 2, {"SS03"}, {MandateArea::poc}, {}}; }

ev two_claims() {
  ev a = poc_activity();
  a.adm1 = "SS02";
  a.adm2 = "SS0201";
  a.refs = {{"SSD-PS", "O1"}, {"SSD-PS", "O2"}};
  return a;
}

const transition* with_objective(const std::vector<transition>& ts, const std::string& objective) {
  for (const auto& t : ts)
    if (t.objective == objective) return &t;
  return nullptr;
}

}  // namespace

TEST_CASE("R2 raises one alert per claimed objective out of scope, and each resolves on its own",
          "[rules][catalogue][R2]") {
  harness h(a4p_path());
  h.feed(strategy({o1(), o2()}), t0);
  auto fired = harness::of(h.feed(two_claims(), t0), "R2");
  REQUIRE(fired.size() == 2);
  const transition* f1 = with_objective(fired, "O1");
  const transition* f2 = with_objective(fired, "O2");
  REQUIRE(f1 != nullptr);
  REQUIRE(f2 != nullptr);
  CHECK(f1->key == "SSD/test-adapter/UNMISS-POC-1/O1");
  CHECK(f2->key == "SSD/test-adapter/UNMISS-POC-1/O2");
  CHECK(f1->alert_id != f2->alert_id);
  for (const auto* f : {f1, f2}) {
    CHECK(f->status == "firing");
    CHECK(f->severity == "warning");  // all of the activity is out of either objective's scope
    CHECK(contains(f->explanation, "objective " + f->objective + " of SSD-PS"));
    CHECK(contains(f->explanation, "it claims SSD-PS/" + f->objective));
    CHECK(!contains(f->explanation, "SSD-PS/" + std::string(f == f1 ? "O2" : "O1")));
    REQUIRE(f->evidence.size() == 1);
    CHECK(contains(f->evidence[0], "UNMISS-POC-1"));
    CHECK(contains(f->evidence[0], "strategy_ref=SSD-PS v1/" + f->objective));
  }

  // Moved to SS0101: inside O1's scope, still outside O2's. O1 resolves, O2 stays as it
  // was (same severity: no transition) and now names the new area.
  ev moved = two_claims();
  moved.revision = "2";
  moved.occurred = t0 + day;
  moved.adm1 = "SS01";
  moved.adm2 = "SS0101";
  auto fixed = harness::of(h.feed(moved, t0 + day), "R2");
  REQUIRE(fixed.size() == 1);
  CHECK(fixed[0].status == "resolved");
  CHECK(fixed[0].objective == "O1");
  CHECK(fixed[0].key == f1->key);
  CHECK(fixed[0].alert_id == f1->alert_id);
  REQUIRE(!fixed[0].evidence.empty());
  CHECK(contains(fixed[0].evidence[0], "UNMISS-POC-1"));
  auto firing = h.engine().firing();
  std::vector<hub::rules::alert_view> r2;
  for (const auto& a : firing)
    if (a.rule_id == "R2") r2.push_back(a);
  REQUIRE(r2.size() == 1);
  CHECK(r2[0].key == f2->key);
  CHECK(r2[0].objective_id == "O2");
  CHECK(r2[0].alert_id == f2->alert_id);
  INFO(r2[0].explanation);
  CHECK(contains(r2[0].explanation, "its areas [SS0101] are outside"));

  // The activity ends: the other claim resolves too.
  ev ended = moved;
  ended.revision = "3";
  ended.occurred = t0 + 2 * day;
  ended.status = ActivityStatus::completed;
  auto closed = harness::of(h.feed(ended, t0 + 2 * day), "R2");
  REQUIRE(closed.size() == 1);
  CHECK(closed[0].status == "resolved");
  CHECK(closed[0].objective == "O2");
  CHECK(closed[0].alert_id == f2->alert_id);
  CHECK(contains(closed[0].explanation, "payload.status=completed"));
  CHECK(h.engine().firing().empty());
}

TEST_CASE("R2 judges the share out of scope per objective: a dropped claim or a widened scope resolves only that "
          "claim",
          "[rules][catalogue][R2]") {
  harness h(a4p_path());
  h.feed(strategy({o1(), o2()}), t0);
  ev a = poc_activity();
  a.more_adm2 = {"SS0201"};  // SS0101 and SS0201: half outside O1's scope, all outside O2's
  a.refs = {{"SSD-PS", "O1"}, {"SSD-PS", "O2"}};
  auto fired = harness::of(h.feed(a, t0), "R2");
  REQUIRE(fired.size() == 2);
  REQUIRE(with_objective(fired, "O1") != nullptr);
  REQUIRE(with_objective(fired, "O2") != nullptr);
  CHECK(with_objective(fired, "O1")->severity == "info");
  CHECK(contains(with_objective(fired, "O1")->explanation, "[SS0201] are outside the objective's scope (50 %"));
  CHECK(with_objective(fired, "O2")->severity == "warning");
  CHECK(contains(with_objective(fired, "O2")->explanation, "(100 % of the activity"));

  // A revision drops the claim on O2: that alert resolves, O1's is untouched.
  ev dropped = a;
  dropped.revision = "2";
  dropped.occurred = t0 + day;
  dropped.refs = {{"SSD-PS", "O1"}};
  auto after_drop = harness::of(h.feed(dropped, t0 + day), "R2");
  REQUIRE(after_drop.size() == 1);
  CHECK(after_drop[0].status == "resolved");
  CHECK(after_drop[0].objective == "O2");

  // Claimed again, then a new strategy version widens O2's scope to SS02: only O2 resolves.
  ev again = a;
  again.revision = "3";
  again.occurred = t0 + 2 * day;
  auto reopened = harness::of(h.feed(again, t0 + 2 * day), "R2");
  REQUIRE(reopened.size() == 1);
  CHECK(reopened[0].status == "firing");
  CHECK(reopened[0].objective == "O2");
  CHECK(reopened[0].alert_id != with_objective(fired, "O2")->alert_id);  // a new opening
  objective_spec wider = o2();
  wider.areas = {"SS03", "SS01", "SS02"};
  auto widened = harness::of(h.feed(strategy({o1(), wider}, 2, t0 + 3 * day), t0 + 3 * day), "R2");
  REQUIRE(widened.size() == 1);
  CHECK(widened[0].status == "resolved");
  CHECK(widened[0].objective == "O2");
  REQUIRE(h.engine().firing().size() >= 1);
  std::size_t r2 = 0;
  for (const auto& v : h.engine().firing())
    if (v.rule_id == "R2") {
      ++r2;
      CHECK(v.objective_id == "O1");
      CHECK(v.severity == "info");
    }
  CHECK(r2 == 1);
}

namespace {

ev rol_programme() {
  ev p;
  p.type = Payload::ProgrammeActivity;
  p.record = "XM-DAC-ROL-1";
  p.title = "Access to justice in Bor";
  p.adm1 = "SS01";
  p.adm2 = "SS0101";
  p.family = "rule_of_law";
  p.codes = {"1:15130"};
  p.start = t0;
  return p;
}

ev rol_3w() {
  ev c;
  c.type = Payload::CountryTeamActivity;
  c.record = "3W-ROL-9";
  c.title = "Mobile courts";
  c.adm1 = "SS01";
  c.adm2 = "SS0101";
  c.family = "rule_of_law";
  c.codes = {"hxl:PRO-ROL"};  // another vocabulary than the IATI code: not comparable, the family decides
  c.start = t0 + 10 * day;
  c.occurred = t0 + 10 * day;
  return c;
}

}  // namespace

TEST_CASE("R10 fires for two entities in the same sector family, area and period and resolves when a shared "
          "correlation id links them",
          "[rules][catalogue][R10]") {
  harness h(a4p_path());
  REQUIRE(harness::of(h.feed(rol_programme(), t0), "R10").empty());  // alone: nothing to compare
  ev same_entity = rol_programme();
  same_entity.record = "XM-DAC-ROL-2";
  REQUIRE(harness::of(h.feed(same_entity, t0), "R10").empty());      // one entity, two records: not duplication
  ev other_code = rol_3w();
  other_code.type = Payload::PeacebuildingProject;
  other_code.record = "PBF/SSD/A-1";
  other_code.codes.clear();
  other_code.adm2 = "SS0102";                                        // another admin 2
  REQUIRE(harness::of(h.feed(other_code, t0 + 5 * day), "R10").empty());

  auto fired = harness::of(h.feed(rol_3w(), t0 + 10 * day), "R10");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].status == "firing");
  CHECK(fired[0].severity == "info");
  CHECK(fired[0].key == "SSD/SS0101/rule_of_law/2025-Q1");
  CHECK(contains(fired[0].title, "duplication without coordination"));
  CHECK(contains(fired[0].explanation, "3W-ROL-9 (country_team) and XM-DAC-ROL-1 (development) overlap from 2025-01-11"));
  CHECK(contains(fired[0].explanation, "no shared correlation_id"));
  CHECK(contains(fired[0].explanation, "1 more pair(s)"));  // XM-DAC-ROL-2 pairs with the 3W row too
  CHECK(contains(fired[0].anchor, "Partnerships"));
  REQUIRE(fired[0].evidence.size() == 3);
  bool has_3w = false, has_xm = false;
  for (const auto& e : fired[0].evidence) {
    has_3w = has_3w || contains(e, "3W-ROL-9");
    has_xm = has_xm || contains(e, "XM-DAC-ROL-1");
  }
  CHECK(has_3w);
  CHECK(has_xm);

  // The 3W row and both programme records name the joint programme: coordinated.
  ev joint = rol_3w();
  joint.revision = "2";
  joint.occurred = t0 + 20 * day;
  joint.correlation = "JP-SSD-ROL";
  REQUIRE(harness::of(h.feed(joint, t0 + 20 * day), "R10").empty());  // the programmes do not name it yet
  ev p1 = rol_programme();
  p1.revision = "2";
  p1.occurred = t0 + 21 * day;
  p1.correlation = "JP-SSD-ROL";
  REQUIRE(harness::of(h.feed(p1, t0 + 21 * day), "R10").empty());      // XM-DAC-ROL-2 still duplicates
  ev p2 = same_entity;
  p2.revision = "2";
  p2.occurred = t0 + 22 * day;
  p2.correlation = "JP-SSD-ROL";
  auto resolved = harness::of(h.feed(p2, t0 + 22 * day), "R10");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
  CHECK(resolved[0].alert_id == fired[0].alert_id);
  REQUIRE(resolved[0].evidence.size() == 1);
  CHECK(contains(resolved[0].evidence[0], "XM-DAC-ROL-2"));
  CHECK(contains(resolved[0].evidence[0], "correlation_id=JP-SSD-ROL"));
}

TEST_CASE("R10 compares activity codes of one vocabulary and resolves when one activity ends", "[rules][catalogue][R10]") {
  harness h(a4p_path());
  ev a = rol_programme();
  ev b = rol_programme();
  b.type = Payload::PeacebuildingProject;
  b.record = "PBF/SSD/B-7";
  b.codes.clear();
  h.feed(a, t0);
  auto fired = harness::of(h.feed(b, t0 + day), "R10");  // the project has no code: the family decides
  REQUIRE(fired.size() == 1);

  ev c = rol_3w();
  c.record = "3W-OTHER";
  c.type = Payload::MandateActivity;  // a mission activity in the same family, another vocabulary-free record
  c.codes.clear();
  c.family = "education";
  REQUIRE(harness::of(h.feed(c, t0 + 2 * day), "R10").empty());  // another family

  ev ended = b;
  ended.revision = "2";
  ended.occurred = t0 + 3 * day;
  ended.status = ActivityStatus::completed;
  auto resolved = harness::of(h.feed(ended, t0 + 3 * day), "R10");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
  CHECK(contains(resolved[0].evidence[0], "PBF/SSD/B-7"));

  // Two programmes in one vocabulary with different codes are different work.
  harness h2(a4p_path());
  ev x = rol_programme();
  ev y = rol_3w();
  y.type = Payload::ProgrammeActivity;
  y.entity = hub::schema::Entity::peacebuilding;
  y.codes = {"1:15160"};
  h2.feed(x, t0);
  REQUIRE(harness::of(h2.feed(y, t0 + 10 * day), "R10").empty());
  y.revision = "2";
  y.codes = {"1:15160", "1:15130"};  // now it shares 15130
  auto both = harness::of(h2.feed(y, t0 + 11 * day), "R10");
  REQUIRE(both.size() == 1);
  CHECK(both[0].status == "firing");
  // The programme's period ends: once event time passes it, the pair is over.
  ev finished = x;
  finished.revision = "2";
  finished.occurred = t0 + 12 * day;
  finished.end = t0 + 40 * day;
  REQUIRE(harness::of(h2.feed(finished, t0 + 12 * day), "R10").empty());
  ev later;
  later.type = Payload::SecurityIncident;
  later.record = "ucdp-later";
  later.adm2 = "SS0909";
  later.occurred = t0 + 41 * day;
  auto over = harness::of(h2.feed(later, t0 + 41 * day), "R10");
  REQUIRE(over.size() == 1);
  CHECK(over[0].status == "resolved");
  CHECK(contains(over[0].evidence[0], "(ended 2025-02-10)"));
}

TEST_CASE("R6c fires while the PBF portfolio of the last 12 months is below 30 percent GEWE and resolves when it "
          "is back above",
          "[rules][catalogue][R6]") {
  harness h(a4p_path());
  ev p;
  p.type = Payload::PeacebuildingProject;
  p.record = "PBF/SSD/C-1";
  p.budget = 1'000'000;
  p.gewe = 100'000;
  auto fired = harness::of(h.feed(p, t0), "R6c");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].severity == "warning");
  CHECK(fired[0].key == "SSD");
  CHECK(contains(fired[0].title, "30 % GEWE target in SSD"));
  CHECK(contains(fired[0].explanation,
                 "payload.gewe_allocation is 10.0 % of payload.budget (100000 of 1000000) over 1 event(s) from 2024-01-02 "
                 "to 2025-01-01, below 30 %"));
  REQUIRE(fired[0].evidence.size() == 1);
  CHECK(contains(fired[0].evidence[0], "PBF/SSD/C-1"));

  ev q = p;
  q.record = "PBF/SSD/C-2";
  q.occurred = t0 + 30 * day;
  q.gewe = 600'000;  // 700k of 2M = 35 %
  auto resolved = harness::of(h.feed(q, t0 + 30 * day), "R6c");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
  CHECK(resolved[0].alert_id == fired[0].alert_id);
  CHECK(contains(resolved[0].evidence[0], "PBF/SSD/C-2"));

  // A year on, both have left the window; a new project at 20 % is the whole portfolio.
  ev r = p;
  r.record = "PBF/SSD/C-3";
  r.occurred = t0 + 400 * day;
  r.gewe = 200'000;
  auto again = harness::of(h.feed(r, t0 + 400 * day), "R6c");
  REQUIRE(again.size() == 1);
  CHECK(again[0].status == "firing");
  CHECK(again[0].alert_id != fired[0].alert_id);
  CHECK(contains(again[0].explanation, "20.0 %"));
  CHECK(contains(again[0].explanation, "over 1 event(s)"));
}

TEST_CASE("R7-stagnant fires for the same value three periods running and resolves when the value changes",
          "[rules][catalogue][R7]") {
  harness h(a4p_path());
  auto report = [&](int quarter, double value) {
    ev p;
    p.type = Payload::CommitmentProgress;
    p.entity = hub::schema::Entity::peacekeeping;
    p.record = "CPAS-Q" + std::to_string(quarter);
    p.rp_start = t0 + quarter * 90 * day;
    p.rp_end = t0 + (quarter + 1) * 90 * day;
    p.occurred = p.rp_end + 5 * day;
    p.value = value;
    return harness::of(h.feed(p, p.occurred), "R7-stagnant");
  };
  REQUIRE(report(0, 40).empty());
  REQUIRE(report(1, 40).empty());
  auto fired = report(2, 40);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].severity == "warning");
  CHECK(fired[0].key == "SSD/DSC-5.2");
  CHECK(contains(fired[0].explanation, "payload.value = 40 in 3 consecutive reporting periods (2025-01-01 to"));
  CHECK(fired[0].evidence.size() == 3);
  CHECK(contains(fired[0].evidence[0], "CPAS-Q0"));
  auto resolved = report(3, 45);
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
  CHECK(contains(resolved[0].evidence[0], "CPAS-Q3"));
}

TEST_CASE("R7 keys on the indicator where a report has one, and reports without one still count",
          "[rules][catalogue][R7]") {
  harness h(a4p_path());
  auto report = [](const std::string& record, const std::string& indicator, hub::millis start, hub::millis end) {
    ev p;
    p.type = Payload::CommitmentProgress;
    p.entity = hub::schema::Entity::peacekeeping;
    p.record = record;
    p.indicator = indicator;
    p.rp_start = start;
    p.rp_end = end;
    p.occurred = end + 5 * day;
    return p;
  };
  h.feed(report("CPAS-A1", "A4P+-5.1", t0, t0 + 90 * day), t0 + 95 * day);
  h.feed(report("CPAS-N1", "", t0, t0 + 90 * day), t0 + 95 * day);  // no indicator: counted, keyed on the commitment
  ev other_commitment = report("CPAS-X1", "", t0, t0 + 90 * day);
  other_commitment.commitment = "DSC-3.1";
  h.feed(other_commitment, t0 + 95 * day);
  // The indicator's next report arrives in time; the commitment-level ones do not.
  h.feed(report("CPAS-A2", "A4P+-5.1", t0 + 90 * day, t0 + 180 * day), t0 + 185 * day);
  auto fired = harness::of(h.tick(t0 + 215 * day), "R7");
  REQUIRE(fired.size() == 2);
  std::map<std::string, transition> by_key;
  for (const auto& t : fired) by_key[t.key] = t;
  REQUIRE(by_key.count("SSD/DSC-5.2") == 1);
  REQUIRE(by_key.count("SSD/DSC-3.1") == 1);
  CHECK(by_key.count("SSD/DSC-5.2/A4P+-5.1") == 0);
  const auto& n = by_key["SSD/DSC-5.2"];
  CHECK(n.status == "firing");
  CHECK(n.severity == "warning");
  CHECK(contains(n.explanation, "the last report covers the period ending 2025-04-01; the next was due by 2025-07-30"));
  REQUIRE(n.evidence.size() == 1);
  CHECK(contains(n.evidence[0], "CPAS-N1"));
  CHECK(contains(n.evidence[0], "payload.commitment_id=DSC-5.2"));

  // The indicator's report is late in turn; a commitment-level report resolves only its own key.
  auto later = harness::of(h.tick(t0 + 305 * day), "R7");
  bool indicator_fired = false;
  for (const auto& t : later) indicator_fired = indicator_fired || (t.key == "SSD/DSC-5.2/A4P+-5.1" && t.status == "firing");
  CHECK(indicator_fired);
  auto resolved = harness::of(h.feed(report("CPAS-N2", "", t0 + 180 * day, t0 + 300 * day), t0 + 306 * day), "R7");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].key == "SSD/DSC-5.2");
  CHECK(resolved[0].status == "resolved");
  CHECK(resolved[0].alert_id == n.alert_id);
  REQUIRE(resolved[0].evidence.size() == 1);
  CHECK(contains(resolved[0].evidence[0], "CPAS-N2"));
}

TEST_CASE("R7-activity fires for an active programme without revision for 12 months and resolves on a revision or "
          "when it ends",
          "[rules][catalogue][R7]") {
  harness h(a4p_path());
  ev p;
  p.type = Payload::ProgrammeActivity;
  p.record = "XM-DAC-41114-DORMANT";
  p.title = "Community policing";
  p.adm1 = "SS01";
  p.adm2 = "SS0101";
  p.family = "rule_of_law";
  p.start = t0 - 200 * day;
  p.occurred = t0 - 200 * day;  // IATI: occurred_at is the period start, the revision date is published_at
  p.published = t0;
  h.feed(p, t0);
  REQUIRE(harness::of(h.tick(t0 + 364 * day), "R7-activity").empty());
  auto fired = harness::of(h.tick(t0 + 366 * day), "R7-activity");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].status == "firing");
  CHECK(fired[0].severity == "warning");
  CHECK(fired[0].key == "SSD/test-adapter/XM-DAC-41114-DORMANT");
  CHECK(contains(fired[0].title, "without transaction or revision for 12 months"));
  CHECK(contains(fired[0].explanation,
                 "the last event of it is of 2025-01-01 (published_at); the next was due by 2026-01-01 (1 period(s) missed)"));
  CHECK(contains(fired[0].anchor, "Performance and accountability"));
  REQUIRE(fired[0].evidence.size() == 1);
  CHECK(contains(fired[0].evidence[0], "XM-DAC-41114-DORMANT"));
  CHECK(contains(fired[0].evidence[0], "payload.status=active"));
  // It stays a warning however long (critical_after_missed: 0): no new transition.
  REQUIRE(harness::of(h.tick(t0 + 1000 * day), "R7-activity").empty());

  // A revision (e.g. a new transaction) resolves it.
  ev revised = p;
  revised.revision = "2";
  revised.published = t0 + 1001 * day;
  auto resolved = harness::of(h.feed(revised, t0 + 1001 * day), "R7-activity");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
  CHECK(resolved[0].alert_id == fired[0].alert_id);
  REQUIRE(resolved[0].evidence.size() == 1);
  CHECK(contains(resolved[0].evidence[0], "XM-DAC-41114-DORMANT"));

  // Dormant again, then published as completed: no longer active, nothing more is expected.
  auto again = harness::of(h.tick(t0 + 1400 * day), "R7-activity");
  REQUIRE(again.size() == 1);
  CHECK(again[0].status == "firing");
  CHECK(again[0].alert_id != fired[0].alert_id);
  ev ended = p;
  ended.revision = "3";
  ended.published = t0 + 1401 * day;
  ended.status = ActivityStatus::completed;
  auto closed = harness::of(h.feed(ended, t0 + 1401 * day), "R7-activity");
  REQUIRE(closed.size() == 1);
  CHECK(closed[0].status == "resolved");
  CHECK(closed[0].alert_id == again[0].alert_id);
  REQUIRE(closed[0].evidence.size() == 1);
  CHECK(contains(closed[0].evidence[0], "payload.status=completed"));
  CHECK(contains(closed[0].explanation, "Closed by programme_activity XM-DAC-41114-DORMANT"));
  REQUIRE(harness::of(h.tick(t0 + 3000 * day), "R7-activity").empty());  // it does not come back
}

namespace {

ev other_strategy(std::string id, std::vector<objective_spec> objectives, unsigned version, hub::millis from,
                  hub::millis to = 0) {
  ev s = strategy(std::move(objectives), version, from, to);
  s.strategy_id = id;
  s.record = id + "-v" + std::to_string(version);
  return s;
}

std::vector<transition> replayed_emits(const std::vector<std::pair<std::vector<std::uint8_t>, hub::millis>>& log) {
  hub::rules::engine after(load_or_fail({a4p_path()}));
  after.set_replaying(true);
  std::uint64_t offset = 0;
  for (const auto& [bytes, time] : log) {
    std::vector<std::vector<std::uint8_t>> out;
    after.on_event(offset++, time, *hub::schema::GetEnvelope(bytes.data()), out);
  }
  std::vector<std::vector<std::uint8_t>> out;
  after.set_replaying(false, &out);
  std::vector<transition> ts;
  for (const auto& b : out) ts.push_back(decode(b));
  return ts;
}

}  // namespace

TEST_CASE("R9 is one alert per cited strategy: info in the grace, warning after it, each resolving on its own",
          "[rules][catalogue][R9]") {
  harness h(a4p_path());
  objective_spec o3{"O3", "Support the 2024 elections", 2, {}, {}, {}};
  objective_spec h1{"H1", "Durable solutions for the displaced", 2, {}, {}, {}};
  // SSD-PS v1 is superseded on t0 - 9 days by v2 without O3; SSD-HDP v1 runs until t0 + 100 days.
  h.feed(strategy({o1(), o3}, 1, t0 - 400 * day, t0 - 10 * day), t0 - 400 * day);
  h.feed(other_strategy("SSD-HDP", {h1}, 1, t0 - 400 * day, t0 + 100 * day), t0 - 400 * day);
  h.feed(strategy({o1()}, 2, t0 - 9 * day), t0 - 9 * day);

  ev a = poc_activity();
  a.refs = {{"SSD-PS", "O3"}, {"SSD-HDP", "H1"}};
  a.ref_versions = {1, 1};
  auto fired = harness::of(h.feed(a, t0), "R9");
  REQUIRE(fired.size() == 1);  // the reference to SSD-HDP v1, in force, is fine
  CHECK(fired[0].status == "firing");
  CHECK(fired[0].key == "SSD/test-adapter/UNMISS-POC-1/SSD-PS");
  CHECK(fired[0].severity == "info");  // 9 days into the 30-day grace after v2 took over
  CHECK(fired[0].objective == "O3");
  CHECK(contains(fired[0].title, "a version of SSD-PS no longer in force"));
  CHECK(contains(fired[0].explanation, "it cites SSD-PS v1 objective O3, superseded by v2 without that objective"));
  REQUIRE(fired[0].evidence.size() == 1);
  CHECK(contains(fired[0].evidence[0], "UNMISS-POC-1"));
  CHECK(contains(fired[0].evidence[0], "strategy_ref=SSD-PS v1/O3"));

  // The grace ends 30 days after v2 took over (t0 + 21 days): the same alert turns warning.
  CHECK(harness::of(h.tick(t0 + 20 * day), "R9").empty());
  auto warned = harness::of(h.tick(t0 + 22 * day), "R9");
  REQUIRE(warned.size() == 1);
  CHECK(warned[0].status == "firing");
  CHECK(warned[0].severity == "warning");
  CHECK(warned[0].alert_id == fired[0].alert_id);

  // SSD-HDP v1 expires after t0 + 100 days with no successor: its reference gets its own
  // alert, in the grace; the SSD-PS alert does not move.
  CHECK(harness::of(h.tick(t0 + 99 * day), "R9").empty());
  auto expired = harness::of(h.tick(t0 + 101 * day), "R9");
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].key == "SSD/test-adapter/UNMISS-POC-1/SSD-HDP");
  CHECK(expired[0].severity == "info");
  CHECK(expired[0].objective == "H1");
  CHECK(expired[0].alert_id != fired[0].alert_id);
  CHECK(contains(expired[0].explanation, "it cites SSD-HDP v1 objective H1, which expired on 2025-04-11"));
  REQUIRE(expired[0].evidence.size() == 1);
  CHECK(contains(expired[0].evidence[0], "strategy_ref=SSD-HDP v1/H1"));
  CHECK(h.engine().firing().size() >= 2);

  // Re-linked to SSD-PS v2: that alert resolves with the revision as evidence; SSD-HDP stays.
  ev relinked = a;
  relinked.revision = "2";
  relinked.occurred = t0 + 102 * day;
  relinked.refs = {{"SSD-PS", "O1"}, {"SSD-HDP", "H1"}};
  relinked.ref_versions = {2, 1};
  auto relink = harness::of(h.feed(relinked, t0 + 102 * day), "R9");
  REQUIRE(relink.size() == 1);
  CHECK(relink[0].status == "resolved");
  CHECK(relink[0].key == fired[0].key);
  CHECK(relink[0].alert_id == fired[0].alert_id);
  REQUIRE(relink[0].evidence_ids.size() == 1);
  CHECK(relink[0].evidence_ids[0] != warned[0].evidence_ids.at(0));  // the revision, not the first event
  CHECK(contains(relink[0].explanation, "Closed by mandate_activity UNMISS-POC-1"));

  // A new SSD-HDP version keeps H1: the second alert resolves, closed by that version.
  auto kept = harness::of(h.feed(other_strategy("SSD-HDP", {h1}, 2, t0 + 103 * day), t0 + 103 * day), "R9");
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].status == "resolved");
  CHECK(kept[0].key == expired[0].key);
  CHECK(kept[0].alert_id == expired[0].alert_id);
  CHECK(contains(kept[0].explanation, "Closed by political_strategy SSD-HDP v2"));
  for (const auto& f : h.engine().firing()) CHECK(f.rule_id != "R9");

  // A restart replays the log and emits nothing.
  CHECK(replayed_emits(h.log()).empty());
}

TEST_CASE("R9: two objectives of one expired strategy are one alert: the activity ending resolves it",
          "[rules][catalogue][R9]") {
  harness h(a4p_path());
  objective_spec o3{"O3", "Support the 2024 elections", 2, {}, {}, {}};
  objective_spec o4{"O4", "Census", 2, {}, {}, {}};
  h.feed(strategy({o1(), o3, o4}, 1, t0 - 400 * day, t0 - 100 * day), t0 - 400 * day);
  h.feed(strategy({o1()}, 2, t0 - 99 * day), t0 - 99 * day);
  ev a = poc_activity();
  a.refs = {{"SSD-PS", "O3"}, {"SSD-PS", "O4"}};
  auto fired = harness::of(h.feed(a, t0), "R9");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].key == "SSD/test-adapter/UNMISS-POC-1/SSD-PS");
  CHECK(fired[0].severity == "warning");  // the grace ended long ago
  CHECK(fired[0].objective == "O3");      // the first reference found
  ev ended = a;
  ended.revision = "2";
  ended.occurred = t0 + day;
  ended.status = ActivityStatus::completed;
  auto resolved = harness::of(h.feed(ended, t0 + day), "R9");
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].status == "resolved");
}

namespace {

ev working(const std::string& record, const std::string& adm2) {
  ev w;
  w.type = Payload::ProgrammeActivity;
  w.record = record;
  w.adm1 = adm2.substr(0, 4);
  w.adm2 = adm2;
  w.start = t0 - 100 * day;
  w.occurred = t0;
  return w;
}

// Five deadly incidents in `adm2` from `from` on; the R8 and R11 transitions they cause.
std::vector<transition> incidents(harness& h, const std::string& adm2, hub::millis from) {
  std::vector<transition> all;
  for (int i = 0; i < 5; ++i) {
    ev inc;
    inc.type = Payload::SecurityIncident;
    inc.record = "ucdp-" + adm2 + "-" + std::to_string(i);
    inc.adm1 = adm2.substr(0, 4);
    inc.adm2 = adm2;
    inc.fatalities = 2;
    inc.occurred = from + i * hub::rules::test::day / 24;
    auto t = h.feed(inc, inc.occurred);
    all.insert(all.end(), t.begin(), t.end());
  }
  return all;
}

}  // namespace

TEST_CASE("R11 is critical only while R8 fires within the objective's scope, and back to warning when it resolves",
          "[rules][catalogue][R11][R8]") {
  harness h(a4p_path());
  objective_spec top{"O7", "Reopen the Juba-Bor road", 1, {"SS01"}, {}, {}};
  h.feed(strategy({top}, 1, t0 - 30 * day), t0 - 30 * day);
  h.feed(working("XM-in", "SS0101"), t0);
  h.feed(working("XM-out", "SS0201"), t0);
  auto fired = harness::of(h.tick(t0 + 61 * day), "R11");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].key == "SSD/SSD-PS/O7");
  CHECK(fired[0].severity == "warning");

  // R8 fires in SS0201, outside the objective's scope (SS01): R11 stays at warning.
  auto outside = incidents(h, "SS0201", t0 + 62 * day);
  REQUIRE(harness::of(outside, "R8").size() == 1);
  CHECK(harness::of(outside, "R8")[0].key == "SSD/SS0201");
  CHECK(harness::of(outside, "R11").empty());
  CHECK(harness::of(h.tick(t0 + 63 * day), "R11").empty());

  // R8 fires in SS0101, inside: R11 turns critical with the event that fired R8, same alert.
  auto inside = incidents(h, "SS0101", t0 + 64 * day);
  REQUIRE(harness::of(inside, "R8").size() == 1);
  CHECK(harness::of(inside, "R8")[0].key == "SSD/SS0101");
  auto raised = harness::of(inside, "R11");
  REQUIRE(raised.size() == 1);
  CHECK(raised[0].status == "firing");
  CHECK(raised[0].severity == "critical");
  CHECK(raised[0].alert_id == fired[0].alert_id);
  CHECK(harness::of(h.tick(t0 + 65 * day), "R11").empty());

  // An event 40 days later moves event time on: both R8 windows are empty and resolve;
  // R11 is back to warning in the same step, still the same alert.
  ev later;
  later.type = Payload::SecurityIncident;
  later.record = "ucdp-far";
  later.adm2 = "SS0505";
  later.fatalities = 1;
  later.occurred = t0 + 105 * day;
  auto quiet = h.feed(later, t0 + 105 * day);
  CHECK(harness::of(quiet, "R8").size() == 2);
  for (const auto& t : harness::of(quiet, "R8")) CHECK(t.status == "resolved");
  auto lowered = harness::of(quiet, "R11");
  REQUIRE(lowered.size() == 1);
  CHECK(lowered[0].status == "firing");
  CHECK(lowered[0].severity == "warning");
  CHECK(lowered[0].alert_id == fired[0].alert_id);
  // Not a repeat of the first warning transition: the hub's dedup would drop it.
  CHECK(lowered[0].envelope_id != fired[0].envelope_id);
  CHECK(lowered[0].envelope_id != raised[0].envelope_id);

  // A restart replays the log and emits nothing (the severity steps are learned from it).
  CHECK(replayed_emits(h.log()).empty());
  // The back-to-warning transition lost in a crash is emitted again with the same id.
  auto log = h.log();
  std::size_t last = log.size();
  for (std::size_t i = 0; i < log.size(); ++i)
    if (hub::schema::GetEnvelope(log[i].first.data())->payload_type() == Payload::CoherenceAlert &&
        decode(log[i].first).envelope_id == lowered[0].envelope_id)
      last = i;
  REQUIRE(last < log.size());
  log.erase(log.begin() + static_cast<std::ptrdiff_t>(last), log.end());
  auto again = harness::of(replayed_emits(log), "R11");
  REQUIRE(again.size() == 1);
  CHECK(again[0].envelope_id == lowered[0].envelope_id);
  CHECK(again[0].severity == "warning");
}

TEST_CASE("R11 of an objective without admin areas in scope is critical while R8 fires anywhere in the country",
          "[rules][catalogue][R11][R8]") {
  harness h(a4p_path());
  objective_spec top{"O7", "Reopen the Juba-Bor road", 1, {}, {}, {}};
  h.feed(strategy({top}, 1, t0 - 30 * day), t0 - 30 * day);
  h.feed(working("XM-out", "SS0201"), t0);
  auto fired = harness::of(h.tick(t0 + 61 * day), "R11");
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].severity == "warning");
  auto raised = harness::of(incidents(h, "SS0201", t0 + 62 * day), "R11");
  REQUIRE(raised.size() == 1);
  CHECK(raised[0].severity == "critical");
  CHECK(raised[0].alert_id == fired[0].alert_id);
}
