// Integration tests of the SDK against a real hubd on loopback.
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/sdk/test_events.h"
#include "tests/support/hubd_process.h"

using namespace std::chrono_literals;
using hub::schema::Entity;
using hub::test::connect_to;
using hub::test::id_of;
using hub::test::make_event;

namespace {

hub::sdk::subscriber::options sub_options(const std::string& endpoint, const std::string& pattern,
                                          std::uint32_t credit = 256) {
  hub::sdk::subscriber::options o;
  o.connection = connect_to(endpoint);
  o.pattern = pattern;
  o.start = hub::sdk::start_position::earliest();
  o.credit_window = credit;
  return o;
}

// Reads until `n` events came or the deadline passed.
std::vector<hub::sdk::event> read_n(hub::sdk::subscriber& s, std::size_t n,
                                    std::chrono::milliseconds deadline = 10s) {
  std::vector<hub::sdk::event> out;
  auto until = std::chrono::steady_clock::now() + deadline;
  while (out.size() < n && std::chrono::steady_clock::now() < until) {
    auto e = s.next(100ms);
    if (e) out.push_back(std::move(*e));
  }
  return out;
}

}  // namespace

TEST_CASE("published events arrive once and in order on a matching pattern and not on others",
          "[sdk][pubsub]") {
  hub::test::hubd_process hub;
  hub::sdk::publisher::options po;
  po.connection = connect_to(hub.endpoint());
  po.window = 32;  // smaller than the batch: publish() must wait for acks
  hub::sdk::publisher pub(po);

  std::vector<std::string> pk_ids;
  for (int i = 0; i < 200; ++i) {
    bool pk = i % 2 == 0;
    auto bytes = make_event(pk ? Entity::peacekeeping : Entity::development, "SSD", "R" + std::to_string(i));
    if (pk) pk_ids.push_back(id_of(bytes));
    REQUIRE(pub.publish(bytes));
  }
  REQUIRE(pub.flush(10s));
  CHECK(pub.stats().acked == 200);
  CHECK(pub.stats().refused == 0);
  CHECK(pub.in_flight() == 0);

  hub::sdk::subscriber pk(sub_options(hub.endpoint(), "peacekeeping.SSD.*", 16));
  auto got = read_n(pk, 100);
  REQUIRE(got.size() == 100);
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(id_of(got[i].bytes) == pk_ids[i]);
    CHECK(got[i].topic == "peacekeeping.SSD.mandate_activity");
    if (i > 0) CHECK(got[i].offset > got[i - 1].offset);
  }
  CHECK_FALSE(pk.next(300ms));  // nothing more, nothing twice

  hub::sdk::subscriber other(sub_options(hub.endpoint(), "peacekeeping.COD.>"));
  CHECK_FALSE(other.next(500ms));
  CHECK(other.first_offset().has_value());  // it was subscribed, just nothing matched
}

TEST_CASE("a subscriber from new sees only events published after it subscribed", "[sdk][pubsub]") {
  hub::test::hubd_process hub;
  hub::sdk::publisher::options po;
  po.connection = connect_to(hub.endpoint());
  hub::sdk::publisher pub(po);
  REQUIRE(pub.publish(make_event(Entity::peacekeeping, "SSD", "old")));
  REQUIRE(pub.flush(10s));

  auto so = sub_options(hub.endpoint(), ">");
  so.start = hub::sdk::start_position::new_only();
  hub::sdk::subscriber sub(so);
  REQUIRE(hub::test::wait_for([&] {
    (void)sub.next(10ms);
    return sub.first_offset().has_value();
  }));
  auto fresh = make_event(Entity::peacekeeping, "SSD", "new");
  REQUIRE(pub.publish(fresh));
  REQUIRE(pub.flush(10s));
  auto got = read_n(sub, 1);
  REQUIRE(got.size() == 1);
  CHECK(id_of(got[0].bytes) == id_of(fresh));
}

