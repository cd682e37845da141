// The ops endpoint of a real hubd: live scrapes checked by promtool, counters that move
// as events flow (every family, with rules, the embedded log, an adapter and a durable
// consumer), /api/status agreeing with /metrics, client roles, adapters kept across a
// restart, hubctl status, log lines naming event ids and never a secret key, and a
// clean SIGTERM under load.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "adapters/sdk/sdk.h"
#include "schemas/schema.h"
#include "schemas/wire.h"
#include "tests/ops/live_helpers.h"
#include "tests/support/run_command.h"
#include "tests/support/envelopes.h"
#include "tests/support/hubd_process.h"

using namespace hub::test;

namespace {

void check_with_promtool(const std::string& scrape, const temp_dir& dir) {
  REQUIRE(have_program("promtool"));  // Debian package: prometheus
  auto file = dir / "scrape.txt";
  std::ofstream(file) << scrape;
  auto res = run_command({"promtool", "check", "metrics"}, dir.path(), file);
  INFO(scrape);
  INFO(res.output);
  CHECK(res.exit_code == 0);
}

const std::vector<std::string> pk_mandate = {"entity=\"peacekeeping\"", "event_type=\"mandate_activity\""};

// A bare DEALER speaking docs/protocol.md, for what the SDK will not send (a bad
// envelope, SUB and PUB on one connection), optionally over CURVE.
struct raw_client {
  zmq::context_t ctx;
  zmq::socket_t s{ctx, zmq::socket_type::dealer};
  explicit raw_client(const std::string& endpoint, const std::string& server_pub = {},
                      const std::string& my_pub = {}, const std::string& my_secret = {}) {
    s.set(zmq::sockopt::linger, 0);
    if (!server_pub.empty()) {
      s.set(zmq::sockopt::curve_serverkey, server_pub);
      s.set(zmq::sockopt::curve_publickey, my_pub);
      s.set(zmq::sockopt::curve_secretkey, my_secret);
    }
    s.connect(endpoint);
  }
  void send(const std::vector<std::string>& frames) {
    std::vector<zmq::const_buffer> b;
    for (const auto& f : frames) b.push_back(zmq::buffer(f));
    zmq::send_multipart(s, b);
  }
  // Replies until one whose first frame is `command`; empty if none within 5 s.
  std::vector<std::string> wait_for_reply(const std::string& command) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    s.set(zmq::sockopt::rcvtimeo, 100);
    while (std::chrono::steady_clock::now() < until) {
      std::vector<zmq::message_t> parts;
      if (!zmq::recv_multipart(s, std::back_inserter(parts)) || parts.empty()) continue;
      if (parts[0].to_string() != command) continue;
      std::vector<std::string> out;
      for (auto& p : parts) out.push_back(p.to_string());
      return out;
    }
    return {};
  }
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

program_result hubctl(const std::vector<std::string>& args) { return run_program(HUBCTL_PATH, args); }

// The status document once `ready(status)` holds (bounded), else the last one seen.
nlohmann::json status_when(const hubd_process& hub, const std::function<bool(const nlohmann::json&)>& ready,
                           std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
  nlohmann::json last;
  wait_for([&] {
    auto s = get_status(hub.http_address());
    if (!s) return false;
    last = *s;
    return ready(last);
  }, deadline);
  return last;
}

const nlohmann::json* adapter_in(const nlohmann::json& status, const std::string& name) {
  auto list = status.find("adapters");
  if (list == status.end() || !list->is_array()) return nullptr;
  for (const auto& a : *list)
    if (a.value("adapter", "") == name) return &a;
  return nullptr;
}

}  // namespace

TEST_CASE("hubd with --http reports its HTTP address and answers healthz", "[ops][hubd]") {
  hubd_process hub({.http = true});
  REQUIRE_FALSE(hub.http_address().empty());
  auto r = http_get(hub.http_address(), "/healthz");
  CHECK(r.status == 200);
  CHECK(r.body == "ok\n");
  CHECK(wait_for([&] { return http_get(hub.http_address(), "/readyz").status == 200; }));
}

