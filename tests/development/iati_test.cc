// The development adapter on the real IATI fixtures: the known records field by field,
// the quirks the fixtures README lists, and every invalid or empty-shaped file.
#include <algorithm>
#include <fstream>
#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "adapters/development/iati.h"
#include "adapters/sdk/event.h"
#include "schemas/schema.h"
#include "tests/development/import_helpers.h"
#include "tests/support/temp_dir.h"

using namespace hub;
using hub::test::amount_in;
using hub::test::fixture;
using hub::test::import_with;

namespace {

const std::string dportal = "iati/iati-activities-covid19-2021-dportal-subset.xml";

const test::imported& dportal_import() {
  static const test::imported once = import_with(adapters::iati::development_adapter(), fixture(dportal));
  return once;
}

const schema::ProgrammeActivity* programme(const schema::Envelope* e) {
  REQUIRE(e != nullptr);
  REQUIRE(e->payload_type() == schema::Payload::ProgrammeActivity);
  return e->payload_as_ProgrammeActivity();
}

// The 1-based line of the first line containing `needle`.
std::size_t line_of_first(const std::filesystem::path& file, const std::string& needle) {
  std::ifstream in(file);
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n)
    if (line.find(needle) != std::string::npos) return n;
  return 0;
}

std::string date_of(std::int64_t ms) { return sdk::format_time(ms, true); }

bool has_org(const schema::ProgrammeActivity* p, const std::string& ref, const std::string& role) {
  if (!p->participating_orgs()) return false;
  return std::any_of(p->participating_orgs()->begin(), p->participating_orgs()->end(), [&](const auto* o) {
    return o->ref() && o->ref()->str() == ref && o->role() && o->role()->str() == role;
  });
}

}  // namespace

TEST_CASE("the D-Portal subset is read whole and every activity is either published or reported",
          "[development][iati]") {
  const auto& r = dportal_import();
  REQUIRE(r.result.refused.is_ok());
  CHECK(r.result.counts.read == 109);
  // Five activities cannot be filed under a country: three regional UNDP projects
  // (regions 998 and 89), one for Kosovo (XK is not an ISO 3166-1 code) and KOICA's
  // activity without any recipient.
  CHECK(r.result.counts.skipped == 5);
  std::size_t no_country = 0;
  for (const auto& i : r.result.issues)
    if (i.skipped) {
      CHECK(i.reason.find("recipient-country") != std::string::npos);
      CHECK(i.reason.find("--country ISO3") != std::string::npos);
      ++no_country;
    }
  CHECK(no_country == 5);
  CHECK(r.issues_with("(only recipient-region 998)").size() == 1);
  CHECK(r.issues_with("recipient-country code \"XK\" is not an ISO 3166-1 alpha-2 code").size() == 1);
  CHECK(r.result.counts.emitted == r.envelopes.size());
  CHECK(r.envelopes.size() >= 104);
  for (const auto& bytes : r.envelopes) {
    auto check = schema::check_envelope(bytes);
    REQUIRE(check.reason == schema::Reason::ok);
    CHECK(check.envelope->entity() == schema::Entity::development);
    CHECK(check.envelope->classification() == schema::Classification::public_);
  }
}

TEST_CASE("the UNDP Zambia output carries its principal gender marker and its USD 200,000 budget",
          "[development][iati]") {
  const auto* e = dportal_import().by_record("XM-DAC-41114-OUTPUT-00126386");
  const auto* p = programme(e);
  CHECK(e->country()->str() == "ZMB");
  REQUIRE(e->gender() != nullptr);
  CHECK(e->gender()->scheme() == schema::GenderScheme::iati_dac);
  CHECK(e->gender()->raw()->str() == "2");
  CHECK(e->gender()->level() == schema::GenderLevel::principal);
  CHECK(amount_in(p->budgets(), "USD") == Approx(200000));
  CHECK(p->budgets()->size() == 1);
  // The incoming commitment (type 11) repeats the outgoing one (type 2): counted once.
  CHECK(amount_in(p->commitments(), "USD") == Approx(200000));
  CHECK(p->hierarchy() == 2);
  CHECK(p->parent_ref()->str() == "XM-DAC-41114-PROJECT-00134929");
  CHECK(e->correlation_id()->str() == "XM-DAC-41114-PROJECT-00134929");
  CHECK(p->status() == schema::ActivityStatus::active);
  CHECK(p->iati_status_code() == 2);
  CHECK(date_of(p->planned_start()) == "2021-03-15");
  CHECK(date_of(p->planned_end()) == "2022-02-28");
  CHECK(p->reporting_org()->ref()->str() == "XM-DAC-41114");
  CHECK(has_org(p, "XM-DAC-41114", "implementing"));
}

