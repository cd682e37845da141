// hubctl as a user runs it: the real binary against a real hubd.
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/hubd_process.h"
#include "tests/support/run_command.h"

namespace {

using run_result = hub::test::program_result;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs the real hubctl with the arguments (a time limit guards against a hang). `dir`
// is the test's scratch dir, where the files it names live.
run_result hubctl(const hub::test::temp_dir&, const std::vector<std::string>& args) {
  return hub::test::run_program(HUBCTL_PATH, args);
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
    // The same offsets, the stored copies, each marked as already stored.
    auto marked = acks;
    for (auto& l : marked) l += " (already stored)";
    CHECK(lines_of(again.out) == marked);
    auto rep = hubctl(dir, {"--hub", hub.endpoint(), "replay", "--from", "earliest"});
    CHECK(lines_of(rep.out).size() == 3);
  }
}

TEST_CASE("hubctl replay from an offset or a time prints exactly the events from there as JSON",
          "[hubctl][replay]") {
  hub::test::hubd_process hub;
  hub::test::temp_dir dir("hubctl");
  // Two files of three events; the second one's ids end in 11, 12, 13.
  std::string later = events_jsonl;
  for (const char* d : {"01", "02", "03"})
    later.replace(later.find(std::string("8d9e") + d), 6, std::string("8d9e1") + d[1]);
  std::ofstream(dir / "earlier.jsonl") << events_jsonl;
  std::ofstream(dir / "later.jsonl") << later;
  auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  REQUIRE(hubctl(dir, {"--hub", hub.endpoint(), "publish", (dir / "earlier.jsonl").string()}).exit_code == 0);
  // The next whole second, so that it can be written in ISO 8601 too: the earlier events
  // were stored (acked) before it, the later ones are published after it.
  const std::int64_t t = (now_ms() / 1000 + 1) * 1000;
  REQUIRE(hub::test::wait_for([&] { return now_ms() >= t; }, std::chrono::seconds(3)));
  REQUIRE(hubctl(dir, {"--hub", hub.endpoint(), "publish", (dir / "later.jsonl").string()}).exit_code == 0);

  auto replay = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--hub", hub.endpoint(), "replay"});
    auto r = hubctl(dir, args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    std::vector<std::pair<std::uint64_t, std::string>> got;  // offset, id
    for (const auto& l : lines_of(r.out)) {
      auto j = nlohmann::json::parse(l);
      got.emplace_back(j["offset"].get<std::uint64_t>(), j["id"].get<std::string>());
    }
    return got;
  };
  using rows = std::vector<std::pair<std::uint64_t, std::string>>;
  const std::string id = "0190f3c2a1b27c3d8e4f5a6b7c8d9e";
  const rows later_rows = {{3, id + "11"}, {4, id + "12"}, {5, id + "13"}};
  SECTION("from an offset") {
    CHECK(replay({"--from", "offset:2"}) == rows{{2, id + "03"}, {3, id + "11"}, {4, id + "12"}, {5, id + "13"}});
    CHECK(replay({"--from", "offset:4", "--to", "offset:5"}) == rows{{4, id + "12"}});
    CHECK(replay({"--from", "offset:6"}).empty());
  }
  SECTION("from a time in milliseconds") {
    CHECK(replay({"--from", "time:" + std::to_string(t)}) == later_rows);
    // After the newest event: nothing to print, and that is a success (not a 10 s wait).
    CHECK(replay({"--from", "time:" + std::to_string(now_ms() + 3'600'000)}).empty());
  }
  SECTION("from a time in ISO 8601") {
    const std::time_t secs = static_cast<std::time_t>(t / 1000);
    std::tm utc{};
    ::gmtime_r(&secs, &utc);
    char iso[32];
    std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &utc);
    CHECK(replay({"--from", std::string("time:") + iso}) == later_rows);
    CHECK(replay({"--from", "time:" + std::to_string(t - 3'600'000)}).size() == 6);
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
  auto status = hubctl(dir, {"--hub", hub.endpoint(), "status", "--zmq", "--json"});
  REQUIRE(status.exit_code == 0);
  CHECK(nlohmann::json::parse(status.out)["store"]["end"] == 0);
}