TEST_CASE("a live scrape passes promtool and its counters move as events flow", "[ops][hubd][promtool]") {
  temp_dir dir("ops-live");
  hubd_process hub({.http = true});
  REQUIRE_FALSE(hub.http_address().empty());
  auto before = http_get(hub.http_address(), "/metrics");
  REQUIRE(before.status == 200);
  check_with_promtool(before.body, dir);
  CHECK(sample_sum(before.body, "hub_up") == 1.0);
  CHECK(sample_sum(before.body, "hub_events_in_total", pk_mandate).value_or(0) == 0);

  REQUIRE(publish_test_events(hub.endpoint(), 25) == 25);
  std::string scrape;
  // events_in is counted as events become durable, bytes_in from the status the broker
  // reports twice a second: wait for both.
  CHECK(wait_for([&] {
    scrape = http_get(hub.http_address(), "/metrics").body;
    return sample_sum(scrape, "hub_events_in_total", pk_mandate).value_or(0) == 25 &&
           sample_sum(scrape, "hub_bytes_in_total").value_or(0) > 25 * 100;
  }));
  CHECK(sample_sum(scrape, "hub_events_in_total", pk_mandate).value_or(0) == 25);
  CHECK(sample_sum(scrape, "hub_bytes_in_total").value_or(0) > 25 * 100);

  // A subscriber reads them back: events_out follows.
  hub::sdk::subscriber::options so;
  so.connection.endpoints = {hub.endpoint()};
  so.connection.client_name = "ops-test-subscriber";
  so.start = hub::sdk::start_position::earliest();
  hub::sdk::subscriber sub(so);
  int got = 0;
  wait_for([&] {
    while (sub.next(std::chrono::milliseconds(50))) ++got;
    return got >= 25;
  });
  REQUIRE(got == 25);
  CHECK(wait_for([&] {
    scrape = http_get(hub.http_address(), "/metrics").body;
    return sample_sum(scrape, "hub_subscriptions").value_or(0) >= 1 &&
           sample_sum(scrape, "hub_bytes_out_total").value_or(0) > 25 * 100;
  }));
  check_with_promtool(scrape, dir);

  // A resend of a stored id is counted as a duplicate, and a bad envelope as a NAK.
  hub::sdk::publisher::options po;
  po.connection.endpoints = {hub.endpoint()};
  hub::sdk::publisher pub(po);
  hub::test::envelope_spec spec;
  spec.id_hi = 0x0190000000000001ull;
  spec.id_lo = 7;
  auto env = hub::test::make_envelope(spec);
  REQUIRE(pub.publish(env));
  REQUIRE(pub.publish(env));
  REQUIRE(pub.flush(std::chrono::seconds(10)));
  CHECK(wait_for([&] {
    scrape = http_get(hub.http_address(), "/metrics").body;
    return sample_sum(scrape, "hub_duplicates_total").value_or(0) >= 1;
  }));
}

TEST_CASE("delivery by event type and publish-to-ack latency are measured as events flow",
          "[ops][hubd]") {
  // These are counted by the broker itself (per EVT sent and per ACK), not from its
  // status: see hub_metrics::events_out_for and publish_ack_seconds.
  hubd_process hub({.http = true});
  REQUIRE(publish_test_events(hub.endpoint(), 10) == 10);
  hub::sdk::subscriber::options so;
  so.connection.endpoints = {hub.endpoint()};
  so.start = hub::sdk::start_position::earliest();
  hub::sdk::subscriber sub(so);
  int got = 0;
  wait_for([&] {
    while (sub.next(std::chrono::milliseconds(50))) ++got;
    return got >= 10;
  });
  REQUIRE(got == 10);
  std::string scrape;
  CHECK(wait_for([&] {
    scrape = http_get(hub.http_address(), "/metrics").body;
    return sample_sum(scrape, "hub_events_out_total", pk_mandate).value_or(0) == 10;
  }));
  CHECK(sample_sum(scrape, "hub_publish_ack_seconds_count").value_or(0) >= 10);
}

TEST_CASE("a connection the hub cuts off for an oversized message shows in the metrics, the status and the log",
          "[ops][hubd]") {
  hubd_process hub({.http = true});
  std::optional<nlohmann::json> before;  // the first status comes within half a second of the start
  REQUIRE(wait_for([&] { return (before = get_status(hub.http_address())).has_value(); }));
  const auto was = before->at("counters").at("disconnects").get<std::uint64_t>();
  {
    zmq::context_t ctx;
    zmq::socket_t big(ctx, zmq::socket_type::dealer);
    big.set(zmq::sockopt::linger, 0);
    big.connect(hub.endpoint());
    // 5 MiB: over the message limit (4 x the 1 MiB envelope limit + 4 KiB); the hub cuts
    // the connection before the message is whole. The socket stays open meanwhile, so
    // the connection that ends is the one the hub's side cut.
    std::string huge(5u << 20, '\0'), pub = "PUB", seq(8, '\1');
    std::array<zmq::const_buffer, 3> parts = {zmq::buffer(pub), zmq::buffer(seq), zmq::buffer(huge)};
    REQUIRE(zmq::send_multipart(big, parts));
    std::string scrape;
    CHECK(wait_for([&] {
      scrape = http_get(hub.http_address(), "/metrics").body;
      return sample_sum(scrape, "hub_disconnects_total").value_or(0) >= static_cast<double>(was + 1);
    }));
    CHECK(sample_sum(scrape, "hub_disconnects_total").value_or(0) == static_cast<double>(was + 1));
    auto after = get_status(hub.http_address());
    REQUIRE(after);
    CHECK(after->at("counters").at("disconnects").get<std::uint64_t>() == was + 1);
    CHECK_THAT(hub.log(), Catch::Contains("the hub closed the connection from 127.0.0.1:") &&
                              Catch::Contains("it sent a message over 4198400 bytes"));
  }
  // Still serving.
  CHECK(publish_test_events(hub.endpoint(), 3) == 3);
}

