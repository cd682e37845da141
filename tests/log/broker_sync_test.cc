// Group commit and a failed fsync, seen by a publisher: a real broker on loopback,
// in-process so that its event log can sit on a file system that holds or fails fsyncs
// on purpose (tests/log/log_test_support.h), and a real SDK publisher.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "adapters/sdk/sdk.h"
#include "tests/log/log_test_support.h"
#include "tests/support/envelopes.h"
#include "tests/support/hubd_process.h"
#include "tests/support/running_broker.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using namespace hub::log::test;

namespace {

// A real broker on the given store; status() asks it over the protocol (the loop thread
// owns the store).
class running_broker : public hub::test::running_broker {
 public:
  explicit running_broker(std::unique_ptr<hub::store::store> st)
      : hub::test::running_broker(options(), std::move(st)) {}

  [[nodiscard]] nlohmann::json status() const {
    hub::sdk::connection_options c;
    c.endpoints = {endpoint()};
    c.client_name = "broker-sync-test-status";
    auto text = hub::sdk::fetch_status(c, 3s);
    return text ? nlohmann::json::parse(*text) : nlohmann::json::object();
  }

 private:
  static hub::broker::broker_options options() {
    auto o = hub::test::loopback_options();
    o.store_kind = "embedded";
    return o;
  }
};

// Opens the gate on the way out, so that a failing check cannot leave the broker's sync
// thread waiting forever. Declared after the broker: destroyed before it.
struct release_syncs_on_exit {
  faulty_file_system& fs;
  ~release_syncs_on_exit() { fs.release_syncs(); }
};

hub::sdk::publisher::options publisher_options(const std::string& endpoint) {
  hub::sdk::publisher::options po;
  po.connection.endpoints = {endpoint};
  po.connection.client_name = "broker-sync-test";
  po.connection.heartbeat = 200ms;
  po.connection.hub_timeout = 5000ms;
  po.window = 1000;
  return po;
}

std::vector<std::uint8_t> event(std::uint64_t n) {
  hub::test::envelope_spec spec;
  spec.id_hi = 0x0190000000000003ull;
  spec.id_lo = n;
  spec.pad_to = 300;
  return hub::test::make_envelope(spec);
}

using id_key = std::pair<std::uint64_t, std::uint64_t>;
id_key key(const hub::schema::Id128& id) { return {id.hi(), id.lo()}; }

std::uint64_t json_u64(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* at = &j;
  for (const char* k : path) {
    if (!at->is_object() || !at->contains(k)) return 0;
    at = &(*at)[k];
  }
  return at->is_number() ? at->get<std::uint64_t>() : 0;
}

}  // namespace

TEST_CASE("an ACK waits for the fsync, and one fsync covers every PUB that came while the last one ran",
          "[log][broker][group_commit]") {
  hub::test::temp_dir dir("broker-sync");
  faulty_file_system ffs;
  running_broker hub(open_or_fail(dir / "data", {}, &ffs));  // fsync batch, the default
  release_syncs_on_exit release{ffs};
  hub::sdk::publisher pub(publisher_options(hub.endpoint()));
  std::uint64_t acked = 0;
  pub.on_acked([&](const hub::schema::Id128&, std::uint64_t, bool) { ++acked; });

  // The first PUB's fsync is held at the gate; 199 more arrive and are written meanwhile.
  ffs.hold_syncs();
  const int syncs_before = ffs.syncs.load();
  REQUIRE(pub.publish(event(0)));
  REQUIRE(hub::test::wait_for([&] {
    pub.poll(5ms);
    return ffs.syncs_waiting() == 1;
  }));
  const std::uint64_t n = 200;
  for (std::uint64_t i = 1; i < n; ++i) REQUIRE(pub.publish(event(i)));
  nlohmann::json st;
  REQUIRE(hub::test::wait_for([&] {
    pub.poll(5ms);
    st = hub.status();
    return json_u64(st, {"store", "end"}) == n;
  }));
  // Written, not durable: no ACK, however long the publisher waits.
  for (auto until = std::chrono::steady_clock::now() + 300ms; std::chrono::steady_clock::now() < until;) pub.poll(10ms);
  CHECK(acked == 0);
  CHECK(json_u64(hub.status(), {"store", "durable_end"}) == 0);
  CHECK(ffs.syncs_waiting() == 1);

  ffs.release_syncs();
  REQUIRE(pub.flush(10s));
  CHECK(acked == n);
  CHECK(pub.stats().acked == n);
  // Two fsyncs for 200 ACKs: the held one (the first PUB) and one for the other 199.
  CHECK(ffs.syncs.load() - syncs_before == 2);
  CHECK(json_u64(hub.status(), {"store", "durable_end"}) == n);
}