TEST_CASE("hubctl status prints the hub's status and says so when no hub answers", "[hubctl]") {
  hub::test::hubd_process hub;
  hub::test::temp_dir dir("hubctl");
  // This hub serves no ops endpoint: --zmq asks its client socket (tests/ops covers the
  // ops endpoint and the fallback).
  auto r = hubctl(dir, {"--hub", hub.endpoint(), "status", "--zmq", "--json"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j.contains("hub_id"));
  auto none = hubctl(dir, {"--hub", "tcp://127.0.0.1:1", "status", "--http", "127.0.0.1:1", "--timeout", "300ms"});
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

TEST_CASE("hubctl --help and the --help of every subcommand, nested ones included, print its usage", "[hubctl][help]") {
  hub::test::temp_dir dir("hubctl");
  // Every command of tools/hubctl (command_table() in main.cc and the subcommands each
  // adds). The list is checked against `hubctl --help` below, so a new command that is
  // missing here fails the test.
  const std::vector<std::vector<std::string>> commands = {
      {},
      {"publish"},
      {"tail"},
      {"replay"},
      {"status"},
      {"alerts"},
      {"alerts", "ack"},
      {"alerts", "silence"},
      {"rules"},
      {"rules", "check"},
      {"rules", "reload"},
      {"rules", "backtest"},
      {"keys"},
      {"keys", "generate"},
      {"acl"},
      {"acl", "check"},
      {"top"},
      {"log"},
      {"log", "stats"},
      {"log", "verify"},
      {"log", "remove-consumer"},
  };
  std::map<std::string, std::vector<std::string>> listed;  // parent -> subcommands its --help lists
  for (const auto& cmd : commands) {
    std::string name = "hubctl";
    for (const auto& c : cmd) name += " " + c;
    INFO(name << " --help");
    auto args = cmd;
    args.push_back("--help");
    auto r = hubctl(dir, args);
    CHECK(r.exit_code == 0);
    // The usage line names the command path (after the program's own path).
    auto usage = r.out.find("Usage:");
    REQUIRE(usage != std::string::npos);
    auto line = r.out.substr(usage, r.out.find('\n', usage) - usage);
    INFO(line);
    CHECK_THAT(line, Catch::EndsWith(name.substr(6) + " [OPTIONS]") || Catch::Contains(name.substr(6) + " [OPTIONS] "));
    CHECK_THAT(line, Catch::Contains("hubctl"));
    // Subcommands it lists, to compare with the table above.
    auto sub = r.out.find("Subcommands:");
    if (sub != std::string::npos) {
      std::istringstream in(r.out.substr(sub));
      std::string l;
      std::getline(in, l);
      while (std::getline(in, l) && l.rfind("  ", 0) == 0) {
        std::istringstream words(l);
        std::string w;
        words >> w;
        listed[name].push_back(w);
      }
    }
  }
  // Every subcommand a --help lists is in the table (and so was tried above).
  std::set<std::vector<std::string>> known(commands.begin(), commands.end());
  CHECK(listed.size() >= 6);
  for (const auto& [parent, subs] : listed) {
    std::vector<std::string> path;
    std::istringstream words(parent);
    std::string w;
    words >> w;  // "hubctl"
    while (words >> w) path.push_back(w);
    for (const auto& s : subs) {
      auto p = path;
      p.push_back(s);
      INFO(parent << " lists " << s);
      CHECK(known.count(p) == 1);
    }
  }
}

TEST_CASE("hubctl alerts shows a firing alert and who took it", "[hubctl][alerts]") {
  hub::test::hubd_process hub({.extra_args = {"--store", "memory", "--rules",
                                              std::string(HUB_SOURCE_DIR) + "/deploy/rules/a4p.yaml"}});
  hub::test::temp_dir dir("hubctl-alerts");
  // An active mission activity with no gender marker: R6 (gender perspective missing).
  std::ofstream(dir / "a.jsonl")
      << R"({"source_system":"unmiss-plans","entity":"peacekeeping","country":"SSD","occurred_at":"2025-02-01",)"
      << R"("source_record_id":"MA-9","payload_type":"mandate_activity",)"
      << R"("payload":{"activity_id":"MA-9","title":"Patrols","mandate_area":"poc","status":"active"}})" << "\n";
  REQUIRE(hubctl(dir, {"--hub", hub.endpoint(), "publish", (dir / "a.jsonl").string()}).exit_code == 0);
  nlohmann::json alert;
  REQUIRE(hub::test::wait_for([&] {
    auto r = hubctl(dir, {"--hub", hub.endpoint(), "alerts", "--json"});
    for (const auto& l : lines_of(r.out)) {
      auto j = nlohmann::json::parse(l);
      if (j["rule"] == "R6") alert = j;
    }
    return !alert.is_null();
  }, std::chrono::seconds(20)));
  CHECK(alert["status"] == "firing");
  CHECK(alert["severity"] == "warning");
  CHECK(alert["country"] == "SSD");
  CHECK_FALSE(alert["closing_action"].get<std::string>().empty());
  CHECK_FALSE(alert["evidence"].empty());

  auto table = hubctl(dir, {"--hub", hub.endpoint(), "alerts", "--country", "SSD"});
  CHECK_THAT(table.out, Catch::Contains("R6") && Catch::Contains("SEVERITY"));
  auto other = hubctl(dir, {"--hub", hub.endpoint(), "alerts", "--country", "CAF"});
  CHECK_THAT(other.out, Catch::Contains("no alert firing in CAF"));

  auto ack = hubctl(dir, {"--hub", hub.endpoint(), "alerts", "ack", alert["alert_id"].get<std::string>(), "--by",
                          "RCO Juba", "--note", "gender adviser assigned"});
  REQUIRE(ack.exit_code == 0);
  CHECK(hub::test::wait_for([&] {
    auto r = hubctl(dir, {"--hub", hub.endpoint(), "alerts", "--json"});
    for (const auto& l : lines_of(r.out)) {
      auto j = nlohmann::json::parse(l);
      if (j["alert_id"] == alert["alert_id"] && j["acknowledged_by"] == "RCO Juba") return true;
    }
    return false;
  }, std::chrono::seconds(20)));
  auto bad = hubctl(dir, {"--hub", hub.endpoint(), "alerts", "ack", "no-such-alert", "--by", "x"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("no firing alert"));
}

TEST_CASE("hubctl rules check names the file and line of an error", "[hubctl][rules]") {
  hub::test::temp_dir dir("hubctl-rules");
  auto good = hubctl(dir, {"rules", "check", std::string(HUB_SOURCE_DIR) + "/deploy/rules/a4p.yaml"});
  CHECK(good.exit_code == 0);
  CHECK_THAT(good.out, Catch::Contains("R1"));
  std::ofstream(dir / "bad.yaml") << "groups:\n  - name: g\n    rules:\n      - id: X1\n        kind: condition\n"
                                     "        on: {event_types: [no_such_type]}\n";
  auto bad = hubctl(dir, {"rules", "check", (dir / "bad.yaml").string()});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.out + bad.err, Catch::Contains("bad.yaml:"));
}

namespace {

// One condition rule on mission activities; `id` and the mandate area it flags vary.
std::string one_rule(const std::string& id, const std::string& area) {
  return "groups:\n  - name: test\n    rules:\n      - id: " + id +
         "\n        name: area-flag\n        version: 1\n        kind: condition\n"
         "        anchor: \"test anchor\"\n        severity: warning\n"
         "        on:\n          event_types: [mandate_activity]\n"
         "        fire_if:\n          - {field: payload.mandate_area, equals: " + area + "}\n"
         "        key: [country, source_system, source_record_id]\n"
         "        title: \"" + id + " flagged: {key}\"\n"
         "        description: \"A test rule.\"\n"
         "        closing_action: \"Change the area.\"\n";
}

std::string mission_activity(const std::string& record, const std::string& area) {
  return R"({"source_system":"unmiss-plans","entity":"peacekeeping","country":"SSD","occurred_at":"2025-02-01",)"
         R"("source_record_id":")" + record + R"(","payload_type":"mandate_activity",)"
         R"("payload":{"activity_id":")" + record + R"(","title":"Patrols","mandate_area":")" + area +
         R"(","status":"active"}})" "\n";
}

}  // namespace

