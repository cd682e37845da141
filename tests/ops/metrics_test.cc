#include "hub/ops/metrics.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <thread>

#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

using namespace hub::ops;

namespace {

// Every line of `text` that starts with `prefix`.
std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
    pos = nl + 1;
  }
  return out;
}

hub::test::command_result promtool_check_metrics(const std::string& text, const hub::test::temp_dir& dir) {
  auto file = dir / "scrape.txt";
  std::ofstream(file) << text;
  REQUIRE(hub::test::have_program("promtool"));  // Debian package: prometheus
  return hub::test::run_command({"promtool", "check", "metrics"}, dir.path(), file);
}

}  // namespace

TEST_CASE("a counter renders with HELP, TYPE and its labelled samples", "[ops][metrics]") {
  registry r;
  auto& f = r.add_counter("hub_things_total", "Things seen.", {"kind"});
  f.with({"a"}).inc();
  f.with({"b"}).inc(41);
  f.with({"b"}).inc();
  std::string text = r.render();
  CHECK(text ==
        "# HELP hub_things_total Things seen.\n"
        "# TYPE hub_things_total counter\n"
        "hub_things_total{kind=\"a\"} 1\n"
        "hub_things_total{kind=\"b\"} 42\n");
}

TEST_CASE("label values and help texts are escaped as the text format requires", "[ops][metrics]") {
  registry r;
  auto& f = r.add_gauge("hub_odd", "Help with a \\ backslash\nand a newline.", {"v"});
  f.with({"quote \" back \\ line\nend"}).set(2.5);
  std::string text = r.render();
  CHECK(text.find("# HELP hub_odd Help with a \\\\ backslash\\nand a newline.\n") != std::string::npos);
  CHECK(text.find("hub_odd{v=\"quote \\\" back \\\\ line\\nend\"} 2.5\n") != std::string::npos);
}

TEST_CASE("a histogram renders cumulative buckets, +Inf, sum and count", "[ops][metrics]") {
  registry r;
  auto& h = r.add_histogram("hub_wait_seconds", "Waits.", {0.1, 1.0}).get();
  h.observe(0.05);
  h.observe(0.1);   // on a bound: counts in that bucket (le means less or equal)
  h.observe(0.5);
  h.observe(7.0);
  std::string text = r.render();
  CHECK(text.find("hub_wait_seconds_bucket{le=\"0.1\"} 2\n") != std::string::npos);
  CHECK(text.find("hub_wait_seconds_bucket{le=\"1\"} 3\n") != std::string::npos);
  CHECK(text.find("hub_wait_seconds_bucket{le=\"+Inf\"} 4\n") != std::string::npos);
  CHECK(text.find("hub_wait_seconds_sum 7.65\n") != std::string::npos);
  CHECK(text.find("hub_wait_seconds_count 4\n") != std::string::npos);
}

