#include <catch2/catch.hpp>

#include "adapters/strategy/strategy.h"
#include "tests/adapters_common/import_helpers.h"

using namespace hub;
using hub::test::str;

namespace {
const adapters::adapter_definition& def() { return adapters::strategy::definition(); }

const char* good_yaml = R"(# South Sudan political strategy (test data)
strategy_id: SSD-PS
version: 2
supersedes: 1
country: SSD
title: Protecting civilians and building lasting peace
valid_from: 2025-01-01
valid_to: 2026-12-31
objectives:
  - id: O1
    text: Protect civilians in Unity and Upper Nile
    a4p_areas: [protection, peacebuilding_sustaining_peace]
    mandate_areas: [poc]
    sector_families: [protection, food_security]
    admin_areas: [SS06, Upper Nile]
    priority: 1
    expected_entities: [peacekeeping, development, country_team]
  - id: O2
    text: Restore the rule of law
    a4p_areas: politics; women_peace_security
    mandate_areas: [rule_of_law, ssr]
    admin_areas: []
    priority: 2
    expected_entities: [peacekeeping, peacebuilding]
)";
}  // namespace

TEST_CASE("a strategy in YAML becomes one PoliticalStrategy with its objectives", "[strategy]") {
  test::temp_dir dir("strategy");
  test::write_file(dir / "s.yaml", good_yaml);
  auto im = test::import_default(def(), dir / "s.yaml");
  REQUIRE(im.result.refused.is_ok());
  INFO(im.issues_text());
  REQUIRE(im.events.size() == 1);
  auto* e = im.event(0);
  CHECK(e->entity() == schema::Entity::coordination);
  CHECK(str(e->country()) == "SSD");
  CHECK(e->classification() == schema::Classification::internal);
  auto* s = e->payload_as_PoliticalStrategy();
  REQUIRE(s);
  CHECK(str(s->strategy_id()) == "SSD-PS");
  CHECK(s->version() == 2);
  CHECK(s->supersedes() == 1);
  CHECK(s->valid_from() == adapters::days_to_ms(2025, 1, 1));
  CHECK(s->valid_to() == adapters::days_to_ms(2027, 1, 1) - 1);
  REQUIRE(s->objectives()->size() == 2);
  auto* o1 = s->objectives()->Get(0);
  CHECK(str(o1->id()) == "O1");
  CHECK(o1->priority() == 1);
  REQUIRE(o1->admin_areas_in_scope()->size() == 2);
  CHECK(o1->admin_areas_in_scope()->Get(0)->str() == "SS06");
  CHECK(o1->admin_areas_in_scope()->Get(1)->str() == "SS07");  // "Upper Nile" by name
  CHECK(o1->mandate_areas()->Get(0) == schema::MandateArea::poc);
  CHECK(o1->expected_entities()->size() == 3);
  auto* o2 = s->objectives()->Get(1);
  CHECK(o2->a4p_areas()->size() == 2);
  CHECK(o2->admin_areas_in_scope() == nullptr);
  CHECK(str(e->source_record_id()) == "strategy:SSD-PS");
  CHECK_THAT(str(e->source_revision()), Catch::StartsWith("v2:"));
}

TEST_CASE("a broken strategy is reported with its line and others in the file still import", "[strategy][errors]") {
  test::temp_dir dir("strategy");
  std::string text = std::string(good_yaml) +
                     "---\n"
                     "strategy_id: BAD\n"
                     "version: two\n"
                     "country: SSD\n"
                     "valid_from: 2025-01-01\n"
                     "objectives: [{id: O1, text: x}]\n"
                     "---\n"
                     "strategy_id: ALSO-BAD\n"
                     "version: 1\n"
                     "country: SSD\n"
                     "valid_from: 2025-01-01\n"
                     "objectives:\n"
                     "  - id: O1\n"
                     "    text: x\n"
                     "    a4p_areas: [astrology]\n"
                     "  - id: O1\n"
                     "    text: y\n";
  test::write_file(dir / "two.yaml", text);
  auto im = test::import_default(def(), dir / "two.yaml");
  REQUIRE(im.result.refused.is_ok());
  CHECK(im.events.size() == 1);
  CHECK(im.result.counts.read == 3);
  CHECK(im.result.counts.skipped == 2);
  CHECK_THAT(im.issues_text(), Catch::Contains("two.yaml:27: strategy BAD: version must be a whole number"));
  CHECK_THAT(im.issues_text(), Catch::Contains("warning: objective O1: A4P area \"astrology\" unknown"));
  CHECK_THAT(im.issues_text(), Catch::Contains("strategy ALSO-BAD: objective id O1 appears twice"));
}

TEST_CASE("a file that is not YAML or YAML that is not a strategy is refused", "[strategy][errors]") {
  test::temp_dir dir("strategy");
  test::write_file(dir / "bad.yaml", "strategy_id: [unclosed\n");
  auto bad = test::import_default(def(), dir / "bad.yaml");
  REQUIRE_FALSE(bad.result.refused.is_ok());
  CHECK_THAT(bad.result.refused.message(), Catch::Contains("bad.yaml:") && Catch::Contains("not valid YAML"));
  test::write_file(dir / "list.yaml", "- a\n- b\n");
  auto list = test::import_default(def(), dir / "list.yaml");
  REQUIRE_FALSE(list.result.refused.is_ok());
  CHECK_THAT(list.result.refused.message(), Catch::Contains("not a strategy"));
}

TEST_CASE("a changed strategy text is a new revision and the same text keeps its event id", "[strategy][dedup]") {
  test::temp_dir dir("strategy");
  test::write_file(dir / "a.yaml", good_yaml);
  std::string changed = good_yaml;
  changed.replace(changed.find("Restore the rule of law"), 23, "Restore the rule of law everywhere");
  test::write_file(dir / "b.yaml", changed);
  auto a1 = test::import_default(def(), dir / "a.yaml");
  auto a2 = test::import_default(def(), dir / "a.yaml");
  auto b = test::import_default(def(), dir / "b.yaml");
  REQUIRE(a1.events.size() == 1);
  REQUIRE(b.events.size() == 1);
  CHECK(schema::id_to_hex(*a1.event(0)->id()) == schema::id_to_hex(*a2.event(0)->id()));
  CHECK(schema::id_to_hex(*a1.event(0)->id()) != schema::id_to_hex(*b.event(0)->id()));
}