TEST_CASE("the Liberia project funded by the Peacebuilding Fund is mapped with its funders, dates and flags",
          "[development][iati]") {
  const auto* e = dportal_import().by_record("XM-DAC-41114-PROJECT-00126829");
  const auto* p = programme(e);
  CHECK(e->country()->str() == "LBR");
  CHECK(p->title()->str() == "Support Liberia COVID-19 Preparedness and Response");
  CHECK(p->status() == schema::ActivityStatus::active);
  CHECK(date_of(e->period()->start()) == "2020-04-01");
  CHECK(date_of(e->period()->end()) == "2021-06-30");
  CHECK(e->period()->precision() == schema::PeriodPrecision::day);
  CHECK(p->humanitarian());
  CHECK(has_org(p, "11363", "funding"));
  REQUIRE(p->sectors() != nullptr);
  CHECK(p->sectors()->Get(0)->vocabulary()->str() == "1");
  CHECK(p->sectors()->Get(0)->code()->str() == "99810");
  CHECK(p->sectors()->Get(0)->percentage() == Approx(100));
  REQUIRE(p->recipient_countries() != nullptr);
  CHECK(p->recipient_countries()->Get(0)->code()->str() == "LR");
  CHECK(p->budgets() == nullptr);  // UNDP projects carry no budget; their outputs do
  CHECK(e->gender() == nullptr);
  CHECK(e->source_revision()->str() == "2021-05-24T14:50:54");
}

TEST_CASE("the Fiji output carries its significant gender marker, budget and GLIDE scope",
          "[development][iati]") {
  const auto* e = dportal_import().by_record("XM-DAC-41114-OUTPUT-00126732");
  const auto* p = programme(e);
  CHECK(e->country()->str() == "FJI");
  CHECK(e->gender()->level() == schema::GenderLevel::significant);
  CHECK(e->gender()->raw()->str() == "1");
  CHECK(amount_in(p->budgets(), "USD") == Approx(140899));
  REQUIRE(p->humanitarian_scope() != nullptr);
  CHECK(p->humanitarian_scope()->Get(0)->str() == "EP-2020-000012-001");
  CHECK(has_org(p, "12994", "funding"));
  REQUIRE(p->sdg_targets() != nullptr);
  CHECK(p->sdg_targets()->size() == 1);  // 17.16 as sector vocabulary 8 and tag vocabulary 3
  CHECK(p->sdg_targets()->Get(0)->str() == "17.16");
}

TEST_CASE("the Central African Republic project keeps its two sectors at 50 % and its SDG target",
          "[development][iati]") {
  const auto* e = dportal_import().by_record("XM-DAC-41114-PROJECT-00127135");
  const auto* p = programme(e);
  CHECK(e->country()->str() == "CAF");
  int dac = 0;
  for (const auto* s : *p->sectors()) {
    if (s->vocabulary()->str() != "1") continue;
    ++dac;
    CHECK((s->code()->str() == "51010" || s->code()->str() == "73010"));
    CHECK(s->percentage() == Approx(50));
  }
  CHECK(dac == 2);
  REQUIRE(p->sdg_targets() != nullptr);
  CHECK(p->sdg_targets()->size() == 1);
  CHECK(p->sdg_targets()->Get(0)->str() == "1.5");
  CHECK(p->budgets() == nullptr);
  CHECK(p->sector_family()->str() == "recovery");
}

TEST_CASE("the UNDP Lebanon project keeps its DAC sector, its two SDG targets and its dates",
          "[development][iati]") {
  const auto* e = dportal_import().by_record("XM-DAC-41114-PROJECT-00126375");
  const auto* p = programme(e);
  CHECK(e->country()->str() == "LBN");
  CHECK(p->title()->str() == "COVID-19 and Beirut Blast Engagement");
  CHECK(p->reporting_org()->ref()->str() == "XM-DAC-41114");
  CHECK(p->status() == schema::ActivityStatus::active);
  CHECK(p->iati_status_code() == 2);
  CHECK(p->hierarchy() == 1);
  CHECK(p->humanitarian());
  CHECK(date_of(p->planned_start()) == "2020-03-09");
  CHECK(date_of(p->actual_start()) == "2020-03-09");
  CHECK(date_of(p->planned_end()) == "2022-07-14");
  CHECK(p->actual_end() == 0);
  CHECK(date_of(e->period()->start()) == "2020-03-09");
  CHECK(date_of(e->period()->end()) == "2022-07-14");
  REQUIRE(p->recipient_countries() != nullptr);
  CHECK(p->recipient_countries()->size() == 1);
  CHECK(p->recipient_countries()->Get(0)->code()->str() == "LB");
  CHECK(p->recipient_countries()->Get(0)->percentage() == Approx(100));
  // Sectors as published: SDG targets 16.6 and 16.7 (vocabulary 8, 50 % each) and DAC
  // 73010 (vocabulary 1, 100 %).
  REQUIRE(p->sectors() != nullptr);
  REQUIRE(p->sectors()->size() == 3);
  CHECK(p->sectors()->Get(0)->vocabulary()->str() == "8");
  CHECK(p->sectors()->Get(0)->code()->str() == "16.6");
  CHECK(p->sectors()->Get(0)->percentage() == Approx(50));
  CHECK(p->sectors()->Get(1)->code()->str() == "16.7");
  CHECK(p->sectors()->Get(2)->vocabulary()->str() == "1");
  CHECK(p->sectors()->Get(2)->code()->str() == "73010");
  CHECK(p->sectors()->Get(2)->percentage() == Approx(100));
  CHECK(p->sector_family()->str() == "recovery");
  // The same two targets are also tags of vocabulary 3: listed once each.
  REQUIRE(p->sdg_targets() != nullptr);
  REQUIRE(p->sdg_targets()->size() == 2);
  CHECK(p->sdg_targets()->Get(0)->str() == "16.6");
  CHECK(p->sdg_targets()->Get(1)->str() == "16.7");
  CHECK(p->sdg_goals() == nullptr);  // the record gives no goal, and none is derived
  CHECK(has_org(p, "GB-GOV-1", "funding"));
  CHECK(has_org(p, "XM-DAC-41114", "implementing"));
  CHECK(p->budgets() == nullptr);  // a UNDP project: budgets are on its outputs
  CHECK(p->parent_ref() == nullptr);  // related-activity type 2 are its children
  CHECK(e->correlation_id()->str() == "XM-DAC-41114-PROJECT-00126375");
  CHECK(e->gender() == nullptr);
  CHECK(e->source_revision()->str() == "2021-05-24T14:50:54");
}

