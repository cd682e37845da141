// Unit tests for adapters/sdk/event.h: ids, envelopes and the JSON conversion.
#include "adapters/sdk/event.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "schemas/schema.h"

namespace {

using hub::schema::Id128;
using nlohmann::json;

bool less(const Id128& a, const Id128& b) {
  return a.hi() != b.hi() ? a.hi() < b.hi() : a.lo() < b.lo();
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One sample per payload type, as an adapter or a person would write it.
const std::vector<std::pair<std::string, std::string>>& samples() {
  static const std::vector<std::pair<std::string, std::string>> s = {
      {"political_strategy",
       R"({"entity":"coordination","payload_type":"PoliticalStrategy","payload":{"strategy_id":"SSD-2025-PS","version":2,
          "title":"Political strategy","valid_from":"2025-01-01","valid_to":"2025-12-31",
          "objectives":[{"id":"O1","text":"Protect civilians","a4p_areas":["protection","women_peace_security"],
          "mandate_areas":["poc"],"sector_families":["protection"],"admin_areas_in_scope":["SS01"],"priority":1,
          "expected_entities":["peacekeeping","development"]}]}})"},
      {"mandate_activity",
       R"({"entity":"peacekeeping","payload_type":"mandate_activity","payload":{"activity_id":"A-1","title":"Patrols",
          "mission":"UNMISS","mandate_area":"poc","component":"military","status":"active","sector_family":"protection"}})"},
      {"programme_activity",
       R"({"entity":"development","payload_type":"ProgrammeActivity","payload":{"iati_identifier":"XM-DAC-41114-1",
          "title":"Rule of law","reporting_org":{"ref":"XM-DAC-41114","name":"UNDP","role":"reporting"},
          "status":"active","iati_status_code":2,"planned_start":"2024-01-01","planned_end":"2026-12-31",
          "sectors":[{"vocabulary":"1","code":"15130","percentage":100}],"sdg_targets":["16.3"],
          "budgets":[{"currency":"USD","amount":1500000.5}],"humanitarian":false}})"},
      {"peacebuilding_project",
       R"({"entity":"peacebuilding","payload_type":"PeacebuildingProject","payload":{"project_number":"00123456",
          "title":"Women in local peace committees","window":"IRF","priority_area":"2","focus_area":"2.3",
          "approved_budget":{"currency":"USD","amount":3000000},"gewe_allocation":{"currency":"USD","amount":1200000},
          "status":"active","year_of_approval":2023}})"},
      {"country_team_activity",
       R"({"entity":"country_team","payload_type":"CountryTeamActivity","payload":{"org":{"name":"UNICEF"},
          "sector":{"vocabulary":"hxl","code":"protection"},"activity":"Child protection case management",
          "status":"active","report_month":"2024-07","people_targeted":1200,"people_reached":800}})"},
      {"commitment_progress",
       R"({"entity":"peacekeeping","payload_type":"CommitmentProgress","payload":{"commitment_id":"DSC-5.2",
          "reporting_period":{"start":"2024-01-01","end":"2024-06-30","precision":"quarter"},"value":42.5,"unit":"%",
          "baseline":30,"target":50}})"},
      {"security_incident",
       R"({"entity":"peacekeeping","payload_type":"SecurityIncident","payload":{"incident_id":"ged-1","category":"battle",
          "actors":["Government","Militia"],"fatalities_best":3,"source_feed":"ucdp-ged","verified":true}})"},
      {"transition_milestone",
       R"({"entity":"peacekeeping","payload_type":"TransitionMilestone","payload":{"milestone_id":"M-1",
          "kind":"base_closure","mission":"UNMISS","planned_date":"2025-06-30","status":"planned",
          "functions_handed_over":["security"],"receiving_entities":["government"]}})"},
      {"coherence_alert",
       R"({"entity":"coordination","payload_type":"CoherenceAlert","payload":{"rule_id":"R3","rule_version":1,
          "key":"SSD/SS01","status":"firing","severity":"warning","title":"No partner in area",
          "evidence":[{"event_id":"0190f3c2a1b27c3d8e4f5a6b7c8d9e0f","excerpt":"patrols in SS01"}],
          "processed_at":"2025-03-01T10:00:00Z"}})"},
      {"adapter_heartbeat",
       R"({"entity":"hub","payload_type":"AdapterHeartbeat","payload":{"adapter":"peacekeeping","source":"file",
          "backlog":5,"read":10,"published":5,"started_at":"2025-03-01T09:00:00Z"}})"},
      {"alert_acknowledgement",
       R"({"entity":"coordination","payload_type":"AlertAcknowledgement","payload":{"alert_id":"a-1","by":"rco",
          "note":"taken"}})"},
      {"alert_silence",
       R"({"entity":"coordination","payload_type":"AlertSilence","payload":{"rule_id":"R3","key":"SSD/SS01",
          "until":"2025-04-01","reason":"planned gap","by":"rco"}})"},
  };
  return s;
}