TEST_CASE("a subscriber started at an offset or a time gets exactly the events from there", "[sdk][start]") {
  hub::test::hubd_process hub;
  hub::sdk::publisher::options po;
  po.connection = connect_to(hub.endpoint());
  hub::sdk::publisher pub(po);
  std::map<std::string, std::uint64_t> offset_of;
  pub.on_acked([&](const hub::schema::Id128& id, std::uint64_t offset, bool) {
    offset_of[hub::schema::id_to_hex(id)] = offset;
  });
  std::vector<std::string> ids;  // in publishing order
  auto publish = [&](int n) {
    for (int i = 0; i < n; ++i) {
      auto bytes = make_event(Entity::peacekeeping, "SSD", "S" + std::to_string(ids.size()));
      ids.push_back(id_of(bytes));
      REQUIRE(pub.publish(bytes));
    }
    REQUIRE(pub.flush(10s));
  };
  auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  publish(4);
  // The first four were stored before `boundary` (acknowledged), the last three after
  // it (the clock passed it before they were published).
  const std::int64_t boundary = now_ms() + 1;
  REQUIRE(hub::test::wait_for([&] { return now_ms() > boundary; }));
  publish(3);
  REQUIRE(offset_of.size() == 7);
  auto ids_of = [](const std::vector<hub::sdk::event>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(id_of(e.bytes));
    return out;
  };

  SECTION("at an offset: that event and every later one, in order") {
    auto so = sub_options(hub.endpoint(), ">");
    so.start = hub::sdk::start_position::at_offset(offset_of[ids[2]]);
    hub::sdk::subscriber sub(so);
    auto got = read_n(sub, 5);
    CHECK(ids_of(got) == std::vector<std::string>(ids.begin() + 2, ids.end()));
    REQUIRE(sub.first_offset().has_value());
    CHECK(*sub.first_offset() == offset_of[ids[2]]);
    CHECK_FALSE(sub.next(300ms));
  }
  SECTION("at a time: the events stored at or after it") {
    auto so = sub_options(hub.endpoint(), ">");
    so.start = hub::sdk::start_position::at_time(boundary);
    hub::sdk::subscriber sub(so);
    auto got = read_n(sub, 3);
    CHECK(ids_of(got) == std::vector<std::string>(ids.begin() + 4, ids.end()));
    CHECK_FALSE(sub.next(300ms));
  }
  SECTION("past the end of the log: refused, with the hub's reason") {
    auto so = sub_options(hub.endpoint(), ">");
    so.start = hub::sdk::start_position::at_offset(offset_of[ids.back()] + 2);
    hub::sdk::subscriber sub(so);
    CHECK_FALSE(sub.next(1s));
    CHECK_FALSE(sub.first_offset().has_value());
    CHECK_THAT(sub.last_error(), Catch::Contains("beyond the end of the log"));
  }
}

TEST_CASE("a resent event id is stored once", "[sdk][dedup]") {
  hub::test::hubd_process hub;
  hub::sdk::publisher::options po;
  po.connection = connect_to(hub.endpoint());
  hub::sdk::publisher pub(po);
  std::vector<std::uint64_t> offsets;
  pub.on_acked([&](const hub::schema::Id128&, std::uint64_t offset, bool) { offsets.push_back(offset); });

  auto bytes = make_event(Entity::peacekeeping, "SSD", "same");
  REQUIRE(pub.publish(bytes));
  REQUIRE(pub.flush(10s));
  REQUIRE(pub.publish(bytes));
  REQUIRE(pub.flush(10s));
  REQUIRE(offsets.size() == 2);
  CHECK(offsets[0] == offsets[1]);
  CHECK(pub.stats().acked == 2);
  CHECK(pub.stats().duplicates == 1);

  hub::sdk::subscriber sub(sub_options(hub.endpoint(), ">"));
  auto got = read_n(sub, 1);
  REQUIRE(got.size() == 1);
  CHECK(id_of(got[0].bytes) == id_of(bytes));
  CHECK_FALSE(sub.next(500ms));
}