TEST_CASE("the ABAAD activity in Lebanon carries its women's rights sector, gender marker, budget and spending",
          "[development][iati]") {
  const auto& r = dportal_import();
  const auto* e = r.by_record("LB-MOI-497-XM-DAC-7-PPR-4000003882");
  const auto* p = programme(e);
  CHECK(e->country()->str() == "LBN");
  CHECK(p->title()->str() == "NASEEJ 2- Improving prospects for refugees and vulnerable host communities");
  REQUIRE(p->reporting_org() != nullptr);
  CHECK(p->reporting_org()->ref()->str() == "LB-MOI-497");
  CHECK(p->reporting_org()->name()->str() == "ABAAD- Resource Center for Gender Equality");
  CHECK(p->reporting_org()->type()->str() == "22");
  CHECK(has_org(p, "LB-MOI-497", "implementing"));
  CHECK(has_org(p, "XM-DAC-7", "funding"));
  CHECK(p->status() == schema::ActivityStatus::closed);
  CHECK(p->iati_status_code() == 4);
  CHECK(date_of(e->period()->start()) == "2020-06-01");
  CHECK(date_of(e->period()->end()) == "2020-11-30");
  REQUIRE(p->sectors() != nullptr);
  REQUIRE(p->sectors()->size() == 1);
  CHECK(p->sectors()->Get(0)->code()->str() == "15170");
  CHECK(p->sectors()->Get(0)->vocabulary()->str() == "1");
  CHECK(p->sector_family()->str() == "wps");
  REQUIRE(e->gender() != nullptr);
  CHECK(e->gender()->scheme() == schema::GenderScheme::iati_dac);
  CHECK(e->gender()->raw()->str() == "1");
  CHECK(e->gender()->level() == schema::GenderLevel::significant);
  CHECK(amount_in(p->budgets(), "USD") == Approx(1124366));
  CHECK(amount_in(p->disbursements(), "USD") == Approx(1112742.39948867));  // one expenditure (type 4)
  CHECK(p->commitments() == nullptr);
  CHECK(p->humanitarian());
  CHECK(p->hierarchy() == 1);
  // Its 8 result elements are not mapped (MAPPING.md) and raise nothing: no remark on
  // any line of the activity.
  const std::size_t first = line_of_first(fixture(dportal), "<iati-identifier>LB-MOI-497-XM-DAC-7-PPR-4000003882<") - 1;
  std::ifstream in(fixture(dportal));
  std::string text;
  std::size_t n = 0, last = 0, results = 0;
  while (std::getline(in, text) && last == 0) {
    if (++n < first) continue;
    if (text.find("<result ") != std::string::npos) ++results;
    if (text.find("</iati-activity>") != std::string::npos) last = n;
  }
  CHECK(results == 8);
  REQUIRE(last > first);
  for (const auto& i : r.result.issues) CHECK_FALSE((i.line >= first && i.line <= last));
}

TEST_CASE("a KOICA location whose name is empty is left out with a warning on its line", "[development][iati]") {
  const auto& r = dportal_import();
  const auto* e = r.by_record("KR-GOV-390-GRP_0000147815");
  REQUIRE(e != nullptr);
  // Nothing is invented for it: no admin area, no point, no place name.
  if (e->geo() != nullptr) {
    CHECK((e->geo()->admin_areas() == nullptr || e->geo()->admin_areas()->size() == 0));
    CHECK(e->geo()->points() == nullptr);
    CHECK((e->geo()->place_name() == nullptr || e->geo()->place_name()->str().empty()));
  }
  // The <location> of that activity: the first one after its identifier.
  std::ifstream in(fixture(dportal));
  std::string text;
  std::size_t n = 0, location_line = 0;
  bool inside = false;
  while (std::getline(in, text) && location_line == 0) {
    ++n;
    if (text.find("<iati-identifier>KR-GOV-390-GRP_0000147815<") != std::string::npos) inside = true;
    if (inside && text.find("<location>") != std::string::npos) location_line = n;
  }
  REQUIRE(location_line > 0);
  auto left_out = r.issues_with("location has no name, point or administrative code; left out");
  auto on_line = std::count_if(left_out.begin(), left_out.end(), [&](const auto& i) { return i.line == location_line; });
  CHECK(on_line == 1);
  for (const auto& i : left_out) CHECK_FALSE(i.skipped);
}

