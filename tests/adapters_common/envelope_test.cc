#include <catch2/catch.hpp>

#include "adapters/common/envelope.h"
#include "adapters/sdk/event.h"
#include "schemas/schema.h"

using namespace hub::adapters;
using hub::schema::GenderLevel;
using hub::schema::GenderScheme;

TEST_CASE("gender markers of every scheme land on the four-point scale", "[adapters][envelope]") {
  CHECK(normalise_gender(GenderScheme::iati_dac, "1")->level == GenderLevel::significant);
  CHECK(normalise_gender(GenderScheme::iati_dac, "2")->level == GenderLevel::principal);
  CHECK(normalise_gender(GenderScheme::iati_dac, "0")->level == GenderLevel::none);
  CHECK(normalise_gender(GenderScheme::pbf_gm, "GM1")->level == GenderLevel::limited);
  CHECK(normalise_gender(GenderScheme::pbf_gm, "gm3")->level == GenderLevel::principal);
  CHECK(normalise_gender(GenderScheme::unct_gem, "2")->level == GenderLevel::significant);
  CHECK(normalise_gender(GenderScheme::unct_gem, "2")->raw == "2");
  auto bad = normalise_gender(GenderScheme::iati_dac, "7");
  REQUIRE_FALSE(bad.is_ok());
  CHECK_THAT(bad.error().message(), Catch::Contains("\"7\"") && Catch::Contains("0, 1, 2"));
}

TEST_CASE("an envelope gets the id derived from its source record and passes the hub's check", "[adapters][envelope]") {
  envelope_fields f;
  f.source_system = "test-adapter";
  f.entity = hub::schema::Entity::country_team;
  f.country = "LBN";
  f.source_record_id = "row-1";
  f.source_revision = "r1";
  f.admin_areas.push_back({1, "LB6", "South", hub::schema::GeoResolution::exact, {}, {}});
  f.gender = normalise_gender(GenderScheme::unct_gem, "1").value();
  flatbuffers::FlatBufferBuilder fbb;
  auto payload = hub::schema::CreateCountryTeamActivity(fbb);
  auto bytes = build_envelope(fbb, f, hub::schema::Payload::CountryTeamActivity, payload.Union());
  REQUIRE(bytes.is_ok());
  auto check = hub::schema::check_envelope(bytes.value());
  REQUIRE(check.reason == hub::schema::Reason::ok);
  auto want = hub::sdk::derived_event_id("test-adapter", "row-1", "r1");
  CHECK(check.envelope->id()->hi() == want.hi());
  CHECK(check.envelope->id()->lo() == want.lo());
  CHECK(hub::schema::topic_of(*check.envelope) == "country_team.LBN.country_team_activity");
  CHECK(check.envelope->geo()->admin_areas()->Get(0)->pcode()->str() == "LB6");
}

TEST_CASE("an envelope without a record id or with a made-up country is refused", "[adapters][envelope]") {
  envelope_fields f;
  f.source_system = "test-adapter";
  f.country = "LBN";
  flatbuffers::FlatBufferBuilder fbb;
  auto p = hub::schema::CreateCountryTeamActivity(fbb);
  CHECK_FALSE(build_envelope(fbb, f, hub::schema::Payload::CountryTeamActivity, p.Union()).is_ok());
  f.source_record_id = "x";
  f.country = "XXX";
  flatbuffers::FlatBufferBuilder fbb2;
  auto p2 = hub::schema::CreateCountryTeamActivity(fbb2);
  auto r = build_envelope(fbb2, f, hub::schema::Payload::CountryTeamActivity, p2.Union());
  REQUIRE_FALSE(r.is_ok());
  CHECK_THAT(r.error().message(), Catch::Contains("XXX"));
}

TEST_CASE("status words and enum names from files are understood", "[adapters][envelope]") {
  CHECK(activity_status_from_text("Ongoing") == hub::schema::ActivityStatus::active);
  CHECK(activity_status_from_text("activo") == hub::schema::ActivityStatus::active);
  CHECK(activity_status_from_text("On hold") == hub::schema::ActivityStatus::suspended);
  CHECK_FALSE(activity_status_from_text("inactivo"));
  CHECK(mandate_area_from_text("Protection of civilians") == hub::schema::MandateArea::poc);
  CHECK(mandate_area_from_text("rule-of-law") == hub::schema::MandateArea::rule_of_law);
  CHECK(classification_from_text("public") == hub::schema::Classification::public_);
  CHECK(milestone_kind_from_text("base closure") == hub::schema::MilestoneKind::base_closure);
}