TEST_CASE("a final refusal is reported with its reason and nothing is resent", "[sdk][pubsub]") {
  hub::test::hubd_process hub;
  hub::sdk::publisher::options po;
  po.connection = connect_to(hub.endpoint());
  hub::sdk::publisher pub(po);
  std::vector<hub::schema::Reason> reasons;
  pub.on_refused([&](const hub::schema::Id128&, hub::schema::Reason r, const std::string&) { reasons.push_back(r); });
  // "ssd" is not a capital alpha-3 code: the hub refuses the field.
  REQUIRE(pub.publish(make_event(Entity::peacekeeping, "ssd", "bad-country")));
  REQUIRE(pub.flush(10s));
  REQUIRE(reasons.size() == 1);
  CHECK(reasons[0] == hub::schema::Reason::bad_field);
  CHECK(pub.stats().refused == 1);
  CHECK(pub.stats().acked == 0);
}

TEST_CASE("publish refuses bytes that are not an envelope", "[sdk][pubsub]") {
  hub::sdk::publisher::options po;
  po.connection = connect_to("tcp://127.0.0.1:1");  // never contacted for bad input
  hub::sdk::publisher pub(po);
  std::vector<std::uint8_t> junk = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  CHECK_THROWS_AS(pub.publish(junk), hub::sdk::error);
  CHECK(pub.in_flight() == 0);
}

TEST_CASE("bad subscriber options are refused before anything is sent", "[sdk][pubsub]") {
  auto o = sub_options("tcp://127.0.0.1:1", "peacekeeping..SSD");
  CHECK_THROWS_AS(hub::sdk::subscriber(o), hub::sdk::error);
  o.pattern = "a.>.b";
  CHECK_THROWS_AS(hub::sdk::subscriber(o), hub::sdk::error);
  o.pattern = ">";
  o.connection.endpoints.clear();
  CHECK_THROWS_AS(hub::sdk::subscriber(o), hub::sdk::error);
}

TEST_CASE("a durable subscription resumes after its committed offset", "[sdk][durable]") {
  hub::test::hubd_process hub;
  hub::sdk::publisher::options po;
  po.connection = connect_to(hub.endpoint());
  hub::sdk::publisher pub(po);
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    auto b = make_event(Entity::peacekeeping, "SSD", "D" + std::to_string(i));
    ids.push_back(id_of(b));
    REQUIRE(pub.publish(b));
  }
  REQUIRE(pub.flush(10s));
  auto so = sub_options(hub.endpoint(), ">");
  so.durable_name = "sdk-durable-test";
  {
    hub::sdk::subscriber sub(so);
    auto got = read_n(sub, 4);
    REQUIRE(got.size() == 4);
    REQUIRE(sub.commit(got.back().offset + 1));
  }
  hub::sdk::subscriber again(so);
  auto rest = read_n(again, 6);
  REQUIRE(rest.size() == 6);
  CHECK(id_of(rest.front().bytes) == ids[4]);
  CHECK(id_of(rest.back().bytes) == ids[9]);
}

TEST_CASE("a COMMIT the hub refuses returns false at once with the hub's reason", "[sdk][durable]") {
  hub::test::hubd_process hub;
  hub::sdk::publisher::options po;
  po.connection = connect_to(hub.endpoint());
  hub::sdk::publisher pub(po);
  REQUIRE(pub.publish(make_event(Entity::peacekeeping, "SSD", "C0")));
  REQUIRE(pub.flush(10s));
  hub::sdk::subscriber sub(sub_options(hub.endpoint(), ">"));  // no durable name
  REQUIRE(read_n(sub, 1).size() == 1);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(sub.commit(1, 20s));
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);  // the ERR ended the wait, not the timeout
  CHECK_THAT(sub.last_error(), Catch::Contains("no durable name"));
}

