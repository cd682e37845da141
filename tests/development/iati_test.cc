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
    auto pct = import_with(def, fixture("iati/invalid/country-percentages-not-100-2.02.xml"));
    REQUIRE(pct.result.refused.is_ok());
    CHECK(pct.result.counts.skipped == 0);
    CHECK_FALSE(pct.envelopes.empty());
    auto order = import_with(def, fixture("iati/invalid/bad-date-order-2.02.xml"));
    REQUIRE(order.result.refused.is_ok());
    CHECK(order.envelopes.size() == 2);  // AF and AX
    auto before = order.issues_with("planned end 2016-01-01 is before planned start 2016-09-04");
    REQUIRE(before.size() == 1);
    CHECK(before[0].line == 4);
  }
  SECTION("every element with placeholder values") {
    auto r = import_with(def, fixture("iati/invalid/placeholder-values-every-element.xml"));
    REQUIRE(r.result.refused.is_ok());
    CHECK(r.result.counts.read >= 1);
    CHECK(r.result.counts.read == r.result.counts.skipped + r.result.counts.emitted);
    CHECK(r.result.counts.warnings > 0);
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