TEST_CASE("the status API agrees with the metrics and names the connected clients with their roles", "[ops][hubd]") {
  hubd_process hub({.http = true});
  REQUIRE(publish_test_events(hub.endpoint(), 12) == 12);
  hub::sdk::publisher::options po;
  po.connection.endpoints = {hub.endpoint()};
  po.connection.client_name = "ops-status-client";
  hub::sdk::publisher idle(po);
  idle.poll(std::chrono::milliseconds(10));
  // A publisher that has published, a subscriber, and one connection that does both.
  po.connection.client_name = "ops-role-publisher";
  hub::sdk::publisher pub(po);
  REQUIRE(pub.publish(make_envelope()));
  REQUIRE(pub.flush(std::chrono::seconds(10)));
  hub::sdk::subscriber::options so;
  so.connection.endpoints = {hub.endpoint()};
  so.connection.client_name = "ops-role-subscriber";
  hub::sdk::subscriber sub(so);
  raw_client both(hub.endpoint());
  both.send({"HELLO", "1", "ops-role-both"});
  both.send({"SUB", hub::wire::u64_frame(1), ">", "new", hub::wire::u64_frame(0), "", hub::wire::u64_frame(10)});
  auto env = make_envelope();
  both.send({"PUB", hub::wire::u64_frame(1), std::string(env.begin(), env.end())});

  nlohmann::json status;
  std::map<std::string, std::string> roles;
  CHECK(wait_for([&] {
    idle.poll(std::chrono::milliseconds(0));
    pub.poll(std::chrono::milliseconds(0));
    (void)sub.next(std::chrono::milliseconds(0));
    auto s = get_status(hub.http_address());
    if (!s) return false;
    status = *s;
    roles.clear();
    for (const auto& c : status.value("clients", nlohmann::json::array()))
      roles[c.value("name", "")] = c.value("role", "(none)");
    return status["counters"]["events_in"] == 14 && roles.count("ops-status-client") &&
           roles.count("ops-role-subscriber") && roles.count("ops-role-both") && roles["ops-role-both"] == "both";
  }));
  INFO(status.dump(2));
  CHECK(roles["ops-status-client"] == "idle");
  CHECK(roles["ops-role-publisher"] == "publisher");
  CHECK(roles["ops-role-subscriber"] == "subscriber");
  CHECK(roles["ops-role-both"] == "both");
  CHECK(status["store"]["end"].get<std::uint64_t>() >= 14);
  CHECK(status["store"]["writable"] == true);
  CHECK_FALSE(status["hub_id"].get<std::string>().empty());
  auto scrape = http_get(hub.http_address(), "/metrics").body;
  CHECK(sample_sum(scrape, "hub_events_in_total").value_or(-1) == status["counters"]["events_in"].get<double>());
}

namespace {

// A small tmpfs mounted for one test, so that the disk really fills; unmounted at scope
// end. Mounting needs root (CI runs as root); the test says so if it cannot.
class small_tmpfs {
 public:
  small_tmpfs(const std::filesystem::path& at, const std::string& size) : at_(at) {
    std::filesystem::create_directories(at_);
    auto r = run_command({"mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", at_.string()}, at_.parent_path());
    mounted_ = r.exit_code == 0;
    error_ = r.output;
  }
  ~small_tmpfs() {
    if (mounted_) run_command({"umount", "-l", at_.string()}, at_.parent_path());
  }
  small_tmpfs(const small_tmpfs&) = delete;
  small_tmpfs& operator=(const small_tmpfs&) = delete;
  [[nodiscard]] bool mounted() const { return mounted_; }
  [[nodiscard]] const std::string& error() const { return error_; }
  bool resize(const std::string& size) {
    return run_command({"mount", "-o", "remount,size=" + size, at_.string()}, at_.parent_path()).exit_code == 0;
  }

 private:
  std::filesystem::path at_;
  bool mounted_ = false;
  std::string error_;
};

}  // namespace