TEST_CASE("Terre des hommes' two spellings of its own ref are kept as published and reported",
          "[development][iati]") {
  const auto& r = dportal_import();
  // Reports as CH-FDJP-CHE106823242, takes part as CH-FDJP-CHE-106823242.
  const auto* a = r.by_record("CH-FDJP-CHE106823242-2019723a");
  const auto* pa = programme(a);
  CHECK(a->country()->str() == "IRQ");
  CHECK(pa->reporting_org()->ref()->str() == "CH-FDJP-CHE106823242");
  CHECK(has_org(pa, "CH-FDJP-CHE-106823242", "accountable"));
  CHECK(has_org(pa, "CH-FDJP-CHE-106823242", "implementing"));
  CHECK(has_org(pa, "XM-DAC-7", "funding"));
  // Its identifier even uses the other spelling: kept, it is the record's own id.
  const auto* b = r.by_record("CH-FDJP-CHE-106823242-20119723b");
  const auto* pb = programme(b);
  CHECK(pb->iati_identifier()->str() == "CH-FDJP-CHE-106823242-20119723b");
  CHECK(pb->reporting_org()->ref()->str() == "CH-FDJP-CHE106823242");

  auto spelt = r.issues_with("reporting-org ref \"CH-FDJP-CHE106823242\" is written \"CH-FDJP-CHE-106823242\"");
  REQUIRE(spelt.size() == 2);
  CHECK(spelt[0].line == line_of_first(fixture(dportal), "<iati-identifier>CH-FDJP-CHE106823242-2019723a<") - 1);
  CHECK(spelt[0].reason.find("in participating-org (") != std::string::npos);
  CHECK(spelt[1].line == line_of_first(fixture(dportal), "<iati-identifier>CH-FDJP-CHE-106823242-20119723b<") - 1);
  CHECK(spelt[1].reason.find("in participating-org and iati-identifier") != std::string::npos);
  for (const auto& i : spelt) CHECK_FALSE(i.skipped);
  // The other publishers spell their refs one way: no such remark for them.
  CHECK(r.issues_with("spelt differently").size() == 2);
}

TEST_CASE("SDG goals (tag vocabulary 2) are kept beside the targets", "[development][iati][sdg]") {
  // Terre des hommes tags its Iraq activity with goal 16 and gives no target.
  const auto* e = dportal_import().by_record("CH-FDJP-CHE106823242-2019723a");
  const auto* p = programme(e);
  REQUIRE(p->sdg_goals() != nullptr);
  REQUIRE(p->sdg_goals()->size() == 1);
  CHECK(p->sdg_goals()->Get(0)->str() == "16");
  CHECK(p->sdg_targets() == nullptr);
  // "Iraq" as a location is the whole country: no admin area.
  CHECK((e->geo() == nullptr || e->geo()->admin_areas() == nullptr));

  // Goals as sector vocabulary 7, beside a target, de-duplicated.
  adapters::iati::activity a;
  auto share = [](std::string vocabulary, std::string code) {
    adapters::iati::coded_share c;
    c.vocabulary = std::move(vocabulary);
    c.code = std::move(code);
    return c;
  };
  a.sectors = {share("7", "5"), share("8", "5.2"), share("1", "15170")};
  a.tags = {share("2", "5"), share("2", "16"), share("3", "5.2")};
  CHECK(adapters::iati::sdg_goals_of(a) == std::vector<std::string>{"5", "16"});
  CHECK(adapters::iati::sdg_targets_of(a) == std::vector<std::string>{"5.2"});
}

