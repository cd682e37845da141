// The JetStream store against a real three-node nats-server cluster on loopback: the
// same contract as the other stores, then the faults of issue 9.
#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include "hub/jetstream/jetstream_store.h"
#include "schemas/schema.h"
#include "tests/jetstream/nats_cluster.h"
#include "tests/support/envelopes.h"
#include "tests/support/hubd_process.h"

namespace {

using namespace std::chrono_literals;
using hub::offset;
using hub::store::append_record;
using hub::store::record_view;

struct event {
  std::vector<std::uint8_t> bytes;
  hub::schema::Id128 id;
  std::string topic;
  hub::millis log_time = 0;
  std::vector<std::uint8_t> signature;  // as the broker stores a verified one
};

event make_event(hub::millis log_time = 0, hub::schema::Entity entity = hub::schema::Entity::peacekeeping) {
  hub::test::envelope_spec spec;
  spec.entity = entity;
  event e;
  e.bytes = hub::test::make_envelope(spec);
  e.id = hub::test::envelope_id(e.bytes);
  e.topic = hub::schema::topic_of(*hub::schema::GetEnvelope(e.bytes.data()));
  e.log_time = log_time != 0 ? log_time : hub::now_millis();
  return e;
}

hub::status append(hub::store::store& s, const std::vector<event>& events) {
  std::vector<append_record> recs;
  for (const auto& e : events) recs.push_back({e.log_time, e.id, e.topic, e.bytes, e.signature});
  return s.append(recs);
}

hub::jetstream::store_options options(const hub::test::nats_cluster& c) {
  hub::jetstream::store_options o;
  o.servers = c.urls();
  o.replicas = c.size();
  o.publish_timeout = 2s;
  o.read_timeout = 2s;
  // A fresh cluster elects its JetStream leader and places the stream within seconds,
  // but beside an ASan build of the other tests on 2 cores it once took more than the
  // default 15 s ("no suitable peers for placement").
  o.open_timeout = 60s;
  return o;
}

std::unique_ptr<hub::store::store> open(const hub::jetstream::store_options& o) {
  auto r = hub::jetstream::open_store(o);
  if (!r) FAIL("cannot open the JetStream store: " << r.error().message());
  return std::move(r.value());
}

// Everything in [from, to) as (offset, id hex), read back in pages.
std::vector<std::pair<std::uint64_t, std::string>> read_all(hub::store::store& s, offset from, offset to) {
  std::vector<std::pair<std::uint64_t, std::string>> out;
  while (from < to) {
    auto r = s.read(from, to, 100, [&](const record_view& v) {
      out.emplace_back(v.off.value, hub::schema::id_to_hex(v.id));
      return true;
    });
    REQUIRE(r.is_ok());
    if (r.value() <= from) break;
    from = r.value();
  }
  return out;
}

// Appends and waits for the acknowledgement, as the hub does before it ACKs.
bool append_acked(hub::store::store& s, const std::vector<event>& events, std::chrono::milliseconds deadline = 10s) {
  offset want{s.end().value + events.size()};
  if (!append(s, events)) return false;
  return hub::test::wait_for([&] { return s.sync().is_ok() && s.durable_end() >= want; }, deadline);
}

}  // namespace

TEST_CASE("the JetStream store numbers events densely from zero and reads them back intact", "[jetstream][store]") {
  hub::test::nats_cluster cluster;
  auto st = open(options(cluster));
  CHECK(st->begin() == offset{0});
  CHECK(st->end() == offset{0});

  std::vector<event> events;
  for (int i = 0; i < 20; ++i)
    events.push_back(make_event(0, i % 2 ? hub::schema::Entity::development : hub::schema::Entity::peacekeeping));
  for (int i = 0; i < 20; i += 3) {
    events[i].signature.resize(64);
    for (std::size_t k = 0; k < 64; ++k) events[i].signature[k] = static_cast<std::uint8_t>(i * 7 + k);
  }
  REQUIRE(append(*st, events));
  CHECK(st->end() == offset{20});
  REQUIRE(hub::test::wait_for([&] { return st->sync().is_ok() && st->durable_end() == offset{20}; }));

  std::size_t i = 0;
  auto r = st->read(offset{0}, offset{20}, 1000, [&](const record_view& v) {
    REQUIRE(i < events.size());
    CHECK(v.off == offset{i});
    CHECK(hub::schema::id_to_hex(v.id) == hub::schema::id_to_hex(events[i].id));
    CHECK(v.topic == events[i].topic);
    CHECK(v.log_time == events[i].log_time);
    CHECK(std::vector<std::uint8_t>(v.envelope.begin(), v.envelope.end()) == events[i].bytes);
    CHECK(std::vector<std::uint8_t>(v.signature.begin(), v.signature.end()) == events[i].signature);
    ++i;
    return true;
  });
  REQUIRE(r.is_ok());
  CHECK(r.value() == offset{20});
  CHECK(i == 20);
  {
    // A fresh store reads the messages from the stream: the signature header too.
    auto again = open(options(cluster));
    std::size_t signed_seen = 0;
    REQUIRE(again->read(offset{0}, offset{20}, 1000, [&](const record_view& v) {
      CHECK(std::vector<std::uint8_t>(v.signature.begin(), v.signature.end()) == events[v.off.value].signature);
      signed_seen += v.signature.empty() ? 0 : 1;
      return true;
    }).is_ok());
    CHECK(signed_seen == 7);
  }

  SECTION("a second store opened on the stream (a restarted hub) reads the same events from the cluster") {
    st.reset();
    auto again = open(options(cluster));
    CHECK(again->end() == offset{20});
    CHECK(again->durable_end() == offset{20});
    auto all = read_all(*again, offset{5}, offset{20});
    REQUIRE(all.size() == 15);
    CHECK(all.front().first == 5);
    CHECK(all.front().second == hub::schema::id_to_hex(events[5].id));
    CHECK(all.back().second == hub::schema::id_to_hex(events[19].id));
  }
}

