// The files in deploy/ are checked by the tools that will read them in production.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

namespace {

const std::filesystem::path source_dir = HUB_SOURCE_DIR;

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) s.replace(pos, from.size(), to);
}

// The unit with ExecStart pointing at this build's hubd, since systemd-analyze checks
// that the program exists.
std::filesystem::path unit_for_this_build(const hub::test::temp_dir& dir, const std::string& extra = {}) {
  std::string unit = read_file(source_dir / "deploy/systemd/hubd.service");
  REQUIRE_FALSE(unit.empty());
  replace_all(unit, "/usr/local/bin/hubd", HUBD_PATH);
  replace_all(unit, "[Install]", extra + "[Install]");
  auto path = dir / "hubd.service";
  std::ofstream(path) << unit;
  return path;
}

}  // namespace

TEST_CASE("promtool accepts the hub's alerting rules", "[ops][deploy][promtool]") {
  hub::test::temp_dir dir("ops-deploy");
  REQUIRE(hub::test::have_program("promtool"));  // Debian package: prometheus
  auto res = hub::test::run_command(
      {"promtool", "check", "rules", (source_dir / "deploy/prometheus/hub-alerts.yml").string()}, dir.path());
  INFO(res.output);
  CHECK(res.exit_code == 0);
  for (const char* alert : {"HubDown", "HubConsumerLagGrowing", "HubDiskNearlyFull", "HubNotReady", "HubAdapterSilent"}) {
    INFO(alert);
    CHECK(read_file(source_dir / "deploy/prometheus/hub-alerts.yml").find(std::string("alert: ") + alert) !=
          std::string::npos);
  }
}

TEST_CASE("promtool accepts the scrape configuration and the rules it loads", "[ops][deploy][promtool]") {
  hub::test::temp_dir dir("ops-deploy");
  REQUIRE(hub::test::have_program("promtool"));
  auto res = hub::test::run_command(
      {"promtool", "check", "config", (source_dir / "deploy/prometheus/prometheus.yml").string()}, dir.path());
  INFO(res.output);
  CHECK(res.exit_code == 0);
  CHECK(res.output.find("1 rule files found") != std::string::npos);
}

TEST_CASE("promtool refuses a rule with a broken expression, so the checks above can fail", "[ops][deploy][promtool]") {
  hub::test::temp_dir dir("ops-deploy");
  std::ofstream(dir / "bad.yml") << "groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: rate(hub_naks_total[5m] > 1\n";
  auto res = hub::test::run_command({"promtool", "check", "rules", (dir / "bad.yml").string()}, dir.path());
  CHECK(res.exit_code != 0);
}

TEST_CASE("the alerting rules pass their promtool unit tests: each fires when it should and only then",
          "[ops][deploy][promtool]") {
  hub::test::temp_dir dir("ops-deploy");
  REQUIRE(hub::test::have_program("promtool"));
  // deploy/prometheus/hub-alerts.test.yml: HubDown, HubConsumerLagGrowing,
  // HubDiskNearlyFull and HubAdapterSilent, each firing and not firing.
  auto res = hub::test::run_command(
      {"promtool", "test", "rules", (source_dir / "deploy/prometheus/hub-alerts.test.yml").string()}, dir.path());
  INFO(res.output);
  CHECK(res.exit_code == 0);
  CHECK(res.output.find("SUCCESS") != std::string::npos);
  std::string tests = read_file(source_dir / "deploy/prometheus/hub-alerts.test.yml");
  for (const char* alert : {"HubDown", "HubConsumerLagGrowing", "HubDiskNearlyFull", "HubAdapterSilent"}) {
    INFO(alert);
    CHECK(tests.find(std::string("alertname: ") + alert) != std::string::npos);
  }
}

TEST_CASE("the rules' unit tests fail against a rule that fires too late, so the check above can fail",
          "[ops][deploy][promtool]") {
  hub::test::temp_dir dir("ops-deploy");
  // The same tests next to a copy of the rules whose adapter threshold is an hour.
  std::string rules = read_file(source_dir / "deploy/prometheus/hub-alerts.yml");
  replace_all(rules, "hub_adapter_heartbeat_age_seconds > 300", "hub_adapter_heartbeat_age_seconds > 3600");
  std::ofstream(dir / "hub-alerts.yml") << rules;
  std::ofstream(dir / "hub-alerts.test.yml") << read_file(source_dir / "deploy/prometheus/hub-alerts.test.yml");
  auto res = hub::test::run_command({"promtool", "test", "rules", (dir / "hub-alerts.test.yml").string()}, dir.path());
  INFO(res.output);
  CHECK(res.exit_code != 0);
  CHECK(res.output.find("HubAdapterSilent") != std::string::npos);
}

TEST_CASE("systemd-analyze verify finds nothing to say about the unit", "[ops][deploy][systemd]") {
  hub::test::temp_dir dir("ops-deploy");
  REQUIRE(hub::test::have_program("systemd-analyze"));  // Debian package: systemd
  auto res = hub::test::run_command({"systemd-analyze", "verify", unit_for_this_build(dir).string()}, dir.path());
  INFO(res.output);
  CHECK(res.exit_code == 0);
  CHECK(res.output.find("hubd.service") == std::string::npos);  // no warning names the unit
}

TEST_CASE("systemd-analyze verify reports a misspelt directive, so the check above can fail", "[ops][deploy][systemd]") {
  hub::test::temp_dir dir("ops-deploy");
  auto res = hub::test::run_command(
      {"systemd-analyze", "verify", unit_for_this_build(dir, "[Service]\nRestartt=always\n").string()}, dir.path());
  CHECK(res.output.find("Restartt") != std::string::npos);
}

TEST_CASE("the unit is hardened and reloads with SIGHUP", "[ops][deploy][systemd]") {
  std::string unit = read_file(source_dir / "deploy/systemd/hubd.service");
  for (const char* line : {"User=hub", "StateDirectory=hub", "ProtectSystem=strict", "NoNewPrivileges=yes",
                           "Restart=on-failure", "TimeoutStopSec=", "ExecReload=/bin/kill -HUP $MAINPID"}) {
    INFO(line);
    CHECK(unit.find(line) != std::string::npos);
  }
}

TEST_CASE("hubd accepts the example configuration as written", "[ops][deploy][config]") {
  hub::test::temp_dir dir("ops-deploy");
  auto res = hub::test::run_command(
      {HUBD_PATH, "--config", (source_dir / "deploy/hubd.example.yaml").string(), "--print-config"}, dir.path());
  INFO(res.output);
  CHECK(res.exit_code == 0);
  CHECK(res.output.find("http: 127.0.0.1:7470") != std::string::npos);
  CHECK(res.output.find("fsync: batch") != std::string::npos);
}

TEST_CASE("every key of the example configuration has a comment", "[ops][deploy][config]") {
  std::istringstream in(read_file(source_dir / "deploy/hubd.example.yaml"));
  std::string line, previous;
  int keys = 0;
  while (std::getline(in, line)) {
    auto first = line.find_first_not_of(' ');
    bool is_key = first != std::string::npos && line[first] != '#' && line[first] != '-' &&
                  line.find(':') != std::string::npos;
    if (is_key && line.back() != ':') {  // a value line, not a section header
      ++keys;
      INFO(line);
      CHECK(previous.find('#') != std::string::npos);
    }
    if (!line.empty()) previous = line;
  }
  CHECK(keys >= 18);
}
