#include "tools/hubtop/hubtop.h"

#include <catch2/catch.hpp>

#include <sstream>

#include "hub/ops/http_server.h"
#include "hub/ops/metrics.h"
#include "hub/ops/status_snapshot.h"

using nlohmann::json;

namespace {

hub::ops::status_snapshot sample() {
  hub::ops::status_snapshot s;
  s.hub_id = "7f3a9c";
  s.version = "0.1.0";
  s.uptime_s = 3725;
  s.store = {"embedded", 0, 1234, 1234, 1234, 5 << 20, 2, true, ""};
  s.counters.events_in = 1234;
  s.counters.events_out = 2468;
  s.counters.naks["malformed_envelope"] = 3;
  s.rates = {12.5, 25.0, 10.0};
  s.clients.push_back({"00a1", "unmiss-adapter", "publisher", 300, 2});
  s.subscriptions.push_back({"rules", 1, "*.SSD.>", 1200, 64, 34, "rules"});
  s.adapters.push_back({"unmiss-adapter", "fixtures/unmiss.csv", 1500, 7, 1200, 4, 0});
  s.adapters.push_back({"iati-undp-ssd", "fixtures/iati.xml", 600'000, 0, 90, 0, 2});
  s.alerts_firing.push_back({"R3", "SSD/SS01", "SSD", "critical", 1700000000000});
  return s;
}

std::size_t longest_line(const std::string& text) {
  std::size_t longest = 0;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    std::size_t n = 0;
    for (unsigned char c : l) n += (c & 0xC0) != 0x80;
    longest = std::max(longest, n);
  }
  return longest;
}

}  // namespace

TEST_CASE("the top view shows the figures of the status document", "[ops][hubtop]") {
  std::string frame = hub::hubtop::render_top(json::parse(sample().to_json()), 0, false);
  CHECK(frame.find("hub 7f3a9c") != std::string::npos);
  CHECK(frame.find("up 1h 2m") != std::string::npos);
  CHECK(frame.find("events in 12.5/s  out 25.0/s") != std::string::npos);
  CHECK(frame.find("stored 1,234") != std::string::npos);
  CHECK(frame.find("refused 3") != std::string::npos);
  CHECK(frame.find("unmiss-adapter") != std::string::npos);
  CHECK(frame.find("1.5 s ago") != std::string::npos);
  CHECK(frame.find("10 min ago") != std::string::npos);
  CHECK(frame.find("*.SSD.>") != std::string::npos);
  CHECK(frame.find("ALERTS FIRING (1)") != std::string::npos);
  CHECK(frame.find("\x1b[") == std::string::npos);  // no colour when asked for none
}

TEST_CASE("the top view colours a silent adapter red and a store that cannot write", "[ops][hubtop]") {
  auto s = sample();
  s.store.writable = false;
  s.store.last_error = "disk full writing segment 3";
  std::string frame = hub::hubtop::render_top(json::parse(s.to_json()), 120, true);
  CHECK(frame.find("\x1b[31mNOT WRITABLE") != std::string::npos);
  CHECK(frame.find("disk full writing segment 3") != std::string::npos);
  CHECK(frame.find("\x1b[31m10 min ago") != std::string::npos);
  CHECK(frame.find("\x1b[32m1.5 s ago") != std::string::npos);
}

TEST_CASE("the top view fits a narrow terminal", "[ops][hubtop]") {
  std::string frame = hub::hubtop::render_top(json::parse(sample().to_json()), 40, false);
  CHECK(longest_line(frame) <= 40);
}

TEST_CASE("the top view copes with a status document missing most fields", "[ops][hubtop]") {
  std::string frame = hub::hubtop::render_top(json::parse(R"({"hub_id": "x", "clients": "not a list"})"), 80, false);
  CHECK(frame.find("hub x") != std::string::npos);
  CHECK(frame.find("(no client connected)") != std::string::npos);
  // No rates in the document (the client socket's STATUS): not shown as zero.
  CHECK(frame.find("events in n/a  out n/a") != std::string::npos);
}

TEST_CASE("hubctl status reads a live status API as text and as JSON", "[ops][hubtop]") {
  hub::ops::hub_metrics metrics;
  hub::ops::health health;
  hub::ops::status_slot slot;
  slot.publish(sample());
  auto server = hub::ops::http_server::start("127.0.0.1:0", hub::ops::make_handlers(metrics, health, slot));
  REQUIRE(server);
  std::ostringstream out, err;
  CHECK(hub::hubtop::run_status(server.value()->address(), false, out, err) == 0);
  CHECK(out.str().find("unmiss-adapter") != std::string::npos);
  std::ostringstream jout;
  CHECK(hub::hubtop::run_status("http://" + server.value()->address(), true, jout, err) == 0);
  CHECK(json::parse(jout.str())["counters"]["events_in"] == 1234);
  CHECK(err.str().empty());
}

TEST_CASE("hubctl status names the address when the hub cannot be reached", "[ops][hubtop]") {
  hub::ops::hub_metrics metrics;
  hub::ops::health health;
  hub::ops::status_slot slot;
  std::string address;
  {
    auto server = hub::ops::http_server::start("127.0.0.1:0", hub::ops::make_handlers(metrics, health, slot));
    REQUIRE(server);
    address = server.value()->address();
    std::ostringstream out, err;
    CHECK(hub::hubtop::run_status(address, false, out, err) == 1);  // up, but no status yet: 503
    CHECK(err.str().find("503") != std::string::npos);
  }
  std::ostringstream out, err;
  CHECK(hub::hubtop::run_status(address, false, out, err) == 1);  // closed now
  CHECK(err.str().find(address) != std::string::npos);
  CHECK(out.str().empty());
}