// Adds the envelope fields every sample shares.
std::string with_envelope(const std::string& sample) {
  auto j = nlohmann::ordered_json::parse(sample);
  j["source_system"] = "test-adapter";
  j["country"] = "SSD";
  j["occurred_at"] = "2025-02-01T08:30:00Z";
  j["classification"] = "public";
  j["a4p_areas"] = {"protection"};
  j["geo"] = {{"admin_areas", {{{"level", 1}, {"pcode", "SS01"}, {"name", "Central Equatoria"}}}}};
  return j.dump();
}

}  // namespace

TEST_CASE("new event ids are time-ordered UUIDv7 ids", "[sdk][ids]") {
  auto before = now_ms();
  std::vector<Id128> ids;
  for (int i = 0; i < 5000; ++i) ids.push_back(hub::sdk::new_event_id());
  auto after = now_ms();
  for (std::size_t i = 1; i < ids.size(); ++i) REQUIRE(less(ids[i - 1], ids[i]));
  for (const auto& id : ids) {
    CHECK(((id.hi() >> 12) & 0xf) == 7);  // version
    CHECK((id.lo() >> 62) == 2);           // variant 10
    auto ms = static_cast<std::int64_t>(id.hi() >> 16);
    CHECK(ms >= before);
    CHECK(ms <= after + 2);  // the counter may borrow a millisecond
  }
}

TEST_CASE("derived event ids are stable and distinct", "[sdk][ids]") {
  auto a = hub::sdk::derived_event_id("iati", "XM-DAC-41114-1", "2025-01-01");
  auto b = hub::sdk::derived_event_id("iati", "XM-DAC-41114-1", "2025-01-01");
  CHECK(hub::schema::id_to_hex(a) == hub::schema::id_to_hex(b));
  std::set<std::string> seen = {hub::schema::id_to_hex(a)};
  seen.insert(hub::schema::id_to_hex(hub::sdk::derived_event_id("iati", "XM-DAC-41114-1", "2025-01-02")));
  seen.insert(hub::schema::id_to_hex(hub::sdk::derived_event_id("iati", "XM-DAC-41114-2", "2025-01-01")));
  seen.insert(hub::schema::id_to_hex(hub::sdk::derived_event_id("hxl", "XM-DAC-41114-1", "2025-01-01")));
  // Length prefixes keep the parts apart: "ab"+"c" is not "a"+"bc".
  seen.insert(hub::schema::id_to_hex(hub::sdk::derived_event_id("ab", "c", "")));
  seen.insert(hub::schema::id_to_hex(hub::sdk::derived_event_id("a", "bc", "")));
  CHECK(seen.size() == 6);
}

TEST_CASE("every payload type survives a JSON round trip", "[sdk][json]") {
  for (const auto& [type, sample] : samples()) {
    SECTION(type) {
      std::string err;
      auto bytes = hub::sdk::envelope_from_json(with_envelope(sample), &err);
      INFO(err);
      REQUIRE(bytes);
      auto check = hub::schema::check_envelope(*bytes);
      INFO(check.detail);
      REQUIRE(check.reason == hub::schema::Reason::ok);
      CHECK(hub::schema::event_type_name(check.envelope->payload_type()) == type);
      auto topic = hub::schema::topic_of(*check.envelope);

      auto text1 = hub::sdk::envelope_to_json(*bytes, 7, topic);
      auto j = json::parse(text1);
      CHECK(j["offset"] == 7);
      CHECK(j["topic"] == topic);
      CHECK(j["id"].get<std::string>().size() == 32);
      CHECK(j["country"] == "SSD");
      CHECK(j["occurred_at"] == 1738398600000);  // 2025-02-01T08:30:00Z

      auto again = hub::sdk::envelope_from_json(text1, &err);
      INFO(err);
      REQUIRE(again);
      CHECK(hub::sdk::envelope_to_json(*again, 7, topic) == text1);
    }
  }
}

TEST_CASE("hex ids in JSON become the envelope's ids", "[sdk][json]") {
  std::string err;
  auto bytes = hub::sdk::envelope_from_json(
      R"({"id":"0190f3c2-a1b2-7c3d-8e4f-5a6b7c8d9e0f","causation_id":"00000000000000000000000000000abc",
          "source_system":"s","entity":"peacekeeping","country":"SSD",
          "payload_type":"MandateActivity","payload":{"activity_id":"A"}})",
      &err);
  INFO(err);
  REQUIRE(bytes);
  const auto* e = hub::schema::GetEnvelope(bytes->data());
  CHECK(hub::schema::id_to_hex(*e->id()) == "0190f3c2a1b27c3d8e4f5a6b7c8d9e0f");
  CHECK(hub::schema::id_to_hex(*e->causation_id()) == "00000000000000000000000000000abc");
}