TEST_CASE("hubctl rules reload puts edited rules in force and refuses a broken file", "[hubctl][rules]") {
  hub::test::temp_dir dir("hubctl-reload");
  const auto rules = dir / "rules.yaml";
  std::ofstream(rules) << one_rule("T1", "poc");
  hub::test::hubd_process hub({.extra_args = {"--store", "memory", "--rules", rules.string()}, .http = true});
  auto fires = [&](const std::string& rule, const std::string& record) {
    return hub::test::wait_for([&] {
      auto r = hubctl(dir, {"--hub", hub.endpoint(), "alerts", "--json"});
      for (const auto& l : lines_of(r.out)) {
        auto j = nlohmann::json::parse(l);
        if (j["rule"] == rule && j["key"].get<std::string>().find(record) != std::string::npos) return true;
      }
      return false;
    }, std::chrono::seconds(20));
  };
  auto publish = [&](const std::string& record, const std::string& area) {
    std::ofstream(dir / "e.jsonl") << mission_activity(record, area);
    REQUIRE(hubctl(dir, {"--hub", hub.endpoint(), "publish", (dir / "e.jsonl").string()}).exit_code == 0);
  };
  publish("MA-1", "poc");
  REQUIRE(fires("T1", "MA-1"));

  // An edited file: a second rule on another mandate area.
  std::ofstream(rules) << one_rule("T1", "poc") << one_rule("T2", "ssr").substr(std::string("groups:\n").size());
  auto ok = hubctl(dir, {"rules", "reload", "--http", hub.http_address()});
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.out, Catch::Contains("reloaded"));
  publish("MA-2", "ssr");
  CHECK(fires("T2", "MA-2"));

  // A broken file is refused with its line, and the rules in force stay.
  std::ofstream(rules) << one_rule("T1", "poc") << "      - id: T3\n        kind: no_such_kind\n";
  auto bad = hubctl(dir, {"rules", "reload", "--http", hub.http_address()});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("rules.yaml:") && Catch::Contains("rules in force stay"));
  publish("MA-3", "ssr");
  CHECK(fires("T2", "MA-3"));
  CHECK(hub.running());

  // A hub without rules says so.
  hub::test::hubd_process plain({.extra_args = {"--store", "memory"}, .http = true});
  auto none = hubctl(dir, {"rules", "reload", "--http", plain.http_address()});
  CHECK(none.exit_code == 1);
  CHECK_THAT(none.err, Catch::Contains("no rules module"));
}