TEST_CASE("an IATI 2.01 file is read like a 2.03 one", "[development][iati][versions]") {
  // tests/development/data/README.md: the Liberia project, cut into a 2.01 file.
  auto r = import_with(adapters::iati::development_adapter(),
                       std::filesystem::path(HUB_SOURCE_DIR) / "tests/development/data/undp-liberia-2.01.xml");
  REQUIRE(r.result.refused.is_ok());
  CHECK(r.result.counts.read == 1);
  CHECK(r.result.counts.skipped == 0);
  CHECK(r.result.counts.warnings == 0);  // 2.01 is supported: no "read as 2.03" remark
  REQUIRE(r.envelopes.size() == 1);
  const auto* e = r.by_record("XM-DAC-41114-PROJECT-00126829");
  const auto* p = programme(e);
  CHECK(e->country()->str() == "LBR");
  CHECK(p->title()->str() == "Support Liberia COVID-19 Preparedness and Response");
  CHECK(date_of(e->period()->start()) == "2020-04-01");
  CHECK(date_of(e->period()->end()) == "2021-06-30");
  CHECK(has_org(p, "11363", "funding"));
  CHECK_FALSE(p->humanitarian());  // the attribute came with 2.02
  // Same record id and revision as in the 2.03 file: the same event id.
  const auto* same = dportal_import().by_record("XM-DAC-41114-PROJECT-00126829");
  REQUIRE(same != nullptr);
  CHECK(schema::id_to_hex(*e->id()) == schema::id_to_hex(*same->id()));
}

TEST_CASE("sector shares of 33.33 three times are kept as published", "[development][iati]") {
  const auto* e = dportal_import().by_record("XM-DAC-41114-PROJECT-00126893");
  const auto* p = programme(e);
  CHECK(e->country()->str() == "SOM");
  std::vector<float> thirds;  // DAC sectors 15131, 15151, 99810
  for (const auto* s : *p->sectors())
    if (s->vocabulary()->str() == "1") thirds.push_back(s->percentage());
  REQUIRE(thirds.size() == 3);
  for (float t : thirds) CHECK(t == Approx(33.33));
}

TEST_CASE("the KOICA activity whose planned end precedes its start is imported with a warning",
          "[development][iati]") {
  const auto& r = dportal_import();
  const auto* e = r.by_record("KR-GOV-390-GRP_0000147815");
  const auto* p = programme(e);
  CHECK(e->country()->str() == "MMR");
  CHECK(date_of(p->planned_start()) == "2020-05-22");
  CHECK(date_of(p->planned_end()) == "2019-10-31");  // as published
  CHECK(e->period()->end() == 0);                     // the period is left open rather than inverted
  auto issues = r.issues_with("planned end 2019-10-31 is before planned start 2020-05-22");
  REQUIRE(issues.size() == 1);
  CHECK_FALSE(issues[0].skipped);
  CHECK(issues[0].line > 0);
  CHECK(amount_in(p->budgets(), "KRW") > 0);
}

TEST_CASE("an activity with no recipient-country is skipped with its line unless a country is given",
          "[development][iati]") {
  const auto& r = dportal_import();
  CHECK(r.by_record("KR-GOV-320-GRP_0000142871") == nullptr);
  auto issues = r.issues_with("KR-GOV-320-GRP_0000142871: no recipient-country");
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].skipped);
  CHECK(issues[0].line > 1);
  CHECK(issues[0].to_string().find("--country") != std::string::npos);

  auto with_country = import_with(adapters::iati::development_adapter(), fixture(dportal), "KOR");
  const auto* e = with_country.by_record("KR-GOV-320-GRP_0000142871");
  REQUIRE(e != nullptr);
  CHECK(e->country()->str() == "KOR");
  CHECK(with_country.result.counts.skipped == 0);
}

TEST_CASE("a JPY-sized amount reported as USD is kept and reported as implausible", "[development][iati]") {
  const auto& r = dportal_import();
  CHECK(r.by_record("XM-DAC-701-2-2020003078") != nullptr);
  CHECK_FALSE(r.issues_with("USD 200000000000 is implausibly large").empty());
}