TEST_CASE("offset_at_time finds the first event logged at or after a time", "[jetstream][store]") {
  hub::test::nats_cluster cluster;
  auto st = open(options(cluster));
  std::vector<event> events;
  for (int i = 0; i < 10; ++i) events.push_back(make_event(1'000'000 + i * 1000));
  REQUIRE(append_acked(*st, events));
  CHECK(st->offset_at_time(0) == offset{0});
  CHECK(st->offset_at_time(1'003'000) == offset{3});
  CHECK(st->offset_at_time(1'003'001) == offset{4});
  CHECK(st->offset_at_time(2'000'000) == offset{10});
}

TEST_CASE("durable consumers' offsets live in the cluster and another hub sees them", "[jetstream][store][consumer]") {
  hub::test::nats_cluster cluster;
  auto a = open(options(cluster));
  auto b = open(options(cluster));
  CHECK_FALSE(a->consumer_offset("rules").has_value());
  REQUIRE(a->commit_consumer("rules", offset{42}));
  REQUIRE(a->commit_consumer("mission planning/SSD", offset{7}));
  CHECK(b->consumer_offset("rules") == offset{42});
  CHECK(b->consumer_offset("mission planning/SSD") == offset{7});
  REQUIRE(b->commit_consumer("rules", offset{43}));
  CHECK(a->consumer_offset("rules") == offset{43});
  // The listing follows the bucket's watch: b's commit reaches a's within moments.
  using listing = std::vector<std::pair<std::string, offset>>;
  const listing both{{"mission planning/SSD", offset{7}}, {"rules", offset{43}}};
  CHECK(hub::test::wait_for([&] { return a->consumers() == both; }));
  CHECK(a->consumers() == both);
  CHECK(b->consumers() == both);
  // Removed through one hub, gone for the other; removing it again says it is not there.
  REQUIRE(b->remove_consumer("mission planning/SSD"));
  CHECK_FALSE(a->consumer_offset("mission planning/SSD").has_value());
  CHECK(b->consumers() == listing{{"rules", offset{43}}});
  CHECK(hub::test::wait_for([&] { return a->consumer_count() == 1; }));
  CHECK(a->consumers() == listing{{"rules", offset{43}}});
  CHECK(a->remove_consumer("mission planning/SSD").code() == hub::errc::not_found);
  // A store opened now lists what is there from the start, without waiting.
  auto c = open(options(cluster));
  CHECK(c->consumers() == listing{{"rules", offset{43}}});
}

TEST_CASE("an event resent through another hub is stored once by JetStream's dedup on Nats-Msg-Id",
          "[jetstream][store][dedup]") {
  hub::test::nats_cluster cluster;
  auto a = open(options(cluster));
  auto b = open(options(cluster));
  auto x = make_event();
  REQUIRE(append_acked(*a, {x}));
  // Hub b has not seen x yet (a publisher failed over and resent it); then a new event.
  auto y = make_event();
  REQUIRE(append(*b, {x}));
  REQUIRE(append(*b, {y}));
  REQUIRE(hub::test::wait_for([&] { return b->sync().is_ok() && b->durable_end() >= offset{2}; }));
  auto all = read_all(*b, offset{0}, b->durable_end());
  REQUIRE(all.size() == 2);
  CHECK(all[0].second == hub::schema::id_to_hex(x.id));
  CHECK(all[1].second == hub::schema::id_to_hex(y.id));
}

TEST_CASE("events appended through one hub's store reach another hub's store on the same stream",
          "[jetstream][store][scale-out]") {
  hub::test::nats_cluster cluster;
  auto a = open(options(cluster));
  auto b = open(options(cluster));
  std::vector<event> events;
  for (int i = 0; i < 50; ++i) events.push_back(make_event());
  REQUIRE(append_acked(*a, events));
  // b learns of them without appending anything (the live tail of the stream).
  REQUIRE(hub::test::wait_for([&] { return b->durable_end() == offset{50}; }));
  auto all = read_all(*b, offset{0}, offset{50});
  REQUIRE(all.size() == 50);
  for (std::size_t i = 0; i < 50; ++i) CHECK(all[i].second == hub::schema::id_to_hex(events[i].id));
  b->enforce_retention(hub::now_millis());
  CHECK(b->end() == offset{50});
}