TEST_CASE("readyz goes unready when the store cannot write and ready again after", "[ops][hubd][readyz][root]") {
  temp_dir dir("ops-readyz");
  small_tmpfs disk(dir / "data", "512k");  // declared first: unmounted after hubd stops
  INFO("mounting a 512 KiB tmpfs needs root: " << disk.error());
  REQUIRE(disk.mounted());
  hubd_options opts;
  opts.http = true;
  opts.data_dir = dir / "data";
  hubd_process hub(opts);
  REQUIRE(wait_for([&] { return http_get(hub.http_address(), "/readyz").status == 200; }));

  // 8 events of 16 KiB that fit, then 64 more: about 1 MiB, twice what the disk holds.
  hub::sdk::publisher::options po;
  po.connection.endpoints = {hub.endpoint()};
  po.connection.client_name = "ops-disk-filler";
  hub::sdk::publisher pub(po);
  std::set<std::pair<std::uint64_t, std::uint64_t>> acked;
  pub.on_acked([&](const hub::schema::Id128& id, std::uint64_t, bool) { acked.emplace(id.hi(), id.lo()); });
  auto publish_16k = [&](int n) {
    for (int i = 0; i < n; ++i) {
      envelope_spec spec;
      spec.pad_to = 16 * 1024;
      REQUIRE(pub.publish(make_envelope(spec)));
    }
  };
  publish_16k(8);
  REQUIRE(pub.flush(std::chrono::seconds(10)));
  REQUIRE(acked.size() == 8);
  publish_16k(64);
  http_reply ready;
  CHECK(wait_for([&] {
    pub.poll(std::chrono::milliseconds(10));
    ready = http_get(hub.http_address(), "/readyz");
    return ready.status == 503;
  }, std::chrono::seconds(20)));
  INFO(ready.body);
  CHECK(ready.body.find("store") != std::string::npos);
  auto status = get_status(hub.http_address());
  REQUIRE(status);
  CHECK((*status)["store"]["writable"] == false);
  CHECK_FALSE((*status)["store"]["last_error"].get<std::string>().empty());
  auto scrape = http_get(hub.http_address(), "/metrics").body;
  CHECK(sample_sum(scrape, "hub_store_writable") == 0.0);
  CHECK(sample_sum(scrape, "hub_naks_total", {"reason=\"store_unavailable\""}).value_or(0) >= 1);
  CHECK(pub.stats().acked < 72);

  // Reads go on while the disk is full: a subscriber from the earliest gets every event
  // stored before it filled, in offset order.
  REQUIRE_FALSE(acked.empty());
  {
    hub::sdk::subscriber::options so;
    so.connection.endpoints = {hub.endpoint()};
    so.connection.client_name = "ops-reader-while-full";
    so.start = hub::sdk::start_position::earliest();
    hub::sdk::subscriber sub(so);
    std::set<std::pair<std::uint64_t, std::uint64_t>> read;
    std::uint64_t next_offset = 0;
    bool in_order = true;
    CHECK(wait_for([&] {
      while (auto e = sub.next(std::chrono::milliseconds(50))) {
        in_order = in_order && e->offset == next_offset++;
        read.emplace(e->envelope()->id()->hi(), e->envelope()->id()->lo());
      }
      return std::includes(read.begin(), read.end(), acked.begin(), acked.end());
    }, std::chrono::seconds(20)));
    CHECK(in_order);
    CHECK(read.size() >= acked.size());
    auto during = get_status(hub.http_address());
    REQUIRE(during);
    CHECK((*during)["store"]["writable"] == false);  // still full while it was read
  }

  // Space returns: the publisher's resends succeed and the hub is ready again, with
  // every event stored once.
  REQUIRE(disk.resize("16m"));
  CHECK(wait_for([&] {
    pub.poll(std::chrono::milliseconds(10));
    return http_get(hub.http_address(), "/readyz").status == 200;
  }, std::chrono::seconds(30)));
  CHECK(pub.flush(std::chrono::seconds(30)));
  CHECK(pub.stats().acked == 72);
  // The status document is refreshed twice a second: wait for the one after the flush.
  CHECK(wait_for([&] {
    status = get_status(hub.http_address());
    return status && (*status)["counters"]["events_in"] == 72;
  }));
  REQUIRE(status);
  CHECK((*status)["store"]["writable"] == true);
  CHECK((*status)["counters"]["events_in"] == 72);
}

TEST_CASE("pipelined publishing under fsync batch takes far fewer fsyncs than events (group commit)",
          "[ops][hubd][group_commit]") {
  hubd_process hub({.extra_args = {"--fsync", "batch"}, .http = true});
  const std::size_t n = 5000;
  REQUIRE(publish_test_events(hub.endpoint(), n, 300, "ops-group-commit") == n);
  std::string scrape;
  REQUIRE(wait_for([&] {
    scrape = http_get(hub.http_address(), "/metrics").body;
    return sample_sum(scrape, "hub_events_in_total").value_or(0) == static_cast<double>(n);
  }));
  const double fsyncs = sample_sum(scrape, "hub_fsync_seconds_count").value_or(0);
  INFO("fsyncs for " << n << " acknowledged events: " << fsyncs);
  CHECK(fsyncs >= 1);
  CHECK(fsyncs <= static_cast<double>(n) / 10);
}