TEST_CASE("the annotated 2.03 example maps to one event per recipient country", "[development][iati]") {
  auto r = import_with(adapters::iati::development_adapter(),
                       fixture("iati/activity-standard-example-annotated-2.03.xml"));
  REQUIRE(r.result.refused.is_ok());
  CHECK(r.result.counts.read == 1);
  REQUIRE(r.envelopes.size() == 2);
  const auto* af = r.by_record("AA-AAA-123456789-ABC123@AFG");
  const auto* ag = r.by_record("AA-AAA-123456789-ABC123@ATG");
  REQUIRE(af != nullptr);
  REQUIRE(ag != nullptr);
  // The example names a parent activity (related-activity type 1): both events share it.
  CHECK(af->correlation_id()->str() == "AA-AAA-123456789-6789");
  CHECK(ag->correlation_id()->str() == "AA-AAA-123456789-6789");
  CHECK(schema::id_to_hex(*af->id()) != schema::id_to_hex(*ag->id()));
  const auto* p = programme(af);
  CHECK(p->iati_identifier()->str() == "AA-AAA-123456789-ABC123");
  CHECK(p->recipient_countries()->size() == 2);
  REQUIRE(p->recipient_regions() != nullptr);
  CHECK(p->recipient_regions()->size() == 2);
  CHECK(p->humanitarian());
  CHECK(p->hierarchy() == 1);
  CHECK(p->participating_orgs()->size() == 3);
  // No gender marker (code 1) in the example: none is invented.
  CHECK(af->gender() == nullptr);
  // The Kandahar location's point is kept.
  REQUIRE(af->geo() != nullptr);
  REQUIRE(af->geo()->points() != nullptr);
  CHECK(af->geo()->points()->Get(0)->lat() == Approx(31.616944));
  CHECK(af->geo()->points()->Get(0)->lon() == Approx(65.716944));
  REQUIRE(p->humanitarian_scope() != nullptr);
  CHECK(p->humanitarian_scope()->Get(0)->str() == "EQ-2015-000048-NPL");
  // <administrative vocabulary="G1" level="1" code="1453782"/>: a GeoNames code, not a
  // P-code (and Afghanistan is not in the P-code table): kept with its vocabulary on an
  // unresolved admin-1 area, for both locations that give it.
  const auto* areas = af->geo()->admin_areas();
  REQUIRE(areas != nullptr);
  REQUIRE(areas->size() == 2);
  for (const auto* a : *areas) {
    CHECK(a->level() == 1);
    CHECK(a->pcode() == nullptr);
    CHECK(a->resolution() == schema::GeoResolution::unresolved);
    REQUIRE(a->vocabulary() != nullptr);
    CHECK(a->vocabulary()->str() == "G1");
    REQUIRE(a->code() != nullptr);
    CHECK(a->code()->str() == "1453782");
  }
  CHECK(areas->Get(0)->name()->str() == "Location name");
  CHECK(areas->Get(1)->name()->str() == "Location #2 name");
  // The Antigua and Barbuda event carries the same places (the example does not say
  // which location is in which country).
  REQUIRE(ag->geo() != nullptr);
  REQUIRE(ag->geo()->admin_areas() != nullptr);
  CHECK(ag->geo()->admin_areas()->Get(0)->code()->str() == "1453782");
  // No SDG goal or target in the example (its tags are vocabularies 1 and 99).
  CHECK(p->sdg_goals() == nullptr);
  CHECK(p->sdg_targets() == nullptr);
}

TEST_CASE("importing the same file twice gives the same event ids", "[development][iati]") {
  auto again = import_with(adapters::iati::development_adapter(), fixture(dportal));
  const auto& first = dportal_import();
  REQUIRE(again.envelopes.size() == first.envelopes.size());
  std::set<std::string> ids;
  for (std::size_t i = 0; i < first.envelopes.size(); ++i) {
    const auto* a = schema::GetEnvelope(first.envelopes[i].data());
    const auto* b = schema::GetEnvelope(again.envelopes[i].data());
    CHECK(schema::id_to_hex(*a->id()) == schema::id_to_hex(*b->id()));
    ids.insert(schema::id_to_hex(*a->id()));
  }
  CHECK(ids.size() == first.envelopes.size());  // no two activities share an id
}

TEST_CASE("files that are not IATI 2.0x activity files are refused with a clear message",
          "[development][iati][invalid]") {
  auto def = adapters::iati::development_adapter();
  struct refusal {
    const char* file;
    const char* says;
  };
  const refusal cases[] = {
      {"iati/invalid/not-xml.xml", "not XML"},
      {"iati/invalid/xml-but-not-iati.xml", "the root element is <parent>, not <iati-activities>"},
      {"iati/invalid/missing-version-attribute-2.03.xml", "has no version attribute"},
      {"iati/invalid/unsupported-version-1.05-location.xml", "IATI 1.0x"},
  };
  for (const auto& c : cases) {
    SECTION(c.file) {
      auto r = import_with(def, fixture(c.file));
      REQUIRE_FALSE(r.result.refused.is_ok());
      INFO(r.result.refused.message());
      CHECK(r.result.refused.message().find(c.says) != std::string::npos);
      CHECK(r.result.refused.message().find(c.file) != std::string::npos);
      CHECK(r.envelopes.empty());
    }
  }
}

