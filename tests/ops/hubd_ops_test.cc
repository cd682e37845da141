// The ops endpoint of a real hubd: live scrapes checked by promtool, counters that move
// as events flow, /api/status agreeing with /metrics, and the ready file.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <set>

#include "adapters/sdk/sdk.h"
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
  CHECK(wait_for([&] {
    scrape = http_get(hub.http_address(), "/metrics").body;
    return sample_sum(scrape, "hub_events_in_total", pk_mandate).value_or(0) == 25;
  }));
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

TEST_CASE("the status API agrees with the metrics and names the connected clients", "[ops][hubd]") {
  hubd_process hub({.http = true});
  REQUIRE(publish_test_events(hub.endpoint(), 12) == 12);
  hub::sdk::publisher::options po;
  po.connection.endpoints = {hub.endpoint()};
  po.connection.client_name = "ops-status-client";
  hub::sdk::publisher idle(po);
  idle.poll(std::chrono::milliseconds(10));

  nlohmann::json status;
  CHECK(wait_for([&] {
    auto s = get_status(hub.http_address());
    if (!s) return false;
    status = *s;
    bool named = false;
    for (const auto& c : status.value("clients", nlohmann::json::array()))
      named = named || c.value("name", "") == "ops-status-client";
    idle.poll(std::chrono::milliseconds(0));
    return status["counters"]["events_in"] == 12 && named;
  }));
  INFO(status.dump(2));
  CHECK(status["store"]["end"].get<std::uint64_t>() >= 12);
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