TEST_CASE("every metric family moves on a live hub with rules, the embedded log, an adapter and a durable consumer",
          "[ops][hubd][promtool]") {
  temp_dir dir("ops-families");
  hubd_process hub({.extra_args = {"--fsync", "batch", "--rules", std::string(HUB_SOURCE_DIR) + "/deploy/rules/a4p.yaml"},
                    .http = true});
  auto before = http_get(hub.http_address(), "/metrics").body;
  CHECK(sample_sum(before, "hub_alerts_firing", {"severity=\"warning\""}) == 0.0);
  CHECK(sample_sum(before, "hub_adapter_heartbeat_age_seconds").has_value() == false);

  // What an adapter would send: an active mission activity with no gender marker (rule
  // R6 fires, severity warning), two more events and the adapter's heartbeat.
  std::ofstream(dir / "events.jsonl")
      << R"({"source_system":"unmiss-plans","entity":"peacekeeping","country":"SSD","occurred_at":"2025-02-01",)"
      << R"("source_record_id":"MA-9","payload_type":"mandate_activity",)"
      << R"("payload":{"activity_id":"MA-9","title":"Patrols","mandate_area":"poc","status":"active"}})" << "\n"
      << R"({"source_system":"unmiss-plans","entity":"peacekeeping","country":"SSD","occurred_at":"2025-02-02",)"
      << R"("source_record_id":"MA-10","payload_type":"mandate_activity","gender":{"level":"significant"},)"
      << R"("payload":{"activity_id":"MA-10","title":"Escorts","mandate_area":"poc","status":"active"}})" << "\n"
      << R"({"source_system":"unmiss-plans","entity":"peacekeeping","country":"SSD","occurred_at":"2025-02-03",)"
      << R"("source_record_id":"MA-11","payload_type":"mandate_activity","gender":{"level":"significant"},)"
      << R"("payload":{"activity_id":"MA-11","title":"Outreach","mandate_area":"poc","status":"active"}})" << "\n"
      << heartbeat_json("unmiss-adapter", 3, 48) << "\n";
  auto pub = hubctl({"--hub", hub.endpoint(), "publish", (dir / "events.jsonl").string()});
  INFO(pub.err);
  REQUIRE(pub.exit_code == 0);

  // A durable consumer reads the first two events and commits there.
  hub::sdk::subscriber::options so;
  so.connection.endpoints = {hub.endpoint()};
  so.connection.client_name = "ops-durable";
  so.durable_name = "ops-durable";
  so.start = hub::sdk::start_position::earliest();
  hub::sdk::subscriber sub(so);
  std::vector<std::uint64_t> offsets;
  REQUIRE(wait_for([&] {
    while (auto e = sub.next(std::chrono::milliseconds(20))) offsets.push_back(e->offset);
    return offsets.size() >= 4;
  }));
  const std::uint64_t committed = offsets[1] + 1;
  REQUIRE(sub.commit(committed));

  // The status settles: the R6 alert firing, the heartbeat seen, the commit recorded.
  nlohmann::json status = status_when(hub, [&](const nlohmann::json& st) {
    bool r6 = false;
    for (const auto& a : st["alerts"]["firing"]) r6 = r6 || a.value("rule", "") == "R6";
    bool consumer = false;
    for (const auto& c : st.value("consumers", nlohmann::json::array()))
      consumer = consumer || (c["name"] == "ops-durable" && c["committed"] == committed);
    // Four events published and the R6 alert the rules engine stores as an event.
    return r6 && consumer && adapter_in(st, "unmiss-adapter") != nullptr && st["store"]["end"] >= 5;
  });
  INFO(status.dump(2));
  REQUIRE(adapter_in(status, "unmiss-adapter") != nullptr);

  // Then every family agrees with it.
  std::string scrape;
  auto agrees = [&] {
    auto st = get_status(hub.http_address());
    if (!st) return false;
    status = *st;
    scrape = http_get(hub.http_address(), "/metrics").body;
    std::map<std::string, double> firing = {{"info", 0}, {"warning", 0}, {"critical", 0}};
    for (const auto& a : status["alerts"]["firing"]) firing[a["severity"].get<std::string>()] += 1;
    bool ok = true;
    for (const auto& [sev, n] : firing)
      ok = ok && sample_sum(scrape, "hub_alerts_firing", {"severity=\"" + sev + "\""}) == n;
    const auto end = status["store"]["end"].get<std::uint64_t>();
    double evaluated = 0;  // per rule in the status, one total in the metrics
    for (const auto& [rule, n] : status["rules"]["evaluated"].items()) evaluated += n.get<double>();
    return ok && sample_sum(scrape, "hub_rules_evaluated_total") == evaluated &&
           sample_sum(scrape, "hub_consumer_lag", {"consumer=\"ops-durable\""}) == static_cast<double>(end - committed) &&
           sample_sum(scrape, "hub_log_segments") == status["store"]["segments"].get<double>() &&
           sample_sum(scrape, "hub_log_bytes") == status["store"]["bytes"].get<double>() &&
           sample_sum(scrape, "hub_log_records") == status["store"]["records"].get<double>();
  };
  CHECK(wait_for(agrees));
  INFO(scrape);
  check_with_promtool(scrape, dir);

  // Rules: evaluated, and R6 (warning) among the alerts firing.
  CHECK(sample_sum(scrape, "hub_rules_evaluated_total").value_or(0) > 0);
  CHECK(sample_sum(scrape, "hub_alerts_firing", {"severity=\"warning\""}).value_or(0) >= 1);
  CHECK(sample_sum(scrape, "hub_alerts_firing", {"severity=\"critical\""}) == 0.0);
  // The adapter: its heartbeat is seconds old, and its figures are those it sent.
  auto age = sample_sum(scrape, "hub_adapter_heartbeat_age_seconds", {"adapter=\"unmiss-adapter\""});
  REQUIRE(age);
  CHECK(*age >= 0);
  CHECK(*age < 60);
  CHECK((*adapter_in(status, "unmiss-adapter"))["backlog"] == 3);
  CHECK((*adapter_in(status, "unmiss-adapter"))["published"] == 48);
  // The durable consumer: behind by what it has not committed (the events after its
  // commit, and the alert the rules engine stored).
  CHECK(status["store"]["end"].get<std::uint64_t>() >= 5);
  CHECK(sample_sum(scrape, "hub_consumer_lag", {"consumer=\"ops-durable\""}).value_or(0) >= 3);
  // The embedded log, synced in batches: fsyncs measured, segments and bytes counted.
  auto fsyncs = sample_sum(scrape, "hub_fsync_seconds_count").value_or(0);
  CHECK(fsyncs >= 1);
  CHECK(sample_sum(scrape, "hub_fsync_seconds_bucket", {"le=\"+Inf\""}) == fsyncs);
  CHECK(sample_sum(scrape, "hub_fsync_seconds_sum").value_or(0) > 0);
  CHECK(sample_sum(scrape, "hub_log_segments").value_or(0) >= 1);
  CHECK(sample_sum(scrape, "hub_log_bytes").value_or(0) > 1000);
  CHECK(status["store"]["kind"] == "embedded");
}

