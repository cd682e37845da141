// hubctl as a user runs it: the real binary against a real hubd.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/hubd_process.h"

namespace {

struct run_result {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs hubctl with the arguments; a time limit guards against a hang.
run_result hubctl(const hub::test::temp_dir& dir, const std::vector<std::string>& args) {
  std::string cmd = "timeout 60 " + quote(HUBCTL_PATH);
  for (const auto& a : args) cmd += " " + quote(a);
  auto err_file = dir / "stderr.txt";
  cmd += " 2>" + quote(err_file.string()) + " </dev/null";
  run_result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.err = slurp(err_file);
  return r;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l))
    if (!l.empty()) out.push_back(l);
  return out;
}

const char* events_jsonl =
    R"({"id":"0190f3c2a1b27c3d8e4f5a6b7c8d9e01","source_system":"unmiss-adapter","entity":"peacekeeping","country":"SSD","occurred_at":"2025-02-01","payload_type":"mandate_activity","payload":{"activity_id":"A-1","title":"Patrols","mandate_area":"poc"}})"
    "\n"
    R"({"id":"0190f3c2a1b27c3d8e4f5a6b7c8d9e02","source_system":"iati-adapter","entity":"development","country":"SSD","payload_type":"ProgrammeActivity","payload":{"iati_identifier":"XM-DAC-41114-1","title":"Rule of law"}})"
    "\n\n"
    R"({"id":"0190f3c2a1b27c3d8e4f5a6b7c8d9e03","source_system":"pbf-adapter","entity":"peacebuilding","country":"SSD","payload_type":"peacebuilding_project","payload":{"project_number":"00123","gewe_allocation":{"currency":"USD","amount":1000}}})"
    "\n";

}  // namespace

TEST_CASE("hubctl publish then tail from earliest prints the published events", "[hubctl]") {
  hub::test::hubd_process hub;
  hub::test::temp_dir dir("hubctl");
  {
    std::ofstream out(dir / "events.jsonl");
    out << events_jsonl;
  }
  auto pub = hubctl(dir, {"--hub", hub.endpoint(), "publish", (dir / "events.jsonl").string()});
  INFO(pub.err);
  REQUIRE(pub.exit_code == 0);
  auto acks = lines_of(pub.out);
  REQUIRE(acks.size() == 3);
  CHECK_THAT(acks[0], Catch::StartsWith("acked offset ") && Catch::Contains("0190f3c2a1b27c3d8e4f5a6b7c8d9e01"));

  auto tail = hubctl(dir, {"--hub", hub.endpoint(), "tail", ">", "--from", "earliest", "--count", "3", "--timeout",
                           "20s"});
  INFO(tail.err);
  REQUIRE(tail.exit_code == 0);
  auto lines = lines_of(tail.out);
  REQUIRE(lines.size() == 3);
  auto first = nlohmann::json::parse(lines[0]);
  CHECK(first["id"] == "0190f3c2a1b27c3d8e4f5a6b7c8d9e01");
  CHECK(first["topic"] == "peacekeeping.SSD.mandate_activity");
  CHECK(first["payload"]["mandate_area"] == "poc");
  CHECK(nlohmann::json::parse(lines[2])["topic"] == "peacebuilding.SSD.peacebuilding_project");

  SECTION("a pattern selects topics") {
    auto pk = hubctl(dir, {"--hub", hub.endpoint(), "tail", "development.*.*", "--from", "earliest", "--count", "1",
                           "--timeout", "20s", "--table"});
    REQUIRE(pk.exit_code == 0);
    auto rows = lines_of(pk.out);
    REQUIRE(rows.size() == 2);  // header and one event
    CHECK_THAT(rows[1], Catch::Contains("development.SSD.programme_activity"));
  }
  SECTION("replay prints everything stored and exits") {
    auto rep = hubctl(dir, {"--hub", hub.endpoint(), "replay", "--from", "earliest"});
    INFO(rep.err);
    REQUIRE(rep.exit_code == 0);
    CHECK(lines_of(rep.out).size() == 3);
    auto only = hubctl(dir, {"--hub", hub.endpoint(), "replay", "--from", "earliest", "--pattern", "peacebuilding.>"});
    REQUIRE(only.exit_code == 0);
    REQUIRE(lines_of(only.out).size() == 1);
  }
  SECTION("publishing the same file again stores nothing twice") {
    auto again = hubctl(dir, {"--hub", hub.endpoint(), "publish", (dir / "events.jsonl").string()});
    REQUIRE(again.exit_code == 0);
    CHECK(lines_of(again.out) == acks);  // the same offsets: the stored copies
    auto rep = hubctl(dir, {"--hub", hub.endpoint(), "replay", "--from", "earliest"});
    CHECK(lines_of(rep.out).size() == 3);
  }
}

TEST_CASE("hubctl publish with a bad line names it and publishes nothing", "[hubctl]") {
  hub::test::hubd_process hub;
  hub::test::temp_dir dir("hubctl");
  auto file = dir / "bad.jsonl";
  {
    std::ofstream out(file);
    out << R"({"source_system":"a","entity":"peacekeeping","country":"SSD","payload_type":"mandate_activity","payload":{}})"
        << "\n"
        << R"({"source_system":"a","entity":"peacekeeping","country":"SSD","payload_type":"mandate_activity","payload":{"mandate_area":"everything"}})"
        << "\n";
  }
  auto r = hubctl(dir, {"--hub", hub.endpoint(), "publish", file.string()});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(file.string() + ":2:") && Catch::Contains("mandate_area") &&
                        Catch::Contains("nothing was published"));
  CHECK(r.out.empty());
  auto status = hubctl(dir, {"--hub", hub.endpoint(), "status", "--json"});
  REQUIRE(status.exit_code == 0);
  CHECK(nlohmann::json::parse(status.out)["store"]["end"] == 0);
}

TEST_CASE("hubctl status prints the hub's status and says so when no hub answers", "[hubctl]") {
  hub::test::hubd_process hub;
  hub::test::temp_dir dir("hubctl");
  auto r = hubctl(dir, {"--hub", hub.endpoint(), "status"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j.contains("hub_id"));
  auto none = hubctl(dir, {"--hub", "tcp://127.0.0.1:1", "status", "--timeout", "300ms"});
  CHECK(none.exit_code == 1);
  CHECK_THAT(none.err, Catch::Contains("no answer") && Catch::Contains("tcp://127.0.0.1:1"));
}

TEST_CASE("hubctl refuses bad options with a message", "[hubctl]") {
  hub::test::temp_dir dir("hubctl");
  auto r = hubctl(dir, {"tail", "a..b"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("not a pattern"));
  auto s = hubctl(dir, {"tail", ">", "--from", "last-week"});
  CHECK(s.exit_code == 2);
  CHECK_THAT(s.err, Catch::Contains("not a start position"));
  auto h = hubctl(dir, {"tail", "--help"});
  CHECK(h.exit_code == 0);
  CHECK_THAT(h.out, Catch::Contains("Examples"));
}