TEST_CASE("hubctl keys generate writes keys an ACL can use, and acl check validates it", "[hubctl][keys]") {
  hub::test::temp_dir dir("hubctl-keys");
  auto gen = hubctl(dir, {"keys", "generate", (dir / "unmiss").string(), "--signing"});
  REQUIRE(gen.exit_code == 0);
  auto mode = std::filesystem::status(dir / "unmiss.key").permissions();
  CHECK((mode & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) ==
        std::filesystem::perms::none);
  CHECK(std::filesystem::exists(dir / "unmiss.sign.key"));
  auto again = hubctl(dir, {"keys", "generate", (dir / "unmiss").string()});
  CHECK(again.exit_code == 2);  // never overwrites
  std::string pub = slurp(dir / "unmiss.pub");
  pub.erase(pub.find_last_not_of("\n") + 1);
  std::string sign = slurp(dir / "unmiss.sign.pub");
  sign.erase(sign.find_last_not_of("\n") + 1);
  std::ofstream(dir / "acl.yaml") << "identities:\n  - name: unmiss-adapter\n    public_key: \"" << pub
                                  << "\"\n    entities: [peacekeeping]\n    signing_key: \"" << sign
                                  << "\"\n    require_signature: true\n";
  auto ok = hubctl(dir, {"acl", "check", (dir / "acl.yaml").string()});
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.out, Catch::Contains("unmiss-adapter: publishes peacekeeping") && Catch::Contains("must sign"));
  std::ofstream(dir / "bad.yaml") << "identities:\n  - name: x\n    public_key: nope\n";
  auto bad = hubctl(dir, {"acl", "check", (dir / "bad.yaml").string()});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("bad.yaml:3"));
}

TEST_CASE("hubctl top --once prints the hub's live figures from its ops endpoint", "[hubctl][ops]") {
  hub::test::hubd_process hub({.extra_args = {"--store", "memory"}, .http = true});
  hub::test::temp_dir dir("hubctl-top");
  REQUIRE_FALSE(hub.http_address().empty());
  std::ofstream(dir / "a.jsonl") << events_jsonl;
  REQUIRE(hubctl(dir, {"--hub", hub.endpoint(), "publish", (dir / "a.jsonl").string()}).exit_code == 0);
  run_result r;
  CHECK(hub::test::wait_for([&] {
    r = hubctl(dir, {"top", "--once", "--http", hub.http_address()});
    return r.exit_code == 0 && r.out.find("stored 3 ") != std::string::npos;
  }));
  auto down = hubctl(dir, {"top", "--once", "--http", "127.0.0.1:1"});
  CHECK(down.exit_code == 1);
  CHECK_FALSE(down.err.empty());
}

TEST_CASE("hubctl log stats shows the log's offsets, size and durable end", "[hubctl][log]") {
  hub::test::hubd_process hub({.extra_args = {"--store", "embedded"}});
  hub::test::temp_dir dir("hubctl-log");
  std::ofstream(dir / "a.jsonl") << events_jsonl;
  REQUIRE(hubctl(dir, {"--hub", hub.endpoint(), "publish", (dir / "a.jsonl").string()}).exit_code == 0);
  auto r = hubctl(dir, {"--hub", hub.endpoint(), "log", "stats"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("store        embedded"));
  CHECK_THAT(r.out, Catch::Contains("offsets      0 .. 3 (durable up to 3)"));
  auto j = hubctl(dir, {"--hub", hub.endpoint(), "log", "stats", "--json"});
  auto doc = nlohmann::json::parse(j.out);
  CHECK(doc["store"]["records"] == 3);
  CHECK(doc["store"]["segments"].get<int>() >= 1);
}
