#include <catch2/catch.hpp>

#include "adapters/country_team/country_team.h"
#include "tests/adapters_common/import_helpers.h"

using namespace hub;
using hub::test::str;

namespace {

const adapters::adapter_definition& def() { return adapters::country_team::definition(); }

// The first event whose organisation name and admin2 P-code match.
const schema::Envelope* find(const test::imported& im, const std::string& org, const std::string& adm2) {
  for (std::size_t i = 0; i < im.events.size(); ++i) {
    auto* e = im.event(i);
    auto* p = e->payload_as_CountryTeamActivity();
    if (!p || str(p->org()->name()) != org) continue;
    auto* areas = e->geo() ? e->geo()->admin_areas() : nullptr;
    if (areas && areas->size() == 2 && str(areas->Get(1)->pcode()) == adm2) return e;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("the first August row of the Lebanon 3W keeps its organisation and sector and P-codes", "[country_team][fixtures]") {
  auto im = test::import_default(def(), test::fixture("hxl/lbn-3w-2024-08.csv"));
  REQUIRE(im.result.refused.is_ok());
  REQUIRE_FALSE(im.events.empty());
  CHECK(im.result.counts.read == 327);
  auto* e = im.event(0);
  CHECK(str(e->country()) == "LBN");
  CHECK(e->entity() == schema::Entity::country_team);
  CHECK(e->classification() == schema::Classification::public_);
  auto* p = e->payload_as_CountryTeamActivity();
  REQUIRE(p);
  CHECK(str(p->org()->name()) == "Nusaned - Sawa blessed - WCK");
  CHECK(str(p->sector()->name()) == "Food Security");
  CHECK(str(p->activity()) == "In Kind Food Assistance: Meals (Quantity)");
  CHECK(str(p->report_month()) == "2024-08");
  CHECK(p->status() == schema::ActivityStatus::active);
  CHECK(str(p->sector_family()) == "food_security");
  auto* areas = e->geo()->admin_areas();
  REQUIRE(areas->size() == 2);
  CHECK(str(areas->Get(0)->pcode()) == "LB6");
  CHECK(areas->Get(0)->resolution() == schema::GeoResolution::exact);
  CHECK(str(areas->Get(1)->pcode()) == "LB63");
  CHECK(str(areas->Get(1)->name()) == "Sour");
  CHECK(e->period()->start() == adapters::days_to_ms(2024, 8, 1));
  CHECK(e->period()->precision() == schema::PeriodPrecision::month);
}

TEST_CASE("UN rows of the July 3W carry the organisation type and clean activity text", "[country_team][fixtures]") {
  auto im = test::import_default(def(), test::fixture("hxl/lbn-3w-2024-07.csv"));
  REQUIRE(im.result.refused.is_ok());
  auto* e = find(im, "World Food Programme", "LB21");
  REQUIRE(e);
  auto* p = e->payload_as_CountryTeamActivity();
  CHECK(str(p->org()->ref()) == "WFP");
  CHECK(str(p->org()->type()) == "UN");
  CHECK(str(e->geo()->admin_areas()->Get(0)->pcode()) == "LB8");
  CHECK(str(p->activity()).find("\xE2\x80\x8B") == std::string::npos);
  CHECK(str(p->report_month()) == "2024-07");
}

TEST_CASE("an admin2 reported under another admin1 is kept and reported with both codes", "[country_team][fixtures]") {
  auto im = test::import_default(def(), test::fixture("hxl/lbn-3w-2024-07.csv"));
  REQUIRE(im.result.refused.is_ok());
  CHECK_THAT(im.issues_text(), Catch::Contains("lbn-3w-2024-07.csv:99: warning: admin2 LB11 (Beirut) belongs to LB1") &&
                                   Catch::Contains("not to LB3"));
}

TEST_CASE("identical rows in one 3W are imported once and the repeats reported with their lines", "[country_team][fixtures]") {
  auto im = test::import_default(def(), test::fixture("hxl/lbn-3w-2024-08.csv"));
  CHECK_THAT(im.issues_text(), Catch::Contains("lbn-3w-2024-08.csv:91: same organisation, sector, activity, place and period as line 84"));
  CHECK(im.result.counts.emitted + im.result.counts.skipped == im.result.counts.read);
}

TEST_CASE("importing the same 3W twice produces the same event ids", "[country_team][dedup]") {
  auto a = test::import_default(def(), test::fixture("hxl/lbn-3w-2024-08.csv"));
  auto b = test::import_default(def(), test::fixture("hxl/lbn-3w-2024-08.csv"));
  REQUIRE(a.events.size() == b.events.size());
  std::set<std::string> ids;
  for (std::size_t i = 0; i < a.events.size(); ++i) {
    CHECK(schema::id_to_hex(*a.event(i)->id()) == schema::id_to_hex(*b.event(i)->id()));
    ids.insert(schema::id_to_hex(*a.event(i)->id()));
  }
  CHECK(ids.size() == a.events.size());
}

TEST_CASE("the 2014 legacy 3W is read through its underscore hashtags", "[country_team][fixtures][hxl]") {
  auto im = test::import_default(def(), test::fixture("hxl/rowca-3w-2014-legacy-hxl.csv"));
  REQUIRE(im.result.refused.is_ok());
  REQUIRE_FALSE(im.events.empty());
  auto* e = im.event(0);
  CHECK(str(e->country()) == "MLI");
  auto* p = e->payload_as_CountryTeamActivity();
  CHECK(str(p->org()->name()) == "United Nations Children's Fund");
  CHECK(str(p->sector()->name()) == "Education");
  CHECK(str(p->activity()) == "Distribution of educational materials for teachers");
  auto* a1 = e->geo()->admin_areas()->Get(0);
  CHECK(str(a1->pcode()) == "ML03");
  CHECK(a1->resolution() == schema::GeoResolution::name_match);
  CHECK_THAT(str(e->source_record_id()), Catch::Contains("|244|"));
}

TEST_CASE("every libhxl edge case is refused or imported with its remarks and never crashes", "[country_team][hxl]") {
  SECTION("no hashtag row at all is refused") {
    auto im = test::import_default(def(), test::fixture("hxl/libhxl/input-untagged.csv"));
    REQUIRE_FALSE(im.result.refused.is_ok());
    CHECK_THAT(im.result.refused.message(), Catch::Contains("not an HXL file: no hashtag row"));
    CHECK(im.events.empty());
  }
  SECTION("a hashtag row without any '#' is refused") {
    auto im = test::import_default(def(), test::fixture("hxl/libhxl/input-invalid.csv"));
    REQUIRE_FALSE(im.result.refused.is_ok());
    CHECK_THAT(im.result.refused.message(), Catch::Contains("no hashtag row"));
  }
  SECTION("the valid Spanish sheet imports every row with countries read from names") {
    auto im = test::import_default(def(), test::fixture("hxl/libhxl/input-valid.csv"));
    REQUIRE(im.result.refused.is_ok());
    REQUIRE(im.events.size() == 4);
    CHECK(str(im.event(0)->country()) == "PAN");
    CHECK(str(im.event(1)->country()) == "COL");
    auto* p = im.event(0)->payload_as_CountryTeamActivity();
    CHECK(str(p->org()->name()) == "ACNUR");
    CHECK(p->people_targeted() == 200);
    CHECK(im.event(0)->period()->start() == adapters::days_to_ms(2015, 3, 1));
  }
  SECTION("the Latin-1 sheet is refused by default and matches the UTF-8 one when converted") {
    auto refused = test::import_default(def(), test::fixture("hxl/libhxl/input-valid-latin1.csv"));
    REQUIRE_FALSE(refused.result.refused.is_ok());
    CHECK_THAT(refused.result.refused.message(), Catch::Contains("--encoding latin1"));
    auto s = adapters::default_settings(def());
    s.csv.encoding = adapters::encoding_policy::convert_latin1;
    auto conv = test::import_with(def(), test::fixture("hxl/libhxl/input-valid-latin1.csv"), s);
    auto utf8 = test::import_default(def(), test::fixture("hxl/libhxl/input-valid.csv"));
    REQUIRE(conv.result.refused.is_ok());
    REQUIRE(conv.events.size() == utf8.events.size());
    CHECK(str(conv.event(0)->geo()->admin_areas()->Get(0)->name()) == "Los Santos");
    CHECK(str(conv.event(0)->source_record_id()) == str(utf8.event(0)->source_record_id()));
    CHECK_THAT(conv.issues_text(), Catch::Contains("ISO-8859-1"));
  }
  SECTION("hashtags lacking '#' and a repeated hashtag are read and reported") {
    auto im = test::import_default(def(), test::fixture("hxl/libhxl/input-fuzzy.csv"));
    REQUIRE(im.result.refused.is_ok());
    CHECK(im.events.size() == 4);
    CHECK_THAT(im.issues_text(), Catch::Contains("input-fuzzy.csv:3: warning: column 7: \"country\" lacks its '#'") &&
                                     Catch::Contains("repeats column 5"));
  }
  SECTION("junk rows before the header are passed over; rows without a country are reported") {
    auto im = test::import_default(def(), test::fixture("hxl/libhxl/input-multiple-headers.csv"));
    REQUIRE(im.result.refused.is_ok());
    CHECK(im.events.empty());
    CHECK(im.result.counts.skipped == 2);
    CHECK_THAT(im.issues_text(), Catch::Contains("input-multiple-headers.csv:4: no country"));
    auto s = adapters::default_settings(def());
    s.country = "SOM";
    auto with_country = test::import_with(def(), test::fixture("hxl/libhxl/input-multiple-headers.csv"), s);
    REQUIRE(with_country.events.size() == 2);
    CHECK(str(with_country.event(0)->payload_as_CountryTeamActivity()->org()->name()) == "Org X");
  }
  SECTION("empty and unknown status words are reported and left unknown") {
    auto im = test::import_default(def(), test::fixture("hxl/libhxl/input-status.csv"));
    REQUIRE(im.result.refused.is_ok());
    REQUIRE_FALSE(im.events.empty());
    CHECK(im.event(0)->payload_as_CountryTeamActivity()->status() == schema::ActivityStatus::unknown);
    CHECK_THAT(im.issues_text(), Catch::Contains("input-status.csv:3: warning: empty #status"));
    bool active = false;
    for (std::size_t i = 0; i < im.events.size(); ++i)
      active |= im.event(i)->payload_as_CountryTeamActivity()->status() == schema::ActivityStatus::active;
    CHECK(active);
  }
  SECTION("an HXL sheet that is not a 3W is refused") {
    auto im = test::import_default(def(), test::fixture("hxl/libhxl/input-multiline.csv"));
    REQUIRE_FALSE(im.result.refused.is_ok());
    CHECK_THAT(im.result.refused.message(), Catch::Contains("not a 3W"));
  }
}

TEST_CASE("a 3W with broken rows imports the good ones and reports the bad ones by line", "[country_team][errors]") {
  test::temp_dir dir("ct");
  test::write_file(dir / "broken.csv",
                   "Org,Sector,Country,Region,District,Status,Start,GEM\n"
                   "#org+name,#sector,#country+code,#adm1+code,#adm2+code,#status,#date+start,#x_gem\n"
                   "UNDP,Rule of law,SSD,SS01,,ongoing,2025-01-01,2\n"
                   "UNICEF,Education,Atlantis,,,ongoing,2025-01-01,1\n"
                   ",,SSD,,,,,\n"
                   "\n"
                   "UNFPA,Protection,SSD,SS02,,ongoing,2025-13-45,1\n"
                   "WFP,Food security,SSD,SS99,,ongoing,2025-02-01,9\n"
                   "FAO,\"Food\n security\",SSD,,,completed,2025-03-01,0\n");
  auto s = adapters::default_settings(def());
  auto im = test::import_with(def(), dir / "broken.csv", s);
  REQUIRE(im.result.refused.is_ok());
  CHECK(im.result.counts.read == 6);
  CHECK(im.events.size() == 4);
  CHECK(im.result.counts.skipped == 2);
  CHECK_THAT(im.issues_text(), Catch::Contains("broken.csv:4: country \"Atlantis\" is not an ISO 3166-1"));
  CHECK_THAT(im.issues_text(), Catch::Contains("broken.csv:5: no organisation, sector or activity"));
  CHECK_THAT(im.issues_text(), Catch::Contains("broken.csv:7: warning: date \"2025-13-45\" not understood"));
  CHECK_THAT(im.issues_text(), Catch::Contains("broken.csv:8: warning: gender marker \"9\""));
  auto* first = im.event(0);
  CHECK(first->gender()->scheme() == schema::GenderScheme::unct_gem);
  CHECK(first->gender()->level() == schema::GenderLevel::significant);
  CHECK(str(first->payload_as_CountryTeamActivity()->sector_family()) == "rule_of_law");
  auto* fao = im.event(3);
  CHECK(str(fao->payload_as_CountryTeamActivity()->sector()->name()) == "Food\n security");
  CHECK(fao->payload_as_CountryTeamActivity()->status() == schema::ActivityStatus::completed);
}

TEST_CASE("a file that is not CSV is refused with the kinds the adapter reads", "[country_team][errors]") {
  test::temp_dir dir("ct");
  test::write_file(dir / "notes.pdf", "%PDF-1.4");
  auto im = test::import_default(def(), dir / "notes.pdf");
  REQUIRE_FALSE(im.result.refused.is_ok());
  CHECK_THAT(im.result.refused.message(), Catch::Contains("hxl-3w"));
}