TEST_CASE("an event without id or published_at gets both", "[sdk][json]") {
  auto before = now_ms();
  std::string err;
  auto bytes = hub::sdk::envelope_from_json(
      R"({"source_system":"s","entity":"peacekeeping","country":"SSD","payload_type":"MandateActivity","payload":{}})",
      &err);
  INFO(err);
  REQUIRE(bytes);
  const auto* e = hub::schema::GetEnvelope(bytes->data());
  REQUIRE(e->id() != nullptr);
  CHECK(((e->id()->hi() >> 12) & 0xf) == 7);
  CHECK(e->published_at() >= before);
}

TEST_CASE("JSON errors name the field or the line", "[sdk][json]") {
  std::string err;
  auto base = [](const std::string& payload) {
    return R"({"source_system":"s","entity":"peacekeeping","country":"SSD","payload_type":"MandateActivity",)"
           R"("payload":)" + payload + "}";
  };
  SECTION("an unknown enum value") {
    CHECK_FALSE(hub::sdk::envelope_from_json(base(R"({"mandate_area":"protection_of_everyone"})"), &err));
    CHECK_THAT(err, Catch::Contains("mandate_area"));
  }
  SECTION("an unknown field") {
    CHECK_FALSE(hub::sdk::envelope_from_json(base(R"({"mandate_aera":"poc"})"), &err));
    CHECK_THAT(err, Catch::Contains("mandate_aera"));
  }
  SECTION("a time that is not a time") {
    CHECK_FALSE(hub::sdk::envelope_from_json(
        R"({"entity":"peacekeeping","period":{"start":"next tuesday"}})", &err));
    CHECK_THAT(err, Catch::Contains("period.start"));
  }
  SECTION("an id that is not hex") {
    CHECK_FALSE(hub::sdk::envelope_from_json(R"({"id":"not-an-id"})", &err));
    CHECK_THAT(err, Catch::Contains("\"id\""));
  }
  SECTION("text that is not JSON") {
    CHECK_FALSE(hub::sdk::envelope_from_json("{\n\"entity\": \"peacekeeping\",\n oops }", &err));
    CHECK_THAT(err, Catch::Contains("line 3"));
  }
  SECTION("a JSON value that is not an object") {
    CHECK_FALSE(hub::sdk::envelope_from_json("[1,2]", &err));
    CHECK_THAT(err, Catch::Contains("object"));
  }
}

TEST_CASE("times convert between ISO 8601 and milliseconds", "[sdk][time]") {
  CHECK(hub::sdk::parse_time("2025-03-01") == 1740787200000);
  CHECK(hub::sdk::parse_time("2025-03-01T10:00:00Z") == 1740823200000);
  CHECK(hub::sdk::parse_time("2025-03-01T12:00:00+02:00") == 1740823200000);
  CHECK(hub::sdk::parse_time("2025-03-01T10:00:00.250Z") == 1740823200250);
  CHECK(hub::sdk::parse_time("1970-01-01") == 0);
  CHECK_FALSE(hub::sdk::parse_time("2025-13-01"));
  CHECK_FALSE(hub::sdk::parse_time("yesterday"));
  CHECK_FALSE(hub::sdk::parse_time("2025-03-01T10"));
  CHECK(hub::sdk::format_time(1740823200000) == "2025-03-01T10:00:00Z");
  CHECK(hub::sdk::format_time(1740823200000, true) == "2025-03-01");
}

TEST_CASE("finish_envelope makes bytes the hub accepts", "[sdk][json]") {
  flatbuffers::FlatBufferBuilder fbb;
  auto id = hub::sdk::new_event_id();
  auto payload = hub::schema::CreateAlertAcknowledgementDirect(fbb, "a-1", "rco", "taken");
  auto source = fbb.CreateString("test-adapter");
  auto country = fbb.CreateString("SSD");
  hub::schema::EnvelopeBuilder b(fbb);
  b.add_id(&id);
  b.add_source_system(source);
  b.add_entity(hub::schema::Entity::coordination);
  b.add_country(country);
  b.add_payload_type(hub::schema::Payload::AlertAcknowledgement);
  b.add_payload(payload.Union());
  auto bytes = hub::sdk::finish_envelope(fbb, b.Finish());
  auto check = hub::schema::check_envelope(bytes);
  INFO(check.detail);
  CHECK(check.reason == hub::schema::Reason::ok);
  CHECK(hub::schema::topic_of(*check.envelope) == "coordination.SSD.alert_acknowledgement");
}