TEST_CASE("the spool delivers events published while no hub listened, once, after a restart",
          "[sdk][spool]") {
  hub::test::temp_dir dir("sdk-spool");
  auto spool = dir / "adapter.spool";
  hub::test::hubd_process hub;
  std::string dead = hub.endpoint();
  REQUIRE(hub.stop() != -1);

  std::vector<std::string> ids;
  {
    hub::sdk::publisher::options po;
    po.connection = connect_to(dead);
    po.spool_file = spool;
    hub::sdk::publisher pub(po);
    for (int i = 0; i < 20; ++i) {
      auto b = make_event(Entity::peacekeeping, "SSD", "S" + std::to_string(i));
      ids.push_back(id_of(b));
      REQUIRE(pub.publish(b));
    }
    CHECK_FALSE(pub.flush(300ms));
    CHECK(pub.stats().spooled == 20);
  }  // the adapter stops with nothing acknowledged

  hub.restart();  // same data dir, new port
  hub::sdk::publisher::options po;
  po.connection = connect_to(hub.endpoint());
  po.spool_file = spool;
  hub::sdk::publisher pub(po);
  CHECK(pub.in_flight() == 20);
  REQUIRE(pub.flush(10s));
  CHECK(pub.stats().acked == 20);
  CHECK(pub.stats().spooled == 0);
  CHECK(std::filesystem::file_size(spool) == 8);  // only the header is left

  hub::sdk::subscriber sub(sub_options(hub.endpoint(), ">"));
  auto got = read_n(sub, 20);
  REQUIRE(got.size() == 20);
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(id_of(got[i].bytes) == ids[i]);
  CHECK_FALSE(sub.next(500ms));
}

TEST_CASE("a full spool makes publish return false and keeps what it holds", "[sdk][spool]") {
  hub::test::temp_dir dir("sdk-spool");
  hub::sdk::publisher::options po;
  po.connection = connect_to("tcp://127.0.0.1:1");
  po.spool_file = dir / "small.spool";
  po.spool_max_bytes = 4096;
  hub::sdk::publisher pub(po);
  int accepted = 0;
  for (int i = 0; i < 100; ++i) {
    if (!pub.publish(make_event(Entity::peacekeeping, "SSD", "F" + std::to_string(i)))) break;
    ++accepted;
  }
  CHECK(accepted > 5);
  CHECK(accepted < 100);
  CHECK(pub.stats().spooled == static_cast<std::uint64_t>(accepted));
  CHECK(pub.stats().published == static_cast<std::uint64_t>(accepted));
}

TEST_CASE("fetch_status returns the hub's status JSON", "[sdk][status]") {
  hub::test::hubd_process hub;
  auto text = hub::sdk::fetch_status(connect_to(hub.endpoint()));
  REQUIRE(text);
  auto j = nlohmann::json::parse(*text);
  CHECK(j.contains("hub_id"));
  CHECK(j["store"].contains("end"));
  CHECK_FALSE(hub::sdk::fetch_status(connect_to("tcp://127.0.0.1:1"), 300ms));
}