TEST_CASE("invalid activities are reported with file and line and nothing is published for them",
          "[development][iati][invalid]") {
  auto def = adapters::iati::development_adapter();
  SECTION("placeholder identifiers, versions and codes") {
    for (const char* f : {"iati/invalid/location-point-without-pos-2.03.xml",
                          "iati/invalid/budget-non-decimal-value-2.03.xml",
                          "iati/invalid/policy-marker-missing-code-2.03.xml",
                          "iati/invalid/leading-whitespace-before-xml-declaration.xml"}) {
      INFO(f);
      auto r = import_with(def, fixture(f));
      REQUIRE(r.result.refused.is_ok());
      CHECK(r.result.counts.read == 1);
      CHECK(r.result.counts.skipped == 1);
      CHECK(r.envelopes.empty());
      auto issues = r.issues_with("empty iati-identifier");
      REQUIRE(issues.size() == 1);
      const std::size_t line = line_of_first(fixture(f), "<iati-activity>");
      CHECK(issues[0].line == line);
      CHECK(issues[0].to_string().find(fixture(f).string() + ":" + std::to_string(line) + ":") == 0);
    }
  }
  SECTION("white space before the XML declaration is read, with a remark") {
    auto r = import_with(def, fixture("iati/invalid/leading-whitespace-before-xml-declaration.xml"));
    CHECK_FALSE(r.issues_with("white space before the XML declaration").empty());
  }
  SECTION("rule-invalid but identifiable activities are published with warnings where the data is odd") {
    const auto pct_file = fixture("iati/invalid/country-percentages-not-100-2.02.xml");
    auto pct = import_with(def, pct_file);
    REQUIRE(pct.result.refused.is_ok());
    CHECK(pct.result.counts.skipped == 0);
    CHECK(pct.envelopes.size() == 2);  // AF and AX
    // recipient-country AF 125 % + AX 75 %: the 125 is no share, and the total is not 100.
    auto over = pct.issues_with("<recipient-country code=\"AF\"> percentage \"125\" is not a number from 0 to 100; share left out");
    REQUIRE(over.size() == 1);
    CHECK_FALSE(over[0].skipped);
    CHECK(over[0].line == line_of_first(pct_file, "percentage=\"125\""));
    auto total = pct.issues_with("recipient-country percentages add up to 200 (125 + 75), not 100; shares kept as published");
    REQUIRE(total.size() == 1);
    CHECK(total[0].line == line_of_first(pct_file, "<iati-activity>"));
    const auto* af = pct.by_record("AA-AAA-123456789-ABC123@AFG");
    REQUIRE(af != nullptr);
    const auto* shares = programme(af)->recipient_countries();
    REQUIRE(shares != nullptr);
    CHECK(shares->Get(0)->percentage() == -1);  // left out, not clamped
    CHECK(shares->Get(1)->percentage() == Approx(75));
    auto order = import_with(def, fixture("iati/invalid/bad-date-order-2.02.xml"));
    REQUIRE(order.result.refused.is_ok());
    CHECK(order.envelopes.size() == 2);  // AF and AX
    auto before = order.issues_with("planned end 2016-01-01 is before planned start 2016-09-04");
    REQUIRE(before.size() == 1);
    CHECK(before[0].line == 4);
  }
  SECTION("every element with placeholder values") {
    const auto file = fixture("iati/invalid/placeholder-values-every-element.xml");
    auto r = import_with(def, file);
    REQUIRE(r.result.refused.is_ok());
    CHECK(r.result.counts.read == 2);  // the same placeholder activity twice
    CHECK(r.result.counts.read == r.result.counts.skipped + r.result.counts.emitted);
    INFO(r.result.issues.size());
    for (const auto& i : r.result.issues) UNSCOPED_INFO(i.to_string());
    // Each placeholder is named, field by field, on its own line.
    const std::size_t activity_line = line_of_first(file, "<iati-activity ");
    auto one = [&](const std::string& says, std::size_t line) {
      auto found = r.issues_with(says);
      CAPTURE(says);
      REQUIRE(found.size() >= 1);
      CHECK(found[0].line == line);
    };
    one("version \"TEXT\"", line_of_first(file, "<iati-activities "));
    one("hierarchy \"-1\" is not a level from 1 up; left out", activity_line);
    one("activity-date type \"TEXT\" is not 1-4", line_of_first(file, "<activity-date "));
    one("point pos \"text\" is not \"latitude longitude\" in degrees; point left out", line_of_first(file, "<point "));
    one("recipient-country code \"TEXT\" is not an ISO 3166-1 alpha-2 code", line_of_first(file, "<recipient-country "));
    // With no country it can be filed under, each activity is skipped with the reason,
    // on its own line.
    CHECK(r.result.counts.skipped == 2);
    CHECK(r.envelopes.empty());
    auto skipped = r.issues_with("text: no recipient-country with a known code (only recipient-region TEXT)");
    REQUIRE(skipped.size() == 2);
    CHECK(skipped[0].skipped);
    CHECK(skipped[0].line == activity_line);
    CHECK(skipped[1].skipped);
    CHECK(skipped[1].line > activity_line);
    CHECK(r.issues_with("hierarchy \"-1\" is not a level from 1 up").size() == 2);
  }
}

TEST_CASE("schema-shaped files with empty identifiers are read and each activity is skipped with a reason",
          "[development][iati][invalid]") {
  auto def = adapters::iati::development_adapter();
  for (const char* f : {"location-two-administrative-2.03.xml", "policy-marker-2.03.xml", "sector-2.03.xml",
                        "tag-multiple-2.03.xml", "humanitarian-scope-2.03.xml", "results-2.03.xml"}) {
    INFO(f);
    auto r = import_with(def, fixture(std::string("iati/schema-shape/") + f));
    REQUIRE(r.result.refused.is_ok());
    CHECK(r.result.counts.read >= 1);
    CHECK(r.result.counts.skipped == r.result.counts.read);
    CHECK(r.envelopes.empty());
    CHECK(r.issues_with("empty iati-identifier").size() == r.result.counts.read);
    CHECK_FALSE(r.issues_with("version \"xx\"").empty());
  }
}

