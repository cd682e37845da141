// The demo end to end: deploy/demo/run starts hubd and the adapters in watch mode and
// drops the fictional data set into their folders; the alerts it streams must show the
// expected rules firing and resolving, every file must have been imported by a watching
// adapter, and every process it started must be gone when it exits.
#include <signal.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "tests/adapters_common/import_helpers.h"

using namespace hub;

TEST_CASE("the demo fires the expected coherence alerts and resolves some as later files arrive", "[demo]") {
  test::temp_dir dir("demo");
  std::string cmd = "HUB_BUILD_DIR='" + std::string(HUB_BUILD_DIR) + "' HUB_DEMO_OUT='" + (dir / "out").string() +
                    "' timeout 240 '" + std::string(HUB_SOURCE_DIR) + "/deploy/demo/run' --no-build --pause 0";
  auto r = test::run_program(cmd, dir.path(), "demo");
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("== alerts:"));

  // hubd, the alert tail and one watching adapter per kind, each stopped by the script.
  std::map<std::string, int> started;
  std::istringstream pids(test::read_file(dir / "out" / "pids"));
  for (std::string pid, name; pids >> pid >> name;) {
    ++started[name];
    CAPTURE(name, pid);
    CHECK((::kill(std::stoi(pid), 0) == -1 && errno == ESRCH));
  }
  for (const char* p : {"hubd", "hubctl", "strategy-adapter", "peacekeeping-adapter", "country-team-adapter",
                        "development-adapter", "peacebuilding-adapter"}) {
    CAPTURE(p);
    CHECK(started[p] == 1);
  }
  // Each data file went through its adapter's inbox and was imported by the watch.
  std::size_t files = 0;
  for (const auto& f : std::filesystem::directory_iterator(std::filesystem::path(HUB_SOURCE_DIR) / "deploy/demo/data")) {
    ++files;
    CAPTURE(f.path().filename().string());
    CHECK_THAT(r.out, Catch::Contains("/" + f.path().filename().string() + ": read "));
  }
  CHECK(files == 11);
  CHECK_THAT(test::read_file(dir / "out" / "peacekeeping.log"), Catch::Contains("watching "));

  std::map<std::string, std::set<std::string>> seen;  // rule -> {firing, resolved}
  std::istringstream alerts(test::read_file(dir / "out" / "alerts.jsonl"));
  std::string line;
  while (std::getline(alerts, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    const auto& p = j["payload"];
    std::string rule = p.value("rule_id", "");
    std::string status = p.value("status", "firing");
    CHECK(j.value("country", "") == "SSD");
    seen[rule].insert(status);
  }
  INFO(test::read_file(dir / "out" / "alerts.jsonl"));
  for (const char* rule : {"R2", "R3", "R4", "R5", "R6", "R8", "R8-un"}) {
    CAPTURE(rule);
    CHECK(seen[rule].count("firing") == 1);
  }
  for (const char* rule : {"R3", "R4", "R5", "R6", "R8", "R8-un"}) {
    CAPTURE(rule);
    CHECK(seen[rule].count("resolved") == 1);
  }
  // The elections activity claims a protection objective outside its area: still open.
  CHECK(seen["R2"].count("resolved") == 0);
}