TEST_CASE("a failed fsync refuses the waiting PUBs, and their resends are stored once when fsync works again",
          "[log][broker][faults]") {
  hub::test::temp_dir dir("broker-sync");
  faulty_file_system ffs;
  std::map<id_key, std::uint64_t> acked;  // id -> offset
  std::uint64_t refused_final = 0;
  const std::uint64_t before = 50, during = 100;
  {
    running_broker hub(open_or_fail(dir / "data", {}, &ffs));
    release_syncs_on_exit release{ffs};
    hub::sdk::publisher pub(publisher_options(hub.endpoint()));
    pub.on_acked([&](const hub::schema::Id128& id, std::uint64_t off, bool) { acked.emplace(key(id), off); });
    pub.on_refused([&](const hub::schema::Id128&, hub::schema::Reason, const std::string&) { ++refused_final; });

    // Acknowledged before the fault: must survive it.
    for (std::uint64_t i = 0; i < before; ++i) REQUIRE(pub.publish(event(i)));
    REQUIRE(pub.flush(10s));
    REQUIRE(acked.size() == before);

    // More PUBs, written while their fsync is held; then that fsync fails.
    ffs.hold_syncs();
    for (std::uint64_t i = before; i < before + during; ++i) REQUIRE(pub.publish(event(i)));
    REQUIRE(hub::test::wait_for([&] {
      pub.poll(5ms);
      return ffs.syncs_waiting() == 1 && json_u64(hub.status(), {"store", "end"}) == before + during;
    }));
    ffs.fail_sync = true;
    ffs.release_syncs();

    // Every waiting PUB is refused for now (store_unavailable); the resends that come
    // while fsync still fails are refused again, and the hub says it cannot write.
    nlohmann::json st;
    REQUIRE(hub::test::wait_for([&] {
      pub.poll(5ms);
      st = hub.status();
      return json_u64(st, {"counters", "naks", "store_unavailable"}) >= during;
    }));
    INFO(st.dump());
    CHECK(json_u64(st, {"store", "end"}) == before);
    CHECK(json_u64(st, {"store", "durable_end"}) == before);
    CHECK(st["store"]["writable"] == false);
    CHECK(acked.size() == before);

    // The fault clears: the publisher's resends are stored and acknowledged.
    ffs.fail_sync = false;
    REQUIRE(pub.flush(30s));
    CHECK(acked.size() == before + during);
    CHECK(refused_final == 0);
    CHECK(pub.stats().resent >= during);
    st = hub.status();
    CHECK(st["store"]["writable"] == true);
    CHECK(json_u64(st, {"store", "end"}) == before + during);
  }

  // From disk, without the faulty file system: every acknowledged event once, at the
  // offset its ACK named, and nothing else.
  auto log = open_or_fail(dir / "data");
  std::map<id_key, std::uint64_t> stored;
  std::uint64_t records = 0;
  REQUIRE(log->read(hub::offset{0}, log->end(), 1'000'000, [&](const hub::store::record_view& v) {
    ++records;
    stored.emplace(key(v.id), v.off.value);
    return true;
  }));
  CHECK(records == before + during);
  CHECK(stored.size() == records);
  CHECK(stored == acked);
  CHECK(log->stats().corrupt_skipped == 0);
}