TEST_CASE("locations are resolved to P-codes by code or by name, and the rest kept unresolved",
          "[development][iati][geo]") {
  test::temp_dir dir("iati-geo");
  std::ofstream(dir / "geo.xml") << R"(<iati-activities version="2.03">
 <iati-activity last-updated-datetime="2024-01-01T00:00:00">
  <iati-identifier>XM-TEST-GEO-1</iati-identifier>
  <activity-status code="2"/>
  <recipient-country code="LB" percentage="100"/>
  <location><name><narrative>Sour</narrative></name>
   <point srsName="http://www.opengis.net/def/crs/EPSG/0/4326"><pos>33.27 35.20</pos></point>
   <exactness code="1"/></location>
  <location><name><narrative>Lebanon</narrative></name></location>
  <location><name><narrative>Somewhere unknown</narrative></name></location>
 </iati-activity>
 <iati-activity last-updated-datetime="2024-01-01T00:00:00">
  <iati-identifier>XM-TEST-GEO-2</iati-identifier>
  <recipient-country code="SS"/>
  <location><administrative vocabulary="99" level="1" code="SS01"/></location>
 </iati-activity>
</iati-activities>
)";
  auto r = import_with(adapters::iati::development_adapter(), dir / "geo.xml");
  REQUIRE(r.result.refused.is_ok());
  REQUIRE(r.envelopes.size() == 2);

  const auto* lb = r.by_record("XM-TEST-GEO-1");
  REQUIRE(lb != nullptr);
  REQUIRE(lb->geo() != nullptr);
  const auto* areas = lb->geo()->admin_areas();
  REQUIRE(areas != nullptr);
  // Sour (LB63) by name, preceded by its parent South (LB6); "Lebanon" is the whole
  // country and adds no area; the unknown place is kept, unresolved.
  REQUIRE(areas->size() == 3);
  CHECK(areas->Get(0)->pcode()->str() == "LB6");
  CHECK(areas->Get(0)->level() == 1);
  CHECK(areas->Get(1)->pcode()->str() == "LB63");
  CHECK(areas->Get(1)->level() == 2);
  CHECK(areas->Get(1)->resolution() == schema::GeoResolution::name_match);
  CHECK(areas->Get(2)->pcode() == nullptr);
  CHECK(areas->Get(2)->name()->str() == "Somewhere unknown");
  CHECK(areas->Get(2)->resolution() == schema::GeoResolution::unresolved);
  REQUIRE(lb->geo()->points() != nullptr);
  CHECK(lb->geo()->points()->Get(0)->lat() == Approx(33.27));
  CHECK(lb->geo()->points()->Get(0)->exact());
  CHECK(lb->geo()->place_name()->str() == "Sour");

  const auto* ss = r.by_record("XM-TEST-GEO-2");
  REQUIRE(ss != nullptr);
  REQUIRE(ss->geo() != nullptr);
  REQUIRE(ss->geo()->admin_areas() != nullptr);
  CHECK(ss->geo()->admin_areas()->Get(0)->pcode()->str() == "SS01");
  CHECK(ss->geo()->admin_areas()->Get(0)->resolution() == schema::GeoResolution::exact);
  // No activity-status: imported, status unknown, with a warning on its line.
  CHECK(programme(ss)->status() == schema::ActivityStatus::unknown);
  CHECK(r.issues_with("no activity-status").size() == 1);
}

TEST_CASE("revised budgets supersede original ones for the same period and totals are kept per currency",
          "[development][iati][money]") {
  adapters::iati::activity a;
  auto line = [](std::string type, std::string start, std::string end, std::string currency, double v) {
    adapters::iati::money_line m;
    m.type = std::move(type);
    m.period_start = std::move(start);
    m.period_end = std::move(end);
    m.currency = std::move(currency);
    m.value = v;
    return m;
  };
  a.budgets = {line("1", "2024-01-01", "2024-12-31", "USD", 100),
               line("2", "2024-01-01", "2024-12-31", "USD", 150),  // revises the 2024 budget
               line("1", "2025-01-01", "2025-12-31", "USD", 200),  // no revision: counts
               line("1", "2024-01-01", "2024-12-31", "EUR", 70)};  // same period, revised in USD only
  auto totals = adapters::iati::budget_totals(a);
  CHECK(totals.size() == 1);
  CHECK(totals["USD"] == Approx(350));
  CHECK(totals.count("EUR") == 0);

  a.transactions = {line("2", "2024-02-01", "", "USD", 10), line("2", "2024-03-01", "", "KRW", 1000),
                    line("3", "2024-04-01", "", "USD", 4), line("4", "2024-05-01", "", "USD", 5),
                    line("1", "2024-01-01", "", "USD", 99)};
  auto commitments = adapters::iati::transaction_totals(a, {"2"});
  CHECK(commitments["USD"] == Approx(10));
  CHECK(commitments["KRW"] == Approx(1000));
  auto spent = adapters::iati::transaction_totals(a, {"3", "4"});
  CHECK(spent.size() == 1);
  CHECK(spent["USD"] == Approx(9));
}