TEST_CASE("a node killed and restarted under acknowledged load loses no acknowledged event and publishing goes on",
          "[jetstream][store][fault]") {
  hub::test::nats_cluster cluster;
  // Connected through node 1 only (it learns the others from the cluster), so that
  // killing node 1 also takes the hub's connection down and it must move.
  auto o = options(cluster);
  o.servers = {cluster.urls()[0]};
  auto st = open(o);
  std::set<std::string> acked;
  std::size_t acked_after_kill = 0, acked_after_restart = 0;
  int phase = 0;  // 0 all up, 1 node 1 down, 2 node 1 back
  auto deadline = std::chrono::steady_clock::now() + 60s;
  for (int round = 0; round < 60 && std::chrono::steady_clock::now() < deadline; ++round) {
    if (round == 10) {
      cluster.kill9(0);
      phase = 1;
    }
    if (round == 35) {
      cluster.start(0);
      phase = 2;
    }
    std::vector<event> batch;
    for (int i = 0; i < 20; ++i) batch.push_back(make_event());
    // While the client moves to another node, the store refuses; the publisher retries.
    bool stored = hub::test::wait_for([&] { return append(*st, batch).is_ok(); }, 10s);
    REQUIRE(stored);
    offset want{st->end().value};
    bool ok = hub::test::wait_for([&] { return st->sync().is_ok() && st->durable_end() >= want; }, 15s);
    REQUIRE(ok);
    for (const auto& e : batch) acked.insert(hub::schema::id_to_hex(e.id));
    if (phase == 1) acked_after_kill += batch.size();
    if (phase == 2) acked_after_restart += batch.size();
  }
  CHECK(acked_after_kill > 0);
  CHECK(acked_after_restart > 0);
  // Every acknowledged event is in the stream, read by a fresh store (a new hub).
  st.reset();
  auto check = open(options(cluster));
  auto all = read_all(*check, offset{0}, check->durable_end());
  std::set<std::string> stored;
  for (const auto& [off, id] : all) stored.insert(id);
  std::size_t missing = 0;
  for (const auto& id : acked) missing += stored.count(id) == 0 ? 1 : 0;
  CHECK(missing == 0);
  CHECK(all.size() == acked.size());  // and nothing twice
}

TEST_CASE("with the whole cluster unreachable append is refused with a clear reason and the store recovers",
          "[jetstream][store][fault]") {
  hub::test::nats_cluster cluster;
  auto st = open(options(cluster));
  std::vector<event> first;
  for (int i = 0; i < 10; ++i) first.push_back(make_event());
  REQUIRE(append_acked(*st, first));

  cluster.kill_all();
  // Until the client library notices the servers are gone, an append may still be
  // taken for publishing: such an event is owed to the stream and must arrive later.
  hub::status refused;
  std::vector<std::string> taken;
  REQUIRE(hub::test::wait_for([&] {
    auto e = make_event();
    refused = append(*st, {e});
    if (refused.is_ok()) taken.push_back(hub::schema::id_to_hex(e.id));
    return !refused.is_ok();
  }, 30s));
  CHECK(refused.code() == hub::errc::unavailable);
  // Either the connection is known to be down, or acknowledgements are missing: both
  // name JetStream and say what happens next.
  CHECK_THAT(refused.message(), Catch::Contains("JetStream") &&
                                    (Catch::Contains("unreachable") || Catch::Contains("resent")));
  CHECK_FALSE(st->stats().writable);
  // What was delivered stays readable and unchanged.
  auto during = read_all(*st, offset{0}, offset{10});
  REQUIRE(during.size() == 10);
  CHECK(during[9].second == hub::schema::id_to_hex(first[9].id));

  cluster.start_all();
  auto later = make_event();
  REQUIRE(hub::test::wait_for([&] { return append(*st, {later}).is_ok(); }, 30s));
  const std::size_t expected = 11 + taken.size();
  REQUIRE(hub::test::wait_for([&] { return st->sync().is_ok() && st->durable_end() >= offset{expected}; }, 30s));
  auto all = read_all(*st, offset{0}, st->durable_end());
  // The ten first events, every event taken before the outage was noticed, and the
  // one after it: each once, and nothing that was refused.
  REQUIRE(all.size() == expected);
  std::set<std::string> stored;
  for (const auto& [off, id] : all) stored.insert(id);
  CHECK(stored.size() == expected);
  for (const auto& id : taken) CHECK(stored.count(id) == 1);
  CHECK(stored.count(hub::schema::id_to_hex(later.id)) == 1);
  CHECK(st->stats().writable);
}