TEST_CASE("adapters known before a restart stay listed, their heartbeat age still growing", "[ops][hubd]") {
  hubd_process hub({.http = true});
  {
    hub::sdk::publisher::options po;
    po.connection.endpoints = {hub.endpoint()};
    hub::sdk::publisher pub(po);
    REQUIRE(pub.publish(heartbeat_envelope("iati-undp-ssd", 7, 90)));
    REQUIRE(pub.flush(std::chrono::seconds(10)));
  }
  auto before = status_when(hub, [](const nlohmann::json& st) { return adapter_in(st, "iati-undp-ssd") != nullptr; });
  REQUIRE(adapter_in(before, "iati-undp-ssd") != nullptr);
  const auto age_before = (*adapter_in(before, "iati-undp-ssd"))["last_heartbeat_ms_ago"].get<std::int64_t>();

  // The adapter stays silent; the hub restarts.
  hub.restart();
  auto after = status_when(hub, [](const nlohmann::json& st) { return adapter_in(st, "iati-undp-ssd") != nullptr; });
  INFO(hub.log());
  INFO(after.dump(2));
  REQUIRE(adapter_in(after, "iati-undp-ssd") != nullptr);
  CHECK((*adapter_in(after, "iati-undp-ssd"))["backlog"] == 7);
  CHECK((*adapter_in(after, "iati-undp-ssd"))["published"] == 90);
  const auto age_after = (*adapter_in(after, "iati-undp-ssd"))["last_heartbeat_ms_ago"].get<std::int64_t>();
  CHECK(age_after >= age_before);  // counted from the heartbeat in the log, not from the restart
  CHECK(wait_for([&] {
    auto st = get_status(hub.http_address());
    const auto* a = st ? adapter_in(*st, "iati-undp-ssd") : nullptr;
    return a != nullptr && (*a)["last_heartbeat_ms_ago"].get<std::int64_t>() > age_after;
  }));
  auto scrape = http_get(hub.http_address(), "/metrics").body;
  CHECK(sample_sum(scrape, "hub_adapter_heartbeat_age_seconds", {"adapter=\"iati-undp-ssd\""}).value_or(-1) >=
        static_cast<double>(age_after) / 1000.0);
  CHECK(hub.log().find("adapter(s) recalled") != std::string::npos);
}

TEST_CASE("hubctl status reads the ops endpoint, and says so when it falls back to STATUS", "[ops][hubd][hubctl]") {
  temp_dir dir("ops-hubctl-status");
  hubd_process hub({.http = true});
  std::ofstream(dir / "hb.jsonl") << heartbeat_json("unmiss-adapter", 2, 11) << "\n";
  REQUIRE(hubctl({"--hub", hub.endpoint(), "publish", (dir / "hb.jsonl").string()}).exit_code == 0);
  REQUIRE(publish_test_events(hub.endpoint(), 5) == 5);
  auto settled = status_when(hub, [](const nlohmann::json& st) {
    return st["counters"]["events_in"] == 6 && adapter_in(st, "unmiss-adapter") != nullptr;
  });
  const std::string hub_id = settled["hub_id"];

  // The summary: the hub, its counters and the adapter, which only the ops endpoint knows.
  auto summary = hubctl({"--hub", hub.endpoint(), "status", "--http", hub.http_address()});
  INFO(summary.err);
  REQUIRE(summary.exit_code == 0);
  CHECK(summary.err.empty());
  CHECK_THAT(summary.out, Catch::Contains("hub " + hub_id) && Catch::Contains("stored 6") &&
                              Catch::Contains("unmiss-adapter") && Catch::Contains("events in"));
  // The document: the one /api/status serves, with rates, adapters and alerts.
  auto doc = hubctl({"--hub", hub.endpoint(), "status", "--http", hub.http_address(), "--json"});
  REQUIRE(doc.exit_code == 0);
  auto j = nlohmann::json::parse(doc.out);
  CHECK(j["hub_id"] == hub_id);
  CHECK(j.contains("rates"));
  CHECK(j["alerts"].contains("firing"));
  CHECK(adapter_in(j, "unmiss-adapter") != nullptr);

  // No ops endpoint there: the client socket answers, and stderr says what is missing.
  auto fallback = hubctl({"--hub", hub.endpoint(), "status", "--http", "127.0.0.1:1", "--json"});
  INFO(fallback.err);
  REQUIRE(fallback.exit_code == 0);
  CHECK_THAT(fallback.err, Catch::Contains("127.0.0.1:1") && Catch::Contains("STATUS") &&
                               Catch::Contains("no rates, adapters or alerts"));
  auto z = nlohmann::json::parse(fallback.out);
  CHECK(z["hub_id"] == hub_id);
  CHECK_FALSE(z.contains("rates"));
  // --zmq asks the client socket directly, with no note.
  auto direct = hubctl({"--hub", hub.endpoint(), "status", "--zmq", "--json"});
  REQUIRE(direct.exit_code == 0);
  CHECK(direct.err.empty());
  CHECK(nlohmann::json::parse(direct.out)["hub_id"] == hub_id);
  // Neither answers: exit 1, both named.
  auto none = hubctl({"--hub", "tcp://127.0.0.1:1", "status", "--http", "127.0.0.1:1", "--timeout", "300ms"});
  CHECK(none.exit_code == 1);
  CHECK_THAT(none.err, Catch::Contains("127.0.0.1:1") && Catch::Contains("no answer"));
  auto help = hubctl({"status", "--help"});
  CHECK_THAT(help.out, Catch::Contains("--http") && Catch::Contains("--zmq") && Catch::Contains("/api/status"));
}