TEST_CASE("special gauge values render as NaN, +Inf and -Inf", "[ops][metrics]") {
  CHECK(format_value(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  CHECK(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_value(3.0) == "3");
  CHECK(format_value(0.25) == "0.25");
}

TEST_CASE("bad metric definitions are refused when they are added", "[ops][metrics]") {
  registry r;
  CHECK_THROWS_AS(r.add_counter("9lives", "starts with a digit"), std::invalid_argument);
  CHECK_THROWS_AS(r.add_counter("hub-dash", "has a dash"), std::invalid_argument);
  CHECK_THROWS_AS(r.add_counter("hub_ok_total", "reserved label", {"__name"}), std::invalid_argument);
  CHECK_THROWS_AS(r.add_histogram("hub_h", "le is reserved", {1.0}, {"le"}), std::invalid_argument);
  CHECK_THROWS_AS(r.add_histogram("hub_h2", "bounds must increase", {1.0, 0.5}), std::invalid_argument);
  r.add_counter("hub_once_total", "once");
  CHECK_THROWS_AS(r.add_counter("hub_once_total", "twice"), std::invalid_argument);
  auto& f = r.add_counter("hub_two_total", "two labels", {"a", "b"});
  CHECK_THROWS_AS(f.with({"only one"}), std::invalid_argument);
}

TEST_CASE("a child looked up once stays the same object", "[ops][metrics]") {
  registry r;
  auto& f = r.add_counter("hub_x_total", "x", {"k"});
  counter& a = f.with({"k1"});
  for (int i = 0; i < 100; ++i) f.with({"k" + std::to_string(i)});  // more children, more map nodes
  CHECK(&f.with({"k1"}) == &a);
}

TEST_CASE("a counter advanced to a total never goes down", "[ops][metrics]") {
  counter c;
  c.advance_to(10);
  c.advance_to(4);
  CHECK(c.value() == 10);
  c.inc();
  c.advance_to(11);
  CHECK(c.value() == 11);
}

TEST_CASE("updates from one thread while another renders lose nothing", "[ops][metrics]") {
  hub_metrics m;
  counter& in = m.events_in_for(hub::schema::Entity::peacekeeping, hub::schema::Payload::MandateActivity);
  constexpr int n = 200000;
  std::thread writer([&] {
    for (int i = 0; i < n; ++i) {
      in.inc();
      m.publish_ack_seconds.observe(0.001);
    }
  });
  for (int i = 0; i < 50; ++i) CHECK_FALSE(m.render().empty());
  writer.join();
  std::string text = m.render();
  CHECK(text.find("hub_events_in_total{entity=\"peacekeeping\",event_type=\"mandate_activity\"} 200000\n") !=
        std::string::npos);
  CHECK(text.find("hub_publish_ack_seconds_count 200000\n") != std::string::npos);
}

TEST_CASE("the hub's metrics carry every name the ops guide promises", "[ops][metrics]") {
  hub_metrics m;
  m.events_in_for(hub::schema::Entity::development, hub::schema::Payload::ProgrammeActivity).inc(3);
  m.events_out_for(hub::schema::Entity::development, hub::schema::Payload::ProgrammeActivity).inc(2);
  m.naks_for(hub::schema::Reason::malformed_envelope).inc();
  m.errs_for(hub::schema::Reason::bad_pattern).inc();
  m.consumer_lag.with({"rules"}).set(5);
  m.adapter_heartbeat_age_seconds.with({"unmiss-adapter"}).set(1.5);
  std::string text = m.render();
  for (const char* name :
       {"hub_events_in_total", "hub_events_out_total", "hub_naks_total", "hub_errs_total", "hub_bytes_in_total",
        "hub_bytes_out_total", "hub_clients_connected", "hub_subscriptions", "hub_credit_stalls_total", "hub_pipe_stalls_total",
        "hub_consumer_lag", "hub_log_segments", "hub_log_bytes", "hub_log_records", "hub_fsync_seconds",
        "hub_publish_ack_seconds", "hub_rules_evaluated_total", "hub_alerts_firing",
        "hub_adapter_heartbeat_age_seconds", "hub_mirror_dropped_total", "hub_mirror_readers", "hub_disconnects_total",
        "hub_duplicates_total", "hub_busy_polled_turns_total",
        "hub_store_writable", "hub_up"}) {
    INFO(name);
    CHECK(lines_starting(text, std::string("# TYPE ") + name + " ").size() == 1);
  }
  CHECK(text.find("hub_events_in_total{entity=\"development\",event_type=\"programme_activity\"} 3\n") !=
        std::string::npos);
  CHECK(text.find("hub_naks_total{reason=\"malformed_envelope\"} 1\n") != std::string::npos);
  CHECK(text.find("hub_errs_total{reason=\"bad_pattern\"} 1\n") != std::string::npos);
  CHECK(text.find("hub_alerts_firing{severity=\"critical\"} 0\n") != std::string::npos);
  CHECK(text.find("hub_up 1\n") != std::string::npos);
}

TEST_CASE("promtool accepts the rendered hub metrics", "[ops][metrics][promtool]") {
  hub::test::temp_dir dir("ops-metrics");
  hub_metrics m;
  m.events_in_for(hub::schema::Entity::peacekeeping, hub::schema::Payload::SecurityIncident).inc(7);
  m.naks_for(hub::schema::Reason::too_large).inc();
  m.fsync_seconds.observe(0.002);
  m.publish_ack_seconds.observe(0.0004);
  m.consumer_lag.with({"weird \"name\"\nwith newline"}).set(3);
  auto res = promtool_check_metrics(m.render(), dir);
  INFO(res.output);
  CHECK(res.exit_code == 0);
}

TEST_CASE("promtool rejects a broken exposition, so the check above can fail", "[ops][metrics][promtool]") {
  hub::test::temp_dir dir("ops-metrics");
  auto res = promtool_check_metrics("# TYPE hub_x counter\nhub_x{a=\"unterminated} 1\n", dir);
  CHECK(res.exit_code != 0);
}
