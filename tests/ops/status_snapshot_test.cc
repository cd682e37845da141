#include "hub/ops/status_snapshot.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace hub::ops;

namespace {

status_snapshot sample() {
  status_snapshot s;
  s.hub_id = "7f3a";
  s.version = "0.1.0";
  s.uptime_s = 12.5;
  s.store = {"embedded", 0, 42, 41, 42, 9000, 1, true, ""};
  s.counters.events_in = 42;
  s.counters.busy_polled_turns = 17;
  s.counters.naks["malformed_envelope"] = 2;
  s.rates = {3.5, 7.0, 10.0};
  s.clients.push_back({"00a1", "unmiss-adapter", "publisher", 120, 3});
  s.subscriptions.push_back({"rules", 1, "*.SSD.>", 40, 100, 2, "rules"});
  s.adapters.push_back({"unmiss-adapter", "fixtures/unmiss.csv", 900, 5, 37, 1, 0});
  s.alerts_firing.push_back({"R3", "SSD/SS01", "SSD", "critical", 1700000000000});
  s.alerts_firing.push_back({"R1", "SSD/SS02", "SSD", "warning", 1700000000001});
  s.alerts_firing.push_back({"R1", "CAF/CF01", "CAF", "warning", 1700000000002});
  return s;
}

}  // namespace

TEST_CASE("the status JSON carries every documented field", "[ops][status]") {
  auto j = nlohmann::json::parse(sample().to_json());
  for (const char* k : {"hub_id", "version", "uptime_s", "store", "counters", "rates", "clients", "subscriptions",
                        "adapters", "alerts"}) {
    INFO(k);
    CHECK(j.contains(k));
  }
  for (const char* k : {"kind", "begin", "end", "durable_end", "records", "bytes", "segments", "writable", "last_error"})
    CHECK(j["store"].contains(k));
  CHECK(j["clients"][0]["in_flight"] == 3);
  CHECK(j["subscriptions"][0]["lag"] == 2);
  CHECK(j["adapters"][0]["last_heartbeat_ms_ago"] == 900);
  CHECK(j["counters"]["naks"]["malformed_envelope"] == 2);
  CHECK(j["counters"]["busy_polled_turns"] == 17);
  CHECK(j["rates"]["events_out_per_s"] == 7.0);
}

TEST_CASE("alerts firing are counted by country and severity", "[ops][status]") {
  auto j = nlohmann::json::parse(sample().to_json());
  auto by = j["alerts"]["by_country_severity"];
  CHECK(by["SSD"]["critical"] == 1);
  CHECK(by["SSD"]["warning"] == 1);
  CHECK(by["SSD"]["info"] == 0);
  CHECK(by["CAF"]["warning"] == 1);
  CHECK(j["alerts"]["firing"].size() == 3);
}

TEST_CASE("a status document reads back into the same snapshot", "[ops][status]") {
  auto back = status_snapshot::from_json(sample().to_json());
  REQUIRE(back);
  CHECK(back->to_json() == sample().to_json());
}

TEST_CASE("a malformed status document is refused with the place named", "[ops][status]") {
  auto a = status_snapshot::from_json("<html>");
  REQUIRE_FALSE(a);
  CHECK(a.error().message().find("not a JSON object") != std::string::npos);
  auto b = status_snapshot::from_json(R"({"store": {"records": "many"}})");
  REQUIRE_FALSE(b);
  CHECK(b.error().message().find("store") != std::string::npos);
}

TEST_CASE("rates are per second over the last ten seconds", "[ops][status]") {
  rate_meter m(10'000);
  CHECK(m.rates().events_in_per_s == 0);
  m.sample(0, 0, 0);
  m.sample(1000, 100, 0);
  CHECK(m.rates().events_in_per_s == Approx(100));
  // 30 s at 10/s in and 20/s out: only the last 10 s count.
  for (hub::millis t = 1500; t <= 31000; t += 500) m.sample(t, 100 + static_cast<std::uint64_t>((t - 1000) / 100),
                                                            static_cast<std::uint64_t>((t - 1000) / 50));
  auto r = m.rates();
  CHECK(r.events_in_per_s == Approx(10));
  CHECK(r.events_out_per_s == Approx(20));
  CHECK(r.window_s == Approx(10).margin(0.5));
}

TEST_CASE("a status slot hands the latest document to readers", "[ops][status]") {
  status_slot slot;
  CHECK_FALSE(slot.read());
  slot.publish(std::string("{\"a\":1}"));
  slot.publish(std::string("{\"a\":2}"));
  CHECK(slot.read() == std::optional<std::string>("{\"a\":2}"));
}