TEST_CASE("a publisher fails over to the next hub and resends what was not acknowledged", "[sdk][failover]") {
  hub::test::hubd_process first;
  hub::test::hubd_process second;
  hub::sdk::publisher::options po;
  po.connection = connect_to(first.endpoint());
  po.connection.endpoints.push_back(second.endpoint());
  hub::sdk::publisher pub(po);

  std::vector<std::string> before;
  for (int i = 0; i < 10; ++i) {
    auto b = make_event(Entity::peacekeeping, "SSD", "B" + std::to_string(i));
    before.push_back(id_of(b));
    REQUIRE(pub.publish(b));
  }
  REQUIRE(pub.flush(10s));
  first.kill9();  // a crash: acknowledged events must survive it

  std::vector<std::string> after;
  for (int i = 0; i < 10; ++i) {
    auto b = make_event(Entity::peacekeeping, "SSD", "A" + std::to_string(i));
    after.push_back(id_of(b));
    REQUIRE(pub.publish(b));
  }
  REQUIRE(pub.flush(15s));  // hub_timeout passes, the socket moves to the second hub
  CHECK(pub.stats().acked == 20);
  CHECK(pub.stats().reconnects >= 1);
  CHECK(pub.stats().resent >= 10);

  hub::sdk::subscriber on_second(sub_options(second.endpoint(), ">"));
  auto got = read_n(on_second, 10);
  REQUIRE(got.size() == 10);
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(id_of(got[i].bytes) == after[i]);
  CHECK_FALSE(on_second.next(300ms));

  first.restart();  // same data dir: the acknowledged events are still there
  hub::sdk::subscriber on_first(sub_options(first.endpoint(), ">"));
  auto kept = read_n(on_first, 10);
  REQUIRE(kept.size() == 10);
  for (std::size_t i = 0; i < kept.size(); ++i) CHECK(id_of(kept[i].bytes) == before[i]);
}

TEST_CASE("a subscriber that loses its hub resumes after the last event it returned, on the next hub",
          "[sdk][failover]") {
  hub::test::hubd_process first;
  hub::test::hubd_process second;
  // The same events in the same order on both hubs, so their offsets agree.
  std::vector<std::vector<std::uint8_t>> events;
  for (int i = 0; i < 12; ++i) events.push_back(make_event(Entity::peacekeeping, "SSD", "F" + std::to_string(i)));
  for (const auto* h : {&first, &second}) {
    hub::sdk::publisher::options po;
    po.connection = connect_to(h->endpoint());
    hub::sdk::publisher pub(po);
    for (const auto& e : events) REQUIRE(pub.publish(e));
    REQUIRE(pub.flush(10s));
  }
  auto so = sub_options(first.endpoint(), ">", 4);
  so.connection.endpoints.push_back(second.endpoint());
  hub::sdk::subscriber sub(so);
  auto head = read_n(sub, 5);
  REQUIRE(head.size() == 5);
  first.kill9();
  auto rest = read_n(sub, 7, 15s);  // hub_timeout passes, then the second hub serves
  REQUIRE(rest.size() == 7);
  CHECK(rest.front().offset == head.back().offset + 1);
  for (std::size_t i = 0; i < rest.size(); ++i) CHECK(id_of(rest[i].bytes) == id_of(events[i + 5]));
  CHECK_FALSE(sub.next(300ms));
}

namespace {

// A hub that forgets a client after 1 s of silence. A subscriber (options from `adjust`)
// reads five events, and is then left alone (no next(), so no PING) until the hub has
// timed it out; nothing waits in its socket. Seven more events are published: it must
// get them, right after the first five.
void read_on_after_the_hub_forgot(
    const std::function<void(hub::sdk::subscriber::options&)>& adjust) {
  hub::test::temp_dir dir("client-timeout");
  std::ofstream(dir.path() / "hubd.yaml") << "client_timeout_ms: 1000\n";
  hub::test::hubd_process hub({.config = dir.path() / "hubd.yaml"});
  std::vector<std::vector<std::uint8_t>> events;
  for (int i = 0; i < 12; ++i) events.push_back(make_event(Entity::peacekeeping, "SSD", "Q" + std::to_string(i)));
  hub::sdk::publisher::options po;
  po.connection = connect_to(hub.endpoint());
  hub::sdk::publisher pub(po);
  auto publish = [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) REQUIRE(pub.publish(events[i]));
    REQUIRE(pub.flush(10s));
  };
  publish(0, 5);

  auto so = sub_options(hub.endpoint(), ">", 4);
  so.connection.heartbeat = 100ms;
  adjust(so);
  hub::sdk::subscriber sub(so);
  auto head = read_n(sub, 5);
  REQUIRE(head.size() == 5);
  REQUIRE(hub::test::wait_for([&] { return hub.log().find("silent for longer") != std::string::npos; }, 15s));
  publish(5, 12);

