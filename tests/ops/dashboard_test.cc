// The dashboard in headless Chromium: the page is loaded from the hub, its script
// fetches /api/status, and the figures it shows must be those of the status document.
// A screenshot is saved in the build tree (tests/ops/artifacts/) for people to look at.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "hub/ops/http_server.h"
#include "hub/ops/metrics.h"
#include "hub/ops/status_snapshot.h"
#include "tests/ops/live_helpers.h"
#include "tests/support/run_command.h"
#include "tests/support/hubd_process.h"

using namespace hub::test;

namespace {

const std::filesystem::path artifacts = OPS_ARTIFACT_DIR;

std::vector<std::string> chromium_args(const temp_dir& dir) {
  return {"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
          "--user-data-dir=" + (dir / "chromium-profile").string(), "--virtual-time-budget=4000"};
}

// The page's DOM after its script ran for a few (virtual) seconds.
std::string dump_dom(const std::string& url, const temp_dir& dir) {
  REQUIRE(have_program("chromium"));  // Debian package: chromium
  auto args = chromium_args(dir);
  args.push_back("--dump-dom");
  args.push_back(url);
  auto res = run_command(args, dir.path(), {}, std::chrono::seconds(90));
  INFO(res.output);
  REQUIRE(res.exit_code == 0);
  return res.output;
}

void screenshot(const std::string& url, const std::string& name, const temp_dir& dir) {
  std::filesystem::create_directories(artifacts);
  auto png = artifacts / name;
  std::filesystem::remove(png);
  auto args = chromium_args(dir);
  args.push_back("--window-size=1280,1500");
  args.push_back("--screenshot=" + png.string());
  args.push_back(url);
  auto res = run_command(args, dir.path(), {}, std::chrono::seconds(90));
  INFO(res.output);
  REQUIRE(std::filesystem::exists(png));
  std::ifstream in(png, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  CHECK(std::string(magic + 1, 3) == "PNG");
  CHECK(std::filesystem::file_size(png) > 20'000);  // a drawn page, not a blank one
}

// The value of attribute `attr` on the element with id `id`, or "" if absent.
std::string attr_of(const std::string& dom, const std::string& id, const std::string& attr) {
  auto at = dom.find("id=\"" + id + "\"");
  if (at == std::string::npos) return {};
  auto open = dom.rfind('<', at);
  auto close = dom.find('>', at);
  std::string tag = dom.substr(open, close - open);
  auto a = tag.find(" " + attr + "=\"");
  if (a == std::string::npos) return {};
  a += attr.size() + 3;
  return tag.substr(a, tag.find('"', a) - a);
}

// The text inside the element with id `id` (first text run only).
std::string text_of(const std::string& dom, const std::string& id) {
  auto at = dom.find("id=\"" + id + "\"");
  if (at == std::string::npos) return {};
  auto close = dom.find('>', at);
  return dom.substr(close + 1, dom.find('<', close) - close - 1);
}

hub::ops::status_snapshot rich_snapshot() {
  hub::ops::status_snapshot s;
  s.hub_id = "c0ffee01";
  s.version = "0.1.0";
  s.uptime_s = 5400;
  s.store = {"embedded", 0, 48211, 48211, 48211, 31u << 20, 1, true, ""};
  s.counters.events_in = 48211;
  s.counters.events_out = 96422;
  s.counters.duplicates = 17;
  s.counters.naks["malformed_envelope"] = 2;
  s.rates = {42.5, 85.0, 10.0};
  s.clients.push_back({"00a1", "unmiss-adapter", "publisher", 400, 3});
  s.clients.push_back({"00a2", "rules", "subscriber", 200, 0});
  s.subscriptions.push_back({"rules", 1, ">", 48200, 245, 11, "rules"});
  s.subscriptions.push_back({"rco-dashboard", 2, "coordination.SSD.coherence_alert", 40000, 0, 8211, ""});
  s.adapters.push_back({"unmiss-adapter", "fixtures/unmiss/activities.csv", 2'000, 0, 12000, 3, 0});
  s.adapters.push_back({"iati-undp-ssd", "fixtures/iati/undp-ssd.xml", 75'000, 120, 3100, 0, 0});
  s.adapters.push_back({"pbf-projects", "fixtures/pbf/projects.json", 900'000, 0, 140, 0, 4});
  s.alerts_firing.push_back({"R3", "SSD/SS01/protection_of_civilians", "SSD", "critical", 1'764'000'000'000});
  s.alerts_firing.push_back({"R1", "SSD/SS02", "SSD", "warning", 1'764'000'100'000});
  s.alerts_firing.push_back({"R5", "CAF/CF03", "CAF", "warning", 1'764'000'200'000});
  s.alerts_firing.push_back({"R9", "CAF", "CAF", "info", 1'764'000'300'000});
  return s;
}

}  // namespace

TEST_CASE("the dashboard shows the figures of a status document with adapters and alerts",
          "[ops][dashboard][chromium]") {
  temp_dir dir("ops-dashboard");
  hub::ops::hub_metrics metrics;
  hub::ops::health health;
  hub::ops::status_slot slot;
  slot.publish(rich_snapshot());
  auto server = hub::ops::http_server::start("127.0.0.1:0", hub::ops::make_handlers(metrics, health, slot));
  REQUIRE(server);
  std::string url = "http://" + server.value()->address() + "/";

  std::string dom = dump_dom(url, dir);
  INFO(dom);
  CHECK(dom.find("data-hub-id=\"c0ffee01\"") != std::string::npos);
  CHECK(attr_of(dom, "events-in", "data-value") == "48211");
  CHECK(text_of(dom, "events-in") == "48,211");
  CHECK(attr_of(dom, "rate-in", "data-value") == "42.5");
  CHECK(attr_of(dom, "naks", "data-value") == "2");
  CHECK(attr_of(dom, "clients-count", "data-value") == "2");
  CHECK(attr_of(dom, "alerts-count", "data-value") == "4");
  CHECK(text_of(dom, "store-state") == "writable");
  // Adapters with their heartbeat health: fresh is ok, 75 s is a warning, 15 min is bad.
  CHECK(dom.find("iati-undp-ssd") != std::string::npos);
  CHECK(dom.find("<span class=\"warn\">1 min ago</span>") != std::string::npos);
  CHECK(dom.find("<span class=\"bad\">15 min ago</span>") != std::string::npos);
  // The subscription waiting on credit with a large lag.
  CHECK(dom.find("<span class=\"warn\">8,211</span>") != std::string::npos);
  // Alerts by country and severity: SSD 1 critical, 1 warning; CAF 1 warning, 1 info.
  CHECK(dom.find("<td>CAF</td><td class=\"num\"><span>0</span></td><td class=\"num\"><span "
                 "class=\"warn\">1</span></td><td class=\"num\"><span class=\"info\">1</span></td>") !=
        std::string::npos);
  CHECK(dom.find("<td>SSD</td><td class=\"num\"><span class=\"bad\">1</span></td><td class=\"num\"><span "
                 "class=\"warn\">1</span></td>") != std::string::npos);

  screenshot(url, "dashboard-sample.png", dir);
}

TEST_CASE("the dashboard served by hubd shows the figures its status API reports", "[ops][dashboard][chromium][hubd]") {
  temp_dir dir("ops-dashboard");
  hubd_process hub({.http = true});
  REQUIRE_FALSE(hub.http_address().empty());
  REQUIRE(publish_test_events(hub.endpoint(), 30) == 30);
  nlohmann::json status;
  REQUIRE(wait_for([&] {
    auto s = get_status(hub.http_address());
    if (s) status = *s;
    return s && (*s)["counters"]["events_in"] == 30;
  }));

  std::string url = "http://" + hub.http_address() + "/";
  std::string dom = dump_dom(url, dir);
  auto after = get_status(hub.http_address());
  REQUIRE(after);
  INFO(dom);
  CHECK(dom.find("data-hub-id=\"" + (*after)["hub_id"].get<std::string>() + "\"") != std::string::npos);
  CHECK(attr_of(dom, "events-in", "data-value") == std::to_string((*after)["counters"]["events_in"].get<std::uint64_t>()));
  CHECK(attr_of(dom, "events-in", "data-value") == "30");
  CHECK(attr_of(dom, "store-records", "data-value") ==
        std::to_string((*after)["store"]["records"].get<std::uint64_t>()));
  CHECK(text_of(dom, "store-state") == "writable");
  CHECK(text_of(dom, "hub-id") == (*after)["hub_id"].get<std::string>());

  screenshot(url, "dashboard-hubd.png", dir);
}
