#include <flatbuffers/flatbuffers.h>

#include <catch2/catch.hpp>

#include "schemas/schema.h"
#include "tests/support/envelopes.h"

using namespace hub::schema;

TEST_CASE("a valid envelope passes the check and gets its topic", "[schemas]") {
  auto env = hub::test::make_envelope();
  auto c = check_envelope(env);
  REQUIRE(c.reason == Reason::ok);
  CHECK(topic_of(*c.envelope) == "peacekeeping.SSD.mandate_activity");
}

TEST_CASE("each kind of bad envelope gets its own reason", "[schemas]") {
  auto env = hub::test::make_envelope();
  SECTION("truncated") {
    env.resize(env.size() / 2);
    CHECK(check_envelope(env).reason == Reason::malformed_envelope);
  }
  SECTION("wrong identifier") {
    env[4] = 'X';
    CHECK(check_envelope(env).reason == Reason::wrong_identifier);
  }
  SECTION("too large") { CHECK(check_envelope(env, 16).reason == Reason::too_large); }
  SECTION("a zero id") {
    auto z = hub::test::make_envelope({.id_hi = 0, .id_lo = 0});
    // make_envelope fills zero ids; build one by hand.
    flatbuffers::FlatBufferBuilder fbb;
    auto p = CreateMandateActivity(fbb).Union();
    auto src = fbb.CreateString("x");
    auto country = fbb.CreateString("SSD");
    EnvelopeBuilder b(fbb);
    b.add_source_system(src);
    b.add_entity(Entity::peacekeeping);
    b.add_country(country);
    b.add_payload_type(Payload::MandateActivity);
    b.add_payload(p);
    FinishEnvelopeBuffer(fbb, b.Finish());
    auto c = check_envelope({fbb.GetBufferPointer(), fbb.GetSize()});
    CHECK(c.reason == Reason::missing_field);
    CHECK_THAT(c.detail, Catch::Contains("id"));
    CHECK(check_envelope(z).reason == Reason::ok);
  }
  SECTION("a country that is not three capitals") {
    auto bad = hub::test::make_envelope({.country = "Ssd"});
    auto c = check_envelope(bad);
    CHECK(c.reason == Reason::bad_field);
    CHECK_THAT(c.detail, Catch::Contains("ISO 3166-1 alpha-3"));
  }
}

TEST_CASE("ids print as 32 hex digits and parse back", "[schemas]") {
  Id128 id(0x0190abcdef012345ull, 0x6789abcdef012345ull);
  auto hex = id_to_hex(id);
  CHECK(hex == "0190abcdef0123456789abcdef012345");
  auto back = id_from_hex("0190abcd-ef01-2345-6789-abcdef012345");
  REQUIRE(back);
  CHECK(back->hi() == id.hi());
  CHECK(back->lo() == id.lo());
  CHECK_FALSE(id_from_hex("xyz"));
}

TEST_CASE("every payload type has a topic name and back", "[schemas]") {
  for (auto p : EnumValuesPayload()) {
    if (p == Payload::NONE) continue;
    auto name = event_type_name(p);
    CHECK(name != "none");
    CHECK(event_type_from_name(name) == p);
  }
}