  auto rest = read_n(sub, 7, 15s);
  REQUIRE(rest.size() == 7);
  CHECK(rest.front().offset == head.back().offset + 1);
  for (std::size_t i = 0; i < rest.size(); ++i) CHECK(id_of(rest[i].bytes) == id_of(events[i + 5]));

  // The publisher was quiet as long and was timed out too: its first publish() after
  // that PINGed (idle past its heartbeat), and the PONG said the session was gone. It
  // kept its socket and started a new session on it, which its counters tell apart.
  CHECK(hub::test::wait_for([&] {
    pub.poll(10ms);
    return pub.stats().renewals >= 1;
  }, 5s));
  CHECK(pub.stats().reconnects == 0);
  CHECK(pub.stats().refused == 0);
}

}  // namespace

TEST_CASE("a subscriber its owner leaves unpolled until the hub forgets it resumes on the same hub",
          "[sdk][failover]") {
  hub::test::hubd_process second;  // empty: the subscriber has no business there
  read_on_after_the_hub_forgot([&](hub::sdk::subscriber::options& so) {
    so.connection.endpoints.push_back(second.endpoint());
    so.connection.hub_timeout = 300ms;  // passes while the owner does not poll
  });
  CHECK(second.log().find("subscribed") == std::string::npos);
}

TEST_CASE("a subscriber the hub timed out while it was quiet subscribes again when the hub's PONG says so",
          "[sdk][failover]") {
  // A patient client (hub_timeout longer than the hub's client_timeout, as on a slow
  // field link): when it is heard again, its own clock says the hub is still there.
  read_on_after_the_hub_forgot([](hub::sdk::subscriber::options& so) { so.connection.hub_timeout = 20s; });
}

TEST_CASE("a subscriber starting at a time gets exactly the events appended at or after it", "[sdk][time]") {
  hub::test::hubd_process hub;
  hub::sdk::publisher::options po;
  po.connection = connect_to(hub.endpoint());
  hub::sdk::publisher pub(po);
  auto publish_batch = [&](const std::string& prefix, std::vector<std::string>& ids) {
    for (int i = 0; i < 10; ++i) {
      auto b = make_event(Entity::peacekeeping, "SSD", prefix + std::to_string(i));
      ids.push_back(id_of(b));
      REQUIRE(pub.publish(b));
    }
    REQUIRE(pub.flush(10s));
  };
  auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  std::vector<std::string> before, after;
  publish_batch("T", before);
  // Every event before was appended (and acked) before this moment; the hub stamps
  // events with the same clock.
  const std::int64_t t = now_ms() + 1;
  REQUIRE(hub::test::wait_for([&] { return now_ms() >= t; }, 2s));
  publish_batch("U", after);

  auto from = [&](std::int64_t when) {
    auto so = sub_options(hub.endpoint(), ">");
    so.start = hub::sdk::start_position::at_time(when);
    return so;
  };
  SECTION("a time between two batches starts at the first event after it") {
    hub::sdk::subscriber sub(from(t));
    auto got = read_n(sub, 10);
    REQUIRE(got.size() == 10);
    CHECK(sub.first_offset() == std::optional<std::uint64_t>(10));
    for (std::size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].offset == 10 + i);
      CHECK(id_of(got[i].bytes) == after[i]);
    }
    CHECK_FALSE(sub.next(300ms));
  }
  SECTION("a time before every event starts at the first") {
    hub::sdk::subscriber sub(from(t - 3'600'000));
    auto got = read_n(sub, 20);
    REQUIRE(got.size() == 20);
    CHECK(id_of(got.front().bytes) == before.front());
    CHECK(id_of(got.back().bytes) == after.back());
  }
  SECTION("a time after every event starts at the end of the log") {
    hub::sdk::subscriber sub(from(now_ms() + 3'600'000));
    CHECK_FALSE(sub.next(500ms));
    CHECK(sub.first_offset() == std::optional<std::uint64_t>(20));
  }
}

