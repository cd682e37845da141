// The country-team-adapter program against a real hubd: publishing, re-import,
// dry run, refusal, watch mode.
#include <catch2/catch.hpp>

#include "tests/adapters_common/import_helpers.h"
#include "tests/support/hubd_process.h"

using namespace hub;

namespace {
std::string adapter() { return COUNTRY_TEAM_ADAPTER; }
std::string fixture(const std::string& rel) { return "'" + test::fixture(rel).string() + "'"; }
}  // namespace

TEST_CASE("re-importing a 3W into a running hub publishes nothing new", "[country_team][hub][dedup]") {
  test::hubd_process hub;
  test::temp_dir dir("ct-hub");
  std::string cmd = adapter() + " import " + fixture("hxl/lbn-3w-2024-08.csv") + " --hub " + hub.endpoint() +
                    " --progress none --flush-timeout 30000 --heartbeat-interval 0";
  auto first = test::run_program(cmd, dir.path(), "first");
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  const long published = test::summary_count(first.err, "published");
  CHECK(published == 274);
  CHECK(test::summary_count(first.err, "duplicates") == 0);
  CHECK(test::summary_count(first.err, "skipped") == 53);

  auto second = test::run_program(cmd, dir.path(), "second");
  INFO(second.err);
  REQUIRE(second.exit_code == 0);
  CHECK(test::summary_count(second.err, "published") == 0);
  CHECK(test::summary_count(second.err, "duplicates") == published);
}

TEST_CASE("a dry run prints one JSON line per event and publishes nothing", "[country_team][dryrun]") {
  test::temp_dir dir("ct-dry");
  auto r = test::run_program(adapter() + " import --dry-run " + fixture("hxl/lbn-3w-2024-08.csv"), dir.path(), "dry");
  REQUIRE(r.exit_code == 0);
  std::size_t lines = 0;
  for (char c : r.out) lines += c == '\n' ? 1 : 0;
  CHECK(lines == 274);
  CHECK_THAT(r.out.substr(0, r.out.find('\n')),
             Catch::Contains("\"country\":\"LBN\"") && Catch::Contains("Nusaned - Sawa blessed - WCK") &&
                 Catch::Contains("\"pcode\":\"LB63\""));
  CHECK_THAT(r.err, Catch::Contains("summary: files 1 (refused 0), read 327, published 274, skipped 53"));
}

TEST_CASE("a file without a hashtag row is refused with a clear message and a non-zero exit", "[country_team][errors]") {
  test::temp_dir dir("ct-refuse");
  auto r = test::run_program(adapter() + " import --dry-run " + fixture("hxl/libhxl/input-untagged.csv"), dir.path(), "untagged");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("refused:") && Catch::Contains("input-untagged.csv: not an HXL file"));
  CHECK(r.out.empty());
}

TEST_CASE("without --hub or --dry-run the adapter says what to give", "[country_team][errors]") {
  test::temp_dir dir("ct-usage");
  auto r = test::run_program(adapter() + " import x.csv", dir.path(), "usage");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--hub ENDPOINT"));
}

TEST_CASE("watch mode imports a newer 3W once and remembers what it imported", "[country_team][watch][hub]") {
  test::hubd_process hub;
  test::temp_dir dir("ct-watch");
  auto inbox = dir / "inbox";
  std::filesystem::create_directories(inbox);
  std::filesystem::copy_file(test::fixture("hxl/lbn-3w-2024-07.csv"), inbox / "lbn-3w-2024-07.csv");
  std::string cmd = adapter() + " watch '" + inbox.string() + "' --once --hub " + hub.endpoint() +
                    " --progress none --heartbeat-interval 0";
  auto first = test::run_program(cmd, dir.path(), "w1");
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(test::summary_count(first.err, "published") > 0);
  CHECK(std::filesystem::exists(inbox / ".country-team-adapter.state"));

  std::filesystem::copy_file(test::fixture("hxl/lbn-3w-2024-08.csv"), inbox / "lbn-3w-2024-08.csv");
  auto second = test::run_program(cmd, dir.path(), "w2");
  INFO(second.err);
  REQUIRE(second.exit_code == 0);
  CHECK_THAT(second.err, Catch::Contains("importing") && Catch::Contains("lbn-3w-2024-08.csv"));
  CHECK_THAT(second.err, !Catch::Contains("lbn-3w-2024-07.csv"));
  CHECK(test::summary_count(second.err, "published") == 274);

  auto third = test::run_program(cmd, dir.path(), "w3");
  CHECK(test::summary_count(third.err, "read") == 0);
}