namespace {

// A PUB whose envelope has a readable id but a bad country; returns the id in hex.
std::string publish_bad_envelope(raw_client& c, std::uint64_t id_lo) {
  envelope_spec spec;
  spec.id_hi = 0x0190aaaabbbbcccdull;
  spec.id_lo = id_lo;
  spec.country = "ssd";
  auto env = make_envelope(spec);
  c.send({"PUB", hub::wire::u64_frame(1), std::string(env.begin(), env.end())});
  auto nak = c.wait_for_reply("NAK");
  REQUIRE(nak.size() >= 4);
  auto id = hub::schema::id_to_hex(envelope_id(env));
  CHECK(nak[3].find(id) != std::string::npos);  // the NAK text names it too
  return id;
}

}  // namespace

TEST_CASE("a refused event's log line carries its id, in text and in the JSON event_id field", "[ops][hubd][logs]") {
  SECTION("text") {
    hubd_process hub({.extra_args = {"--store", "memory"}});
    raw_client c(hub.endpoint());
    auto id = publish_bad_envelope(c, 0x51);
    std::string line;
    CHECK(wait_for([&] {
      std::istringstream in(hub.log());
      for (std::string l; std::getline(in, l);)
        if (l.find("NAK") != std::string::npos && l.find("event " + id) != std::string::npos) line = l;
      return !line.empty();
    }));
    INFO(hub.log());
    CHECK_THAT(line, Catch::Contains("country"));
  }
  SECTION("json") {
    hubd_process hub({.extra_args = {"--store", "memory", "--log-format", "json"}});
    raw_client c(hub.endpoint());
    auto id = publish_bad_envelope(c, 0x52);
    nlohmann::json found;
    CHECK(wait_for([&] {
      std::istringstream in(hub.log());
      for (std::string l; std::getline(in, l);) {
        auto j = nlohmann::json::parse(l, nullptr, false);
        if (!j.is_discarded() && j.value("event_id", "") == id) found = j;
      }
      return !found.is_null();
    }));
    INFO(hub.log());
    CHECK_THAT(found.value("msg", ""), Catch::Contains("NAK") && Catch::Contains("country"));
    CHECK(found["level"] == "warning");
    // Every line is one JSON object; lines about no event have no event_id.
    std::istringstream in(hub.log());
    int lines = 0;
    for (std::string l; std::getline(in, l);) {
      INFO(l);
      auto j = nlohmann::json::parse(l, nullptr, false);
      CHECK_FALSE(j.is_discarded());
      if (!j.is_discarded() && j.value("msg", "").find("serving clients") != std::string::npos)
        CHECK_FALSE(j.contains("event_id"));
      ++lines;
    }
    CHECK(lines >= 3);
  }
}