TEST_CASE("a durable subscriber resumes exactly after its last commit when the hub restarts", "[sdk][durable]") {
  hub::test::hubd_process hub({.extra_args = {"--store", "embedded", "--fsync", "batch"}});
  hub::sdk::publisher::options po;
  po.connection = connect_to(hub.endpoint());
  std::vector<std::string> ids;
  {
    hub::sdk::publisher pub(po);
    for (int i = 0; i < 30; ++i) {
      auto b = make_event(Entity::peacekeeping, "SSD", "R" + std::to_string(i));
      ids.push_back(id_of(b));
      REQUIRE(pub.publish(b));
    }
    REQUIRE(pub.flush(10s));
  }
  auto so = sub_options(hub.endpoint(), ">", 8);
  so.durable_name = "resume-after-restart";
  {
    hub::sdk::subscriber sub(so);
    auto got = read_n(sub, 12);
    REQUIRE(got.size() == 12);
    REQUIRE(got.back().offset == 11);
    REQUIRE(sub.commit(12));
  }
  REQUIRE(hub.stop() == 0);
  hub.restart();
  so.connection = connect_to(hub.endpoint());
  hub::sdk::subscriber again(so);
  auto rest = read_n(again, 18);
  REQUIRE(rest.size() == 18);
  CHECK(again.first_offset() == std::optional<std::uint64_t>(12));
  CHECK(rest.front().offset == 12);
  for (std::size_t i = 0; i < rest.size(); ++i) CHECK(id_of(rest[i].bytes) == ids[12 + i]);
  CHECK_FALSE(again.next(300ms));
}

TEST_CASE("one publisher spools while its hub is down and forwards the spool, original ids, when it is back",
          "[sdk][spool]") {
  hub::test::temp_dir dir("sdk-spool");
  hub::test::hubd_process hub;
  hub::sdk::publisher::options po;
  po.connection = connect_to(hub.endpoint());
  po.spool_file = dir / "field-site.spool";
  hub::sdk::publisher pub(po);
  std::vector<std::string> ids;
  std::vector<std::string> acked;
  pub.on_acked([&](const hub::schema::Id128& id, std::uint64_t, bool) { acked.push_back(hub::schema::id_to_hex(id)); });
  auto publish = [&](const std::string& record) {
    auto b = make_event(Entity::peacekeeping, "SSD", record);
    ids.push_back(id_of(b));
    REQUIRE(pub.publish(b));
  };
  for (int i = 0; i < 10; ++i) publish("L" + std::to_string(i));
  REQUIRE(pub.flush(10s));
  REQUIRE(hub.stop() == 0);  // the link goes down

  for (int i = 0; i < 20; ++i) publish("D" + std::to_string(i));
  CHECK_FALSE(pub.flush(500ms));
  CHECK(pub.stats().spooled == 20);
  CHECK(std::filesystem::file_size(po.spool_file) > 8);

  hub.restart(/*same_ports=*/true);  // the link is back, same endpoint
  REQUIRE(pub.flush(20s));
  CHECK(pub.stats().acked == 30);
  CHECK(pub.stats().spooled == 0);
  // ZeroMQ may also deliver the PUBs it queued while the hub was down, beside the
  // resends from the spool: the hub stores one copy and acks the other as a resend.
  CHECK(acked == ids);  // original ids, in order, each acknowledged once to the adapter
  CHECK(std::filesystem::file_size(po.spool_file) == 8);

  hub::sdk::subscriber sub(sub_options(hub.endpoint(), ">"));
  auto got = read_n(sub, 30);
  REQUIRE(got.size() == 30);
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(id_of(got[i].bytes) == ids[i]);
  CHECK_FALSE(sub.next(500ms));
}
