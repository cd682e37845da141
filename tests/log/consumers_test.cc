// Durable consumers in the embedded log: removing one (the store call, and the real
// `hubctl log remove-consumer` on a stopped hub's data directory).
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "hub/log/log.h"
#include "tests/log/log_test_support.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

using namespace hub;
using namespace hub::log;
using namespace hub::log::test;

namespace {

struct run_result {
  int exit_code = -1;
  std::string out;
};

run_result remove_consumer(const std::filesystem::path& data, const std::string& name) {
  auto r = hub::test::run_program(HUBCTL_PATH, {"log", "remove-consumer", "--data-dir", data.string(), name});
  UNSCOPED_INFO("hubctl said:\n" << r.out << r.err);
  return {r.exit_code, r.out + r.err};
}

}  // namespace

TEST_CASE("a removed consumer stays removed after reopen: the others keep their offsets", "[log][checkpoint]") {
  hub::test::temp_dir dir("log");
  {
    auto s = open_or_fail(dir / "data");
    REQUIRE(s->commit_consumer("rules", offset{42}));
    REQUIRE(s->commit_consumer("old-report", offset{7}));
    REQUIRE(s->remove_consumer("old-report"));
    CHECK_FALSE(s->consumer_offset("old-report").has_value());
    CHECK(s->remove_consumer("old-report").code() == errc::not_found);
  }
  auto s = open_or_fail(dir / "data");
  CHECK_FALSE(s->consumer_offset("old-report").has_value());
  CHECK(s->consumer_offset("rules") == offset{42});
  CHECK(s->consumers().size() == 1);
}

TEST_CASE("hubctl log remove-consumer forgets a consumer of a stopped hub and refuses while the log is open",
          "[log][checkpoint][hubctl]") {
  hub::test::temp_dir dir("log");
  const auto data = dir / "data";
  {
    auto s = open_or_fail(data);
    REQUIRE(s->commit_consumer("rules", offset{42}));
    REQUIRE(s->commit_consumer("old-report", offset{7}));
    // The log open here holds the directory's lock, as a running hubd does.
    auto busy = remove_consumer(data, "old-report");
    CHECK(busy.exit_code == 1);
    CHECK_THAT(busy.out, Catch::Contains("is in use by another process"));
  }
  auto done = remove_consumer(data, "old-report");
  CHECK(done.exit_code == 0);
  CHECK_THAT(done.out, Catch::Contains("removed durable consumer 'old-report'"));
  auto unknown = remove_consumer(data, "never-was");
  CHECK(unknown.exit_code == 1);
  CHECK_THAT(unknown.out, Catch::Contains("no durable consumer named 'never-was'"));

  auto s = open_or_fail(data);
  CHECK_FALSE(s->consumer_offset("old-report").has_value());
  CHECK(s->consumer_offset("rules") == offset{42});
}

TEST_CASE("hubctl log remove-consumer on a directory without a checkpoint says so and creates nothing",
          "[log][checkpoint][hubctl]") {
  hub::test::temp_dir dir("log");
  auto r = remove_consumer(dir / "nothing-here", "rules");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("has no consumer checkpoint"));
  CHECK_FALSE(std::filesystem::exists(dir / "nothing-here"));
}
