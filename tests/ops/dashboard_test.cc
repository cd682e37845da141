// The dashboard in headless Chromium: the page is loaded from the hub, its script
// fetches /api/status, and the figures it shows must be those of the status document.
// A screenshot is saved in the build tree (tests/ops/artifacts/) for people to look at.
// The live test keeps the page open (DevTools protocol over a pipe, tests/ops/chromium_page.h)
// and watches its figures change as events flow.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "hub/ops/http_server.h"
#include "hub/ops/metrics.h"
#include "hub/ops/status_snapshot.h"
#include "adapters/sdk/sdk.h"
#include "tests/ops/chromium_page.h"
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

namespace {

// What the page shows, read from its DOM: the tiles' data-value attributes, the store
// panel, and the rows of the clients, subscriptions and adapters tables.
const char* page_figures_js = R"js((() => {
  if (!document.body || !document.getElementById("events-in")) return {loading: true};
  const v = id => { const e = document.getElementById(id); return e ? e.getAttribute("data-value") : null; };
  const t = id => { const e = document.getElementById(id); return e ? e.textContent : null; };
  const col = (table, field) => Array.from(document.querySelectorAll("#" + table + " td[data-field='" + field + "']"))
                                     .map(e => e.textContent).sort();
  return {
    updates: Number(document.body.getAttribute("data-updates") || 0),
    hub_id: document.body.getAttribute("data-hub-id"), hub_id_text: t("hub-id"), version: t("version"),
    events_in: v("events-in"), events_out: v("events-out"), duplicates: v("duplicates"), naks: v("naks"),
    clients: v("clients-count"), alerts: v("alerts-count"),
    store_kind: t("store-kind"), store_state: t("store-state"), store_writable: v("store-state"),
    store_records: v("store-records"), store_durable: v("store-durable"), store_bytes: v("store-bytes"),
    store_segments: v("store-segments"),
    client_names: col("clients", "client"), client_roles: col("clients", "role"),
    sub_lags: col("subscriptions", "lag"), adapters: col("adapters", "adapter")
  };
})())js";

std::string num(const nlohmann::json& j) { return std::to_string(j.get<std::uint64_t>()); }

std::string with_commas(std::uint64_t n) {
  std::string d = std::to_string(n), out;
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (i > 0 && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return out;
}

// Every figure of the page that is stable on a quiet hub, compared with the status
// document; the differences, one per line (empty when they agree).
std::string differences(const nlohmann::json& page, const nlohmann::json& st) {
  std::ostringstream d;
  auto same = [&](const char* what, const nlohmann::json& shown, const std::string& want) {
    std::string got = shown.is_string() ? shown.get<std::string>() : shown.dump();
    if (got != want) d << what << ": page " << got << ", status " << want << "\n";
  };
  std::uint64_t naks = 0;
  for (const auto& [k, n] : st["counters"]["naks"].items()) naks += n.get<std::uint64_t>();
  same("hub id", page["hub_id"], st["hub_id"].get<std::string>());
  same("hub id text", page["hub_id_text"], st["hub_id"].get<std::string>());
  same("version", page["version"], st["version"].get<std::string>());
  same("events in", page["events_in"], num(st["counters"]["events_in"]));
  same("events out", page["events_out"], num(st["counters"]["events_out"]));
  same("duplicates", page["duplicates"], num(st["counters"]["duplicates"]));
  same("naks", page["naks"], std::to_string(naks));
  same("clients", page["clients"], std::to_string(st["clients"].size()));
  same("alerts", page["alerts"], std::to_string(st["alerts"]["firing"].size()));
  same("store kind", page["store_kind"], st["store"]["kind"].get<std::string>());
  same("store writable", page["store_writable"], st["store"]["writable"].get<bool>() ? "true" : "false");
  same("store records", page["store_records"], num(st["store"]["records"]));
  same("store durable", page["store_durable"], num(st["store"]["durable_end"]));
  same("store bytes", page["store_bytes"], num(st["store"]["bytes"]));
  same("store segments", page["store_segments"], num(st["store"]["segments"]));
  std::vector<std::string> names, roles, lags, adapters;
  for (const auto& c : st["clients"]) {
    names.push_back(c["name"].get<std::string>().empty() ? c["identity"].get<std::string>() : c["name"].get<std::string>());
    roles.push_back(c["role"].get<std::string>());
  }
  for (const auto& x : st["subscriptions"]) lags.push_back(with_commas(x["lag"].get<std::uint64_t>()));
  for (const auto& a : st["adapters"]) adapters.push_back(a["adapter"].get<std::string>());
  for (auto* v : {&names, &roles, &lags, &adapters}) std::sort(v->begin(), v->end());
  same("client names", page["client_names"], nlohmann::json(names).dump());
  same("client roles", page["client_roles"], nlohmann::json(roles).dump());
  same("subscription lags", page["sub_lags"], nlohmann::json(lags).dump());
  same("adapters", page["adapters"], nlohmann::json(adapters).dump());
  return d.str();
}

}  // namespace

