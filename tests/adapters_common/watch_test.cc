// The adapter programs in watch mode against a real hubd, as an operator runs them: a
// file dropped into the folder while the adapter runs is imported, a changed file is
// read again and only its changed records become new events, a file still being
// written is waited for, an idle adapter keeps sending heartbeats, and every adapter's
// --once scan imports its kind of file once. Also the plain progress lines of a long
// import. Adapters run as child processes and are stopped by their pid.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "adapters/sdk/sdk.h"
#include "tests/adapters_common/import_helpers.h"
#include "tests/support/child_process.h"
#include "tests/support/hubd_process.h"
#include "tests/support/run_command.h"

using namespace hub;
using namespace std::chrono_literals;

namespace {

// Every "imported FILE: read R, published P, skipped S, duplicates D" line of a watch
// log that names `file`.
struct file_done {
  long read = -1, published = -1, skipped = -1, duplicates = -1;
};
std::vector<file_done> imports_of(const std::string& err, const std::string& file) {
  std::vector<file_done> out;
  std::regex line("imported (.*): read ([0-9]+), published ([0-9]+), skipped ([0-9]+), duplicates ([0-9]+)");
  for (auto it = std::sregex_iterator(err.begin(), err.end(), line); it != std::sregex_iterator(); ++it) {
    if ((*it)[1].str().find(file) == std::string::npos) continue;
    out.push_back({std::stol((*it)[2]), std::stol((*it)[3]), std::stol((*it)[4]), std::stol((*it)[5])});
  }
  return out;
}

// Writes a file under a temporary name, then renames it into the watched folder, as a
// sender should (the adapter ignores *.tmp).
void drop(const std::filesystem::path& dir, const std::string& name, const std::string& text) {
  auto tmp = dir / (name + ".tmp");
  test::write_file(tmp, text);
  std::filesystem::rename(tmp, dir / name);
}

// The first `n` lines of a file (its header rows included), each ending in '\n'.
std::string first_lines(const std::filesystem::path& file, std::size_t n) {
  std::ifstream in(file);
  std::string line, out;
  for (std::size_t i = 0; i < n && std::getline(in, line); ++i) out += line + "\n";
  return out;
}

std::vector<std::string> watch_args(const std::string& adapter, const std::filesystem::path& dir,
                                    const std::string& hub, std::vector<std::string> more) {
  std::vector<std::string> a = {adapter, "watch", dir.string(), "--hub", hub, "--progress", "none"};
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

// Counts events of a topic pattern in the hub, reading until `want` arrived or nothing
// came for a while.
std::size_t count_events(const std::string& endpoint, const std::string& pattern, std::size_t want) {
  sdk::subscriber::options so;
  so.connection.endpoints = {endpoint};
  so.pattern = pattern;
  so.start = sdk::start_position::earliest();
  sdk::subscriber sub(so);
  std::size_t n = 0;
  while (n < want) {
    auto ev = sub.next(n == 0 ? 10s : 3s);
    if (!ev) break;
    ++n;
  }
  // Anything beyond `want` would be a duplicate: look a little longer.
  while (sub.next(500ms)) ++n;
  return n;
}

}  // namespace

TEST_CASE("a watching adapter imports a file dropped into its folder while it runs",
          "[adapters][watch][hub]") {
  test::hubd_process hub;
  test::temp_dir dir("watch-drop");
  auto inbox = dir / "inbox";
  std::filesystem::create_directories(inbox);
  test::child_process adapter(watch_args(COUNTRY_TEAM_ADAPTER, inbox, hub.endpoint(),
                                         {"--poll-interval", "100", "--heartbeat-interval", "0"}),
                              dir / "ct.out", dir / "ct.err");
  REQUIRE(test::wait_for([&] { return adapter.err().find("watching ") != std::string::npos; }, 20s));
  CHECK(imports_of(adapter.err(), "lbn-3w").empty());  // nothing there yet

  drop(inbox, "lbn-3w-2024-08.csv", test::read_file(test::fixture("hxl/lbn-3w-2024-08.csv")));
  REQUIRE(test::wait_for([&] { return !imports_of(adapter.err(), "lbn-3w-2024-08.csv").empty(); }, 60s));
  auto done = imports_of(adapter.err(), "lbn-3w-2024-08.csv");
  REQUIRE(done.size() == 1);
  CHECK(done[0].read == 327);
  CHECK(done[0].published == 274);
  CHECK(done[0].skipped == 53);
  CHECK(done[0].duplicates == 0);
  // The hub has them, once each.
  CHECK(count_events(hub.endpoint(), "country_team.LBN.country_team_activity", 274) == 274);

  // Still running, and reading nothing more: stopped by its pid, it prints its summary.
  CHECK(adapter.running());
  CHECK(adapter.stop() == 0);
  CHECK_THAT(adapter.err(), Catch::Contains("summary: files 1 (refused 0), read 327, published 274"));
  CHECK(imports_of(adapter.err(), "lbn-3w-2024-08.csv").size() == 1);
}

TEST_CASE("a watching adapter reads a changed file again and only its changed records become new events",
          "[adapters][watch][hub]") {
  test::hubd_process hub;
  test::temp_dir dir("watch-change");
  auto inbox = dir / "inbox";
  std::filesystem::create_directories(inbox);
  // The header rows and the first 11 rows of the real August 3W.
  const std::string august = first_lines(test::fixture("hxl/lbn-3w-2024-08.csv"), 13);
  drop(inbox, "lbn-3w.csv", august);
  test::child_process adapter(watch_args(COUNTRY_TEAM_ADAPTER, inbox, hub.endpoint(),
                                         {"--poll-interval", "100", "--heartbeat-interval", "0"}),
                              dir / "ct.out", dir / "ct.err");
  REQUIRE(test::wait_for([&] { return imports_of(adapter.err(), "lbn-3w.csv").size() == 1; }, 60s));
  auto first = imports_of(adapter.err(), "lbn-3w.csv")[0];
  CHECK(first.read == 11);
  CHECK(first.published == 11);
  CHECK(first.skipped == 0);

  // The sender corrects one row (ISF + MCC's Parcels (Quantity) gets an organisation type)
  // and adds the next row of the real file.
  std::string corrected = august;
  const std::string row = "Saida,ISF + MCC,,,In Kind Food Assistance: Parcels (Quantity)";
  auto at = corrected.find(row);
  REQUIRE(at != std::string::npos);
  corrected.replace(at, row.size(), "Saida,ISF + MCC,,NGO,In Kind Food Assistance: Parcels (Quantity)");
  corrected += first_lines(test::fixture("hxl/lbn-3w-2024-08.csv"), 14).substr(august.size());
  drop(inbox, "lbn-3w.csv", corrected);

  REQUIRE(test::wait_for([&] { return imports_of(adapter.err(), "lbn-3w.csv").size() == 2; }, 60s));
  auto second = imports_of(adapter.err(), "lbn-3w.csv")[1];
  CHECK(second.read == 12);
  CHECK(second.published == 2);    // the corrected row (a new revision) and the added row
  CHECK(second.duplicates == 10);  // the unchanged rows: same ids, the hub already has them
  CHECK(second.skipped == 0);
  CHECK(count_events(hub.endpoint(), "country_team.LBN.country_team_activity", 13) == 13);
  CHECK(adapter.stop() == 0);
}

TEST_CASE("a watching adapter waits for a file that is still being written", "[adapters][watch][hub]") {
  test::hubd_process hub;
  test::temp_dir dir("watch-partial");
  auto inbox = dir / "inbox";
  std::filesystem::create_directories(inbox);
  // Scans 1 s apart: the writer below appends the rest as soon as the adapter has seen
  // the first half (it says so), well inside one scan.
  test::child_process adapter(watch_args(COUNTRY_TEAM_ADAPTER, inbox, hub.endpoint(),
                                         {"--poll-interval", "1000", "--heartbeat-interval", "0"}),
                              dir / "ct.out", dir / "ct.err");
  REQUIRE(test::wait_for([&] { return adapter.err().find("watching ") != std::string::npos; }, 20s));
  const std::string whole = test::read_file(test::fixture("hxl/lbn-3w-2024-08.csv"));
  const auto half = whole.find('\n', whole.size() / 2) + 1;
  {
    std::ofstream out(inbox / "lbn-3w-2024-08.csv", std::ios::binary);
    out << whole.substr(0, half);
  }
  REQUIRE(test::wait_for([&] { return adapter.err().find("waiting for") != std::string::npos; }, 20s));
  CHECK(imports_of(adapter.err(), "lbn-3w-2024-08.csv").empty());
  {
    std::ofstream out(inbox / "lbn-3w-2024-08.csv", std::ios::binary | std::ios::app);
    out << whole.substr(half);
  }
  REQUIRE(test::wait_for([&] { return !imports_of(adapter.err(), "lbn-3w-2024-08.csv").empty(); }, 60s));
  auto done = imports_of(adapter.err(), "lbn-3w-2024-08.csv");
  // Read once, whole: every row, none cut in half.
  REQUIRE(done.size() == 1);
  CHECK(done[0].read == 327);
  CHECK(done[0].published == 274);
  CHECK(adapter.stop() == 0);
  CHECK(imports_of(adapter.err(), "lbn-3w-2024-08.csv").size() == 1);
}

TEST_CASE("an idle adapter watching an empty folder keeps sending heartbeats", "[adapters][watch][hub][heartbeat]") {
  test::hubd_process hub;
  test::temp_dir dir("watch-idle");
  auto inbox = dir / "inbox";
  std::filesystem::create_directories(inbox);
  // No --country and no file: the heartbeats are filed under XXX (no country yet).
  test::child_process adapter(watch_args(PEACEKEEPING_ADAPTER, inbox, hub.endpoint(),
                                         {"--poll-interval", "50", "--heartbeat-interval", "200"}),
                              dir / "pk.out", dir / "pk.err");
  sdk::subscriber::options so;
  so.connection.endpoints = {hub.endpoint()};
  so.pattern = "hub.XXX.adapter_heartbeat";
  so.start = sdk::start_position::earliest();
  sdk::subscriber sub(so);
  std::vector<std::int64_t> times;
  std::set<std::string> ids;
  while (times.size() < 4) {
    auto ev = sub.next(10s);
    REQUIRE(ev);
    const auto* e = ev->envelope();
    const auto* hb = e->payload_as_AdapterHeartbeat();
    REQUIRE(hb != nullptr);
    CHECK(e->entity() == schema::Entity::hub);
    CHECK(test::str(e->country()) == "XXX");
    CHECK(test::str(hb->adapter()) == "peacekeeping-adapter");
    CHECK(test::str(hb->source()) == inbox.string());
    CHECK(hb->read() == 0);
    CHECK(hb->published() == 0);
    times.push_back(e->occurred_at());
    ids.insert(schema::id_to_hex(*e->id()));
  }
  // Periodic, not a burst: each at least most of an interval after the previous.
  for (std::size_t i = 1; i < times.size(); ++i) CHECK(times[i] - times[i - 1] >= 150);
  CHECK(ids.size() == times.size());
  CHECK(adapter.running());
  CHECK(adapter.stop() == 0);
}

TEST_CASE("every adapter's --once watch imports its kind of file once and remembers it",
          "[adapters][watch][hub]") {
  struct kind {
    const char* adapter;
    const char* name;  // the file's name in the folder
    std::filesystem::path from;
    const char* topic;  // where its events go
  };
  const kind kinds[] = {
      {DEVELOPMENT_ADAPTER, "example-2.03.xml", test::fixture("iati/activity-standard-example-annotated-2.03.xml"),
       "development.*.programme_activity"},
      {PEACEBUILDING_ADAPTER, "pbf-projects.csv",
       std::filesystem::path(HUB_SOURCE_DIR) / "tests/peacebuilding/data/pbf-projects-sample.csv",
       "peacebuilding.*.peacebuilding_project"},
      {PEACEKEEPING_ADAPTER, "ucdp-caf.csv", test::fixture("incidents/ucdp-ged-23.1-caf-2020-2022.csv"),
       "peacekeeping.CAF.security_incident"},
      {STRATEGY_ADAPTER, "strategy.yaml", std::filesystem::path(HUB_SOURCE_DIR) / "deploy/demo/data/01-strategy.yaml",
       "coordination.SSD.political_strategy"},
  };
  test::hubd_process hub;
  for (const auto& k : kinds) {
    SECTION(std::string(k.adapter).substr(std::string(k.adapter).rfind('/') + 1)) {
      test::temp_dir dir("watch-once");
      auto inbox = dir / "inbox";
      std::filesystem::create_directories(inbox);
      std::filesystem::copy_file(k.from, inbox / k.name);
      auto args = watch_args(k.adapter, inbox, hub.endpoint(), {"--once", "--heartbeat-interval", "0"});
      auto first = test::run_command(args, dir.path(), {}, 120s);
      INFO(first.output);
      REQUIRE(first.exit_code == 0);
      auto done = imports_of(first.output, k.name);
      REQUIRE(done.size() == 1);
      CHECK(done[0].read > 0);
      CHECK(done[0].published > 0);
      const auto name = std::string(k.adapter).substr(std::string(k.adapter).rfind('/') + 1);
      CHECK(std::filesystem::exists(inbox / ("." + name + ".state")));
      CHECK(count_events(hub.endpoint(), k.topic, static_cast<std::size_t>(done[0].published)) >=
            static_cast<std::size_t>(done[0].published));

      // Run again: the file is known, nothing is read.
      auto second = test::run_command(args, dir.path(), {}, 120s);
      INFO(second.output);
      REQUIRE(second.exit_code == 0);
      CHECK(imports_of(second.output, k.name).empty());
      CHECK_THAT(second.output, Catch::Contains("summary: files 0 (refused 0), read 0, published 0"));
    }
  }
}

TEST_CASE("plain progress lines advance while a long file is read and end at the true count",
          "[adapters][progress]") {
  test::temp_dir dir("progress");
  // 4,350 rows; a line at every reading step (--progress-interval 0) so the test does
  // not depend on how fast the machine is.
  test::child_process adapter({PEACEKEEPING_ADAPTER, "import", "--dry-run", "--progress", "lines",
                               "--progress-interval", "0",
                               test::fixture("incidents/un-peacekeeping-fatalities-since-1948.csv").string()},
                              dir / "pk.out", dir / "pk.err");
  REQUIRE(test::wait_for([&] { return !adapter.running(); }, 120s));
  CHECK(adapter.stop() == 0);
  const std::string err = adapter.err();
  std::regex line("progress: un-peacekeeping-fatalities-since-1948\\.csv ([0-9]+)% \\(([0-9]+) records\\)");
  std::vector<std::pair<int, long>> seen;
  for (auto it = std::sregex_iterator(err.begin(), err.end(), line); it != std::sregex_iterator(); ++it)
    seen.emplace_back(std::stoi((*it)[1]), std::stol((*it)[2]));
  REQUIRE(seen.size() > 100);
  const long read = test::summary_count(err, "read");
  CHECK(read == 4350);
  // The count moves from the first lines on (it was frozen at the count before the
  // file, 0, for a whole first file) and never goes back.
  CHECK(std::any_of(seen.begin(), seen.begin() + 10, [](const auto& s) { return s.second > 0; }));
  for (std::size_t i = 1; i < seen.size(); ++i) {
    CHECK(seen[i].second >= seen[i - 1].second);
    CHECK(seen[i].first >= seen[i - 1].first);
  }
  std::set<long> distinct;
  for (const auto& s : seen) distinct.insert(s.second);
  CHECK(distinct.size() > 100);
  // The last line is the whole file, with the true count.
  CHECK(seen.back().first == 100);
  CHECK(seen.back().second == read);
}
