#include <fstream>

#include <catch2/catch.hpp>

#include "hub/config/config.h"
#include "tests/support/temp_dir.h"

namespace {
std::filesystem::path write(const hub::test::temp_dir& d, const std::string& text) {
  auto p = d / "hubd.yaml";
  std::ofstream(p) << text;
  return p;
}
}  // namespace

TEST_CASE("a config file sets the hub's settings", "[config]") {
  hub::test::temp_dir d;
  auto c = hub::config::load_file(write(d, "endpoint: tcp://127.0.0.1:9000\nstore:\n  kind: memory\n  fsync: never\n"
                                           "rules:\n  files: [a.yaml, b.yaml]\nlog:\n  format: json\n"));
  REQUIRE(c.is_ok());
  CHECK(c->endpoint == "tcp://127.0.0.1:9000");
  CHECK(c->store.kind == "memory");
  CHECK(c->store.fsync == "never");
  CHECK(c->rule_files == std::vector<std::string>{"a.yaml", "b.yaml"});
  CHECK(c->log_format == "json");
  CHECK(hub::config::validate(*c).is_ok());
}

TEST_CASE("an unknown key is an error naming the key and the line", "[config]") {
  hub::test::temp_dir d;
  auto c = hub::config::load_file(write(d, "endpoint: tcp://127.0.0.1:9000\n\nstore:\n  knd: memory\n"));
  REQUIRE_FALSE(c.is_ok());
  CHECK_THAT(c.error().message(), Catch::Contains("hubd.yaml:4") && Catch::Contains("store.knd"));
}

TEST_CASE("a value of the wrong kind is an error naming the key and the line", "[config]") {
  hub::test::temp_dir d;
  auto c = hub::config::load_file(write(d, "dedup_window: lots\nstore:\n  fsync: sometimes\n  read_from: nearest\n"));
  REQUIRE_FALSE(c.is_ok());
  CHECK_THAT(c.error().message(), Catch::Contains("hubd.yaml:1") && Catch::Contains("dedup_window"));
  CHECK_THAT(c.error().message(), Catch::Contains("hubd.yaml:3") && Catch::Contains("store.fsync"));
  CHECK_THAT(c.error().message(), Catch::Contains("hubd.yaml:4: key 'store.read_from' is 'nearest'; allowed: replica, leader"));
}

TEST_CASE("broken YAML is reported with its line", "[config]") {
  hub::test::temp_dir d;
  auto c = hub::config::load_file(write(d, "endpoint: [unclosed\n"));
  REQUIRE_FALSE(c.is_ok());
  CHECK_THAT(c.error().message(), Catch::Contains("YAML syntax error"));
}

TEST_CASE("printed config can be loaded again unchanged", "[config]") {
  hub::test::temp_dir d;
  hub::config::hub_config c;
  c.endpoint = "tcp://127.0.0.1:1234";
  c.rule_files = {"x.yaml"};
  c.store.open_timeout_ms = 60000;
  c.store.read_from = "leader";
  c.max_subscriptions_per_client = 50;
  c.max_unread_replies = 500;
  c.idle_poll_us = 200;
  c.max_messages_per_turn = 64;
  c.mirror_max_readers = 3;
  c.mirror_buffer_bytes = 1 << 20;
  c.max_durable_consumers = 30;
  auto again = hub::config::load_file(write(d, hub::config::to_yaml(c)));
  REQUIRE(again.is_ok());
  CHECK(hub::config::to_yaml(*again) == hub::config::to_yaml(c));
}

TEST_CASE("a value out of range names the file, the line and the key", "[config]") {
  hub::test::temp_dir d;
  auto c = hub::config::load_file(write(d, "store:\n  segment_bytes: 10\n  replicas: 2\n  open_timeout_ms: 0\n"
                                           "dedup_window: 0\nclient_timeout_ms: 5\n"
                                           "max_envelope_bytes: 100\nlog:\n  level: loud\n"
                                           "max_subscriptions_per_client: 0\nmax_unread_replies: 10\n"
                                           "idle_poll_us: 100001\nmax_durable_consumers: 0\nmax_messages_per_turn: 0\n"
                                           "mirror_max_readers: 0\nmirror_buffer_bytes: 1000\n"));
  REQUIRE(c.is_ok());  // each value has the right type; the ranges are validate()'s
  auto v = hub::config::validate(*c);
  REQUIRE_FALSE(v.is_ok());
  const auto& m = v.message();
  CHECK_THAT(m, Catch::Contains("hubd.yaml:2: store.segment_bytes: must be at least 4096"));
  CHECK_THAT(m, Catch::Contains("hubd.yaml:3: store.replicas: must be 1, 3 or 5"));
  CHECK_THAT(m, Catch::Contains("hubd.yaml:4: store.open_timeout_ms: must be at least 100"));
  CHECK_THAT(m, Catch::Contains("hubd.yaml:5: dedup_window:"));
  CHECK_THAT(m, Catch::Contains("hubd.yaml:6: client_timeout_ms:"));
  CHECK_THAT(m, Catch::Contains("hubd.yaml:7: max_envelope_bytes:"));
  CHECK_THAT(m, Catch::Contains("hubd.yaml:9: log.level: 'loud' is not a log level"));
  CHECK_THAT(m, Catch::Contains("hubd.yaml:10: max_subscriptions_per_client: must be at least 1"));
  CHECK_THAT(m, Catch::Contains("hubd.yaml:11: max_unread_replies: must be at least 100"));
  CHECK_THAT(m, Catch::Contains("hubd.yaml:12: idle_poll_us: must be between 0 and 100000"));
  CHECK_THAT(m, Catch::Contains("hubd.yaml:13: max_durable_consumers: must be at least 1"));
  CHECK_THAT(m, Catch::Contains("hubd.yaml:14: max_messages_per_turn: must be between 1 and 65536"));
  CHECK_THAT(m, Catch::Contains("hubd.yaml:15: mirror_max_readers: must be between 1 and 65536"));
  CHECK_THAT(m, Catch::Contains("hubd.yaml:16: mirror_buffer_bytes: must be between 65536 and 4294967296"));
}

TEST_CASE("a bad value from a flag names the flag: a good file value names nothing", "[config]") {
  hub::test::temp_dir d;
  auto c = hub::config::load_file(write(d, "log:\n  level: info\n"));
  REQUIRE(c.is_ok());
  CHECK(hub::config::validate(*c).is_ok());
  // As hubd does for --log-level: the flag's value replaces the file's, and its origin.
  c->log_level = "loud";
  c->origin["log.level"] = "--log-level";
  auto v = hub::config::validate(*c);
  REQUIRE_FALSE(v.is_ok());
  CHECK(v.message() == "--log-level: log.level: 'loud' is not a log level");
}