TEST_CASE("the dashboard refreshes live: figures change as events flow and match the status API",
          "[ops][dashboard][chromium][hubd]") {
  REQUIRE(have_program("chromium"));  // Debian package: chromium
  temp_dir dir("ops-dashboard-live");
  hubd_process hub({.http = true});
  REQUIRE(publish_test_events(hub.endpoint(), 30) == 30);
  REQUIRE(wait_for([&] {
    auto s = get_status(hub.http_address());
    return s && (*s)["counters"]["events_in"] == 30;
  }));

  chromium_page page("http://" + hub.http_address() + "/", dir.path());
  nlohmann::json shown;
  INFO(page.log());
  REQUIRE(wait_for([&] {
    shown = page.evaluate(page_figures_js);
    return shown["events_in"] == "30";
  }, std::chrono::seconds(20)));
  const int updates_at_load = shown["updates"].get<int>();

  // After the page loaded: more events, an adapter's heartbeat and a subscriber that
  // stays connected. The page must show them without being reloaded.
  REQUIRE(publish_test_events(hub.endpoint(), 20) == 20);
  {
    hub::sdk::publisher::options po;
    po.connection.endpoints = {hub.endpoint()};
    po.connection.client_name = "dashboard-heartbeat";
    hub::sdk::publisher pub(po);
    REQUIRE(pub.publish(heartbeat_envelope("unmiss-adapter", 3, 48)));
    REQUIRE(pub.flush(std::chrono::seconds(10)));
  }
  hub::sdk::subscriber::options so;
  so.connection.endpoints = {hub.endpoint()};
  so.connection.client_name = "dashboard-reader";
  so.start = hub::sdk::start_position::earliest();
  hub::sdk::subscriber sub(so);
  int read = 0;
  REQUIRE(wait_for([&] {
    while (sub.next(std::chrono::milliseconds(20))) ++read;
    return read == 51;
  }, std::chrono::seconds(20)));

  CHECK(wait_for([&] {
    shown = page.evaluate(page_figures_js);
    return shown["events_in"] == "51";
  }, std::chrono::seconds(20)));
  CHECK(shown["updates"].get<int>() > updates_at_load);
  CHECK(shown["adapters"] == nlohmann::json::array({"unmiss-adapter"}));

  // On a quiet hub the page and the status document agree on every figure that does
  // not tick by itself (rates, ages and uptime do).
  std::string diff;
  nlohmann::json status;
  CHECK(wait_for([&] {
    (void)sub.next(std::chrono::milliseconds(0));  // keeps the subscriber's connection alive
    auto s = get_status(hub.http_address());
    if (!s) return false;
    status = *s;
    diff = differences(page.evaluate(page_figures_js), status);
    return diff.empty();
  }, std::chrono::seconds(20)));
  INFO(status.dump(2));
  CHECK(diff == "");
  CHECK(status["counters"]["events_in"] == 51);
  bool reader_listed = false;
  for (const auto& c : status["clients"])
    reader_listed = reader_listed || (c["name"] == "dashboard-reader" && c["role"] == "subscriber");
  CHECK(reader_listed);
}
