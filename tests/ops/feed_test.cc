#include "hub/ops/feed.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "schemas/schema.h"
#include "tests/support/envelopes.h"

using namespace hub::ops;

TEST_CASE("the feed counts stored events by entity and event type", "[ops][feed]") {
  hub_metrics m;
  health h;
  status_slot slot;
  feed f(m, h, slot);
  auto env = hub::test::make_envelope({});
  auto* e = hub::schema::GetEnvelope(env.data());
  std::string topic = hub::schema::topic_of(*e);
  for (std::uint64_t i = 0; i < 3; ++i) {
    hub::store::record_view r{hub::offset{i}, 1000, *e->id(), topic, env};
    f.on_durable(r);
  }
  CHECK(m.render().find("hub_events_in_total{entity=\"peacekeeping\",event_type=\"mandate_activity\"} 3\n") !=
        std::string::npos);
}

TEST_CASE("the feed completes the broker's status and updates metrics and readiness from it", "[ops][feed]") {
  hub_metrics m;
  health h;
  h.set_rules_loaded(true);
  status_slot slot;
  feed f(m, h, slot);
  auto broker_json = [](std::uint64_t in, bool writable) {
    return nlohmann::json{
        {"hub_id", "abc"},
        {"store", {{"kind", "embedded"}, {"records", in}, {"bytes", 4096}, {"segments", 1}, {"writable", writable},
                   {"last_error", writable ? "" : "no space left on device"}}},
        {"counters", {{"events_in", in}, {"events_out", 0}, {"duplicates", 2}, {"naks", {{"too_large", 1}}}}},
        {"clients", nlohmann::json::array({{{"name", "a"}}, {{"name", "b"}}})},
        {"mirror_readers", 3},
        {"subscriptions", nlohmann::json::array({{{"client", "rules"}, {"durable", "rules"}, {"lag", 7}}})}}
        .dump();
  };
  f.on_status(broker_json(0, true), 0);
  f.on_status(broker_json(100, true), 1000);
  CHECK(h.check().ready);
  auto j = nlohmann::json::parse(*slot.read());
  CHECK(j["rates"]["events_in_per_s"] == Approx(100));
  CHECK(j["adapters"].is_array());
  CHECK(j["alerts"]["firing"].is_array());
  std::string text = m.render();
  CHECK(text.find("hub_clients_connected 2\n") != std::string::npos);
  CHECK(text.find("hub_mirror_readers 3\n") != std::string::npos);
  CHECK(text.find("hub_consumer_lag{consumer=\"rules\"} 7\n") != std::string::npos);
  CHECK(text.find("hub_naks_total{reason=\"too_large\"} 1\n") != std::string::npos);
  CHECK(text.find("hub_duplicates_total 2\n") != std::string::npos);
  CHECK(text.find("hub_store_writable 1\n") != std::string::npos);

  f.on_status(broker_json(100, false), 1500);
  CHECK_FALSE(h.check().ready);
  CHECK(h.check().reason.find("no space left on device") != std::string::npos);
  CHECK(m.render().find("hub_store_writable 0\n") != std::string::npos);
  f.on_status(broker_json(100, true), 2000);
  CHECK(h.check().ready);
}

TEST_CASE("the feed ignores a status that is not JSON and keeps the last good one", "[ops][feed]") {
  hub_metrics m;
  health h;
  status_slot slot;
  feed f(m, h, slot);
  f.on_status(R"({"hub_id":"x"})", 0);
  f.on_status("not json", 500);
  CHECK(nlohmann::json::parse(*slot.read())["hub_id"] == "x");
}