TEST_CASE("with security on, the log names refused events and never shows a secret key", "[ops][hubd][logs][security]") {
  temp_dir dir("ops-secrets");
  for (const char* base : {"hubd", "unmiss"}) {
    auto r = hubctl({"keys", "generate", (dir / base).string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  auto first_line = [&](const std::string& file) {
    std::string text = slurp(dir / file);
    return text.substr(0, text.find('\n'));
  };
  const std::string hub_secret = first_line("hubd.key"), hub_public = first_line("hubd.pub");
  const std::string my_secret = first_line("unmiss.key"), my_public = first_line("unmiss.pub");
  REQUIRE(hub_secret.size() == 40);
  REQUIRE(my_secret.size() == 40);
  std::ofstream(dir / "acl.yaml") << "identities:\n  - name: unmiss-adapter\n    public_key: \"" << my_public
                                  << "\"\n    entities: [peacekeeping]\n    subscribe: [\">\"]\n"
                                  << "    clearance: internal\n";
  std::ofstream(dir / "hubd.yaml") << "security:\n  enabled: true\n  curve_secret_key_file: " << (dir / "hubd.key").string()
                                   << "\n  acl_file: " << (dir / "acl.yaml").string() << "\n";
  hubd_process hub({.extra_args = {"--store", "memory", "--log-format", "json", "--log-level", "debug"},
                    .config = dir / "hubd.yaml"});
  raw_client c(hub.endpoint(), hub_public, my_public, my_secret);
  c.send({"HELLO", "1", "unmiss-adapter"});
  REQUIRE(c.wait_for_reply("WELCOME").size() >= 2);
  auto id = publish_bad_envelope(c, 0x53);  // a NAK: connected over CURVE and let in by the ACL
  std::string log;
  CHECK(wait_for([&] {
    log = hub.log();
    return log.find("\"event_id\":\"" + id + "\"") != std::string::npos;
  }));
  INFO(log);
  CHECK(log.find("security on") != std::string::npos);
  // Neither secret key, in any form the files hold, is anywhere in the log.
  CHECK(log.find(hub_secret) == std::string::npos);
  CHECK(log.find(my_secret) == std::string::npos);
  CHECK(log.find(slurp(dir / "hubd.key")) == std::string::npos);
  hub.stop();
  log = hub.log();
  CHECK(log.find(hub_secret) == std::string::npos);
  CHECK(log.find(my_secret) == std::string::npos);
}

TEST_CASE("SIGTERM under load: exit 0 in time, every acknowledged event kept, the committed offset kept",
          "[ops][hubd][shutdown]") {
  hubd_process hub({.extra_args = {"--fsync", "batch"}, .http = true});
  REQUIRE(wait_for([&] { return http_get(hub.http_address(), "/readyz").status == 200; }));

  // A publisher keeps its window full on a thread of its own until told to stop.
  std::atomic<bool> stop_publishing{false};
  std::atomic<std::size_t> acked_count{0}, most_in_flight{0};
  std::set<std::string> acked;  // written by the publisher's thread, read after join
  std::thread publisher([&] {
    hub::sdk::publisher::options po;
    po.connection.endpoints = {hub.endpoint()};
    po.connection.client_name = "ops-load";
    po.window = 500;
    po.publish_timeout = std::chrono::milliseconds(200);
    hub::sdk::publisher pub(po);
    pub.on_acked([&](const hub::schema::Id128& id, std::uint64_t, bool) {
      acked.insert(hub::schema::id_to_hex(id));
      acked_count = acked.size();
    });
    while (!stop_publishing) {
      envelope_spec spec;
      spec.pad_to = 1024;
      (void)pub.publish(make_envelope(spec));
      most_in_flight = std::max(most_in_flight.load(), pub.in_flight());
    }
  });
  struct joiner {
    std::atomic<bool>& flag;
    std::thread& t;
    ~joiner() {
      flag = true;
      if (t.joinable()) t.join();
    }
  } join_publisher{stop_publishing, publisher};

  // A durable consumer reads and commits as it goes.
  hub::sdk::subscriber::options so;
  so.connection.endpoints = {hub.endpoint()};
  so.connection.client_name = "ops-load-reader";
  so.durable_name = "ops-load-reader";
  so.start = hub::sdk::start_position::earliest();
  hub::sdk::subscriber sub(so);
  std::uint64_t committed = 0, read = 0;
  REQUIRE(wait_for([&] {
    while (auto e = sub.next(std::chrono::milliseconds(5))) {
      ++read;
      if (read % 200 == 0 && sub.commit(e->offset + 1)) committed = e->offset + 1;
    }
    return committed >= 1000 && acked_count >= 2000;
  }, std::chrono::seconds(60)));

  // SIGTERM while PUBs are in flight.
  auto t0 = std::chrono::steady_clock::now();
  int st = hub.stop(std::chrono::seconds(10));
  auto took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  stop_publishing = true;
  publisher.join();
  INFO(hub.log());
  REQUIRE(st != -1);  // it exited within 10 s
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  CHECK(took_ms < 10'000);
  CHECK(most_in_flight > 10);
  CHECK(hub.log().find("shutting down") != std::string::npos);

  // After a restart: every acknowledged event is in the log, and the consumer's offset stands.
  hub.restart();
  auto status = status_when(hub, [](const nlohmann::json& s) { return s.contains("consumers"); });
  std::uint64_t stored_commit = 0;
  for (const auto& c : status["consumers"])
    if (c["name"] == "ops-load-reader") stored_commit = c["committed"].get<std::uint64_t>();
  CHECK(stored_commit == committed);
  const auto end = status["store"]["end"].get<std::uint64_t>();
  CHECK(end >= acked.size());
  hub::sdk::subscriber::options all;
  all.connection.endpoints = {hub.endpoint()};
  all.start = hub::sdk::start_position::earliest();
  all.credit_window = 1000;
  hub::sdk::subscriber reader(all);
  std::set<std::string> in_log;
  std::uint64_t last = 0;
  CHECK(wait_for([&] {
    while (auto e = reader.next(std::chrono::milliseconds(5))) {
      in_log.insert(hub::schema::id_to_hex(*e->envelope()->id()));
      last = e->offset;
    }
    return last + 1 >= end;
  }, std::chrono::seconds(60)));
  std::size_t missing = 0;
  for (const auto& id : acked) missing += in_log.count(id) == 0 ? 1 : 0;
  INFO(acked.size() << " acknowledged, " << in_log.size() << " in the log");
  CHECK(missing == 0);
  CHECK(acked.size() >= 2000);
}
