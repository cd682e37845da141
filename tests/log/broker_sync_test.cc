// Group commit and a failed fsync, seen by a publisher: a real broker on loopback,
// in-process so that its event log can sit on a file system that holds or fails fsyncs
// on purpose (tests/log/log_test_support.h), and a real SDK publisher.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "adapters/sdk/sdk.h"
#include "hub/log/verify.h"
#include "tests/log/log_test_support.h"
#include "tests/support/envelopes.h"
#include "tests/support/hubd_process.h"
#include "tests/support/running_broker.h"
#include "tests/support/temp_dir.h"
#include "schemas/wire.h"

using namespace std::chrono_literals;
using namespace hub::log::test;

namespace {

// A real broker on the given store; status() asks it over the protocol (the loop thread
// owns the store).
class running_broker : public hub::test::running_broker {
 public:
  // offload_min_batch 1: every batch is appended on the broker's sync thread (unless
  // that thread is syncing).
  explicit running_broker(std::unique_ptr<hub::store::store> st,
                          std::size_t offload_min_batch = hub::broker::broker_options{}.offload_min_batch)
      : hub::test::running_broker(options(offload_min_batch), std::move(st)) {}

  [[nodiscard]] nlohmann::json status() const {
    hub::sdk::connection_options c;
    c.endpoints = {endpoint()};
    c.client_name = "broker-sync-test-status";
    auto text = hub::sdk::fetch_status(c, 3s);
    return text ? nlohmann::json::parse(*text) : nlohmann::json::object();
  }

 private:
  static hub::broker::broker_options options(std::size_t offload_min_batch) {
    auto o = hub::test::loopback_options();
    o.store_kind = "embedded";
    o.offload_min_batch = offload_min_batch;
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

namespace {

// Reads `count` events from sub (waiting up to 10 s for each); fewer if they stop coming.
std::vector<hub::sdk::event> read_events(hub::sdk::subscriber& sub, std::uint64_t count) {
  std::vector<hub::sdk::event> got;
  while (got.size() < count) {
    auto e = sub.next(10s);
    if (!e) break;
    got.push_back(std::move(*e));
  }
  return got;
}

// Every record of the log directory: CRC, dense offsets, hash chain.
void check_chain(const std::filesystem::path& data, std::uint64_t records) {
  auto report = hub::log::verify_log(data);
  REQUIRE(report.is_ok());
  std::string problems;
  for (const auto& p : report->problems) problems += p.text() + "\n";
  INFO(problems);
  CHECK(report->ok());
  CHECK(report->records == records);
  CHECK(report->end == records);
}

}  // namespace

TEST_CASE("batches appended on the sync thread are acknowledged once, delivered in order and chained intact",
          "[log][broker][offload]") {
  const auto policy = GENERATE(hub::log::fsync_policy::never, hub::log::fsync_policy::batch);
  INFO("fsync " << hub::log::fsync_policy_name(policy));
  hub::test::temp_dir dir("broker-offload");
  hub::log::log_options lo;
  lo.fsync = policy;
  lo.segment_bytes = 256 << 10;  // segments roll inside the appends on the sync thread
  const std::uint64_t n = 3000;
  std::vector<id_key> published;
  std::map<id_key, std::uint64_t> acked;
  {
    running_broker hub(open_or_fail(dir / "data", lo), 1);
    hub::sdk::subscriber::options so;
    so.connection.endpoints = {hub.endpoint()};
    so.connection.client_name = "broker-offload-live";
    hub::sdk::subscriber live(so);  // subscribed before the first event: new events only
    REQUIRE(hub::test::wait_for([&] {
      (void)live.next(5ms);
      return live.first_offset().has_value();
    }));

    hub::sdk::publisher pub(publisher_options(hub.endpoint()));
    pub.on_acked([&](const hub::schema::Id128& id, std::uint64_t off, bool) { acked.emplace(key(id), off); });
    for (std::uint64_t i = 0; i < n; ++i) {
      auto e = event(i);
      published.push_back(key(*hub::schema::GetEnvelope(e.data())->id()));
      REQUIRE(pub.publish(e));
    }
    REQUIRE(pub.flush(30s));
    REQUIRE(acked.size() == n);
    CHECK(pub.stats().duplicates == 0);

    // The live subscriber and one reading from the earliest offset (from the files the
    // sync thread wrote) both get every event once, in publish order, at dense offsets.
    so.connection.client_name = "broker-offload-replay";
    so.start = hub::sdk::start_position::earliest();
    hub::sdk::subscriber replay(so);
    for (auto* sub : {&live, &replay}) {
      auto got = read_events(*sub, n);
      REQUIRE(got.size() == n);
      for (std::uint64_t i = 0; i < n; ++i) {
        INFO("event " << i);
        REQUIRE(got[i].offset == i);
        REQUIRE(key(*got[i].envelope()->id()) == published[i]);
        REQUIRE(acked.at(published[i]) == i);
      }
      CHECK_FALSE(sub->next(100ms));
    }

    auto st = hub.status();
    INFO(st.dump());
    CHECK(json_u64(st, {"counters", "off_loop_appends"}) > 0);
    CHECK(json_u64(st, {"store", "end"}) == n);
    CHECK(json_u64(st, {"store", "durable_end"}) == n);
    CHECK(json_u64(st, {"store", "segments"}) > 1);
  }
  check_chain(dir / "data", n);
}

TEST_CASE("a write failing on the sync thread refuses its batch, and every event is then stored once",
          "[log][broker][offload][faults]") {
  hub::test::temp_dir dir("broker-offload");
  faulty_file_system ffs;
  hub::log::log_options lo;
  lo.fsync = hub::log::fsync_policy::never;  // no sync ever runs: every batch goes to the sync thread
  std::map<id_key, std::uint64_t> acked;
  std::uint64_t refused_final = 0;
  const std::uint64_t before = 500, during = 900;  // within the publisher's window: publish() never waits
  {
    running_broker hub(open_or_fail(dir / "data", lo, &ffs), 1);
    hub::sdk::publisher pub(publisher_options(hub.endpoint()));
    pub.on_acked([&](const hub::schema::Id128& id, std::uint64_t off, bool) { acked.emplace(key(id), off); });
    pub.on_refused([&](const hub::schema::Id128&, hub::schema::Reason, const std::string&) { ++refused_final; });
    for (std::uint64_t i = 0; i < before; ++i) REQUIRE(pub.publish(event(i)));
    REQUIRE(pub.flush(10s));
    REQUIRE(acked.size() == before);

    // The disk fills: the next write stops halfway and fails, and so does every one after.
    ffs.partial = true;
    ffs.fail_write_from = ffs.writes.load();
    for (std::uint64_t i = before; i < before + during; ++i) REQUIRE(pub.publish(event(i)));
    nlohmann::json st;
    REQUIRE(hub::test::wait_for([&] {
      pub.poll(5ms);
      st = hub.status();
      return json_u64(st, {"counters", "naks", "store_unavailable"}) > 0;
    }));
    INFO(st.dump());
    CHECK(st["store"]["writable"] == false);
    CHECK(json_u64(st, {"store", "end"}) == before);

    // Space returns: the publisher's resends are stored, each once.
    ffs.fail_write_from = -1;
    REQUIRE(pub.flush(30s));
    CHECK(acked.size() == before + during);
    CHECK(refused_final == 0);
    st = hub.status();
    CHECK(st["store"]["writable"] == true);
    CHECK(json_u64(st, {"store", "end"}) == before + during);
    CHECK(json_u64(st, {"counters", "off_loop_appends"}) > 0);
  }
  // From disk: every acknowledged event once, at the offset its ACK named.
  auto log = open_or_fail(dir / "data");
  std::map<id_key, std::uint64_t> stored;
  std::uint64_t records = 0;
  REQUIRE(log->read(hub::offset{0}, log->end(), 1'000'000, [&](const hub::store::record_view& v) {
    ++records;
    stored.emplace(key(v.id), v.off.value);
    return true;
  }));
  CHECK(records == before + during);
  CHECK(stored == acked);
  log.reset();
  check_chain(dir / "data", before + during);
}

TEST_CASE("PUBs that arrive while an append fails on the sync thread are numbered after what is stored",
          "[log][broker][offload][faults]") {
  // A bare protocol client, so that a PING can prove when the hub has read the PUBs
  // sent before it (one connection's messages are handled in order).
  namespace wire = hub::wire;
  hub::test::temp_dir dir("broker-offload");
  faulty_file_system ffs;
  hub::log::log_options lo;
  lo.fsync = hub::log::fsync_policy::never;
  std::map<id_key, std::uint64_t> acked;
  std::map<std::uint64_t, id_key> id_of_seq;
  std::uint64_t seq = 0;
  {
    running_broker hub(open_or_fail(dir / "data", lo, &ffs), 1);
    release_syncs_on_exit release{ffs};
    struct release_writes_on_exit {
      faulty_file_system& fs;
      ~release_writes_on_exit() { fs.release_writes(); }
    } release_writes{ffs};
    zmq::context_t ctx;
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.connect(hub.endpoint());
    auto send = [&](std::initializer_list<std::string_view> frames) {
      std::size_t i = 0;
      for (auto f : frames)
        s.send(zmq::buffer(f.data(), f.size()), ++i < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    };
    auto recv = [&]() {
      std::vector<zmq::message_t> msg;
      zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(10000)) > 0)
        (void)zmq::recv_multipart(s, std::back_inserter(msg), zmq::recv_flags::dontwait);
      REQUIRE_FALSE(msg.empty());
      return msg;
    };
    auto publish = [&](std::uint64_t n) {
      auto e = event(n);
      id_of_seq[++seq] = key(*hub::schema::GetEnvelope(e.data())->id());
      send({wire::cmd_pub, wire::u64_frame(seq),
            std::string_view(reinterpret_cast<const char*>(e.data()), e.size())});
    };
    std::set<std::uint64_t> naked;
    // Takes replies until every seq in `want` is acked or refused.
    auto answers = [&](std::set<std::uint64_t> want) {
      while (!want.empty()) {
        auto msg = recv();
        const auto cmd = msg[0].to_string_view();
        if (cmd == wire::rep_ack) {
          const auto* p = msg[1].data<std::uint8_t>();
          for (std::size_t at = 0; at + 16 <= msg[1].size(); at += 16) {
            const std::uint64_t sq = wire::get_u64(p + at), off = wire::get_u64(p + at + 8);
            acked[id_of_seq.at(sq)] = off;
            want.erase(sq);
          }
        } else if (cmd == wire::rep_nak) {
          const std::uint64_t sq = wire::get_u64(msg[1].data<std::uint8_t>());
          naked.insert(sq);
          want.erase(sq);
        }
      }
    };
    send({wire::cmd_hello, wire::protocol_version, "offload-renumber-test"});
    REQUIRE(recv()[0].to_string_view() == wire::rep_welcome);

    for (std::uint64_t i = 0; i < 10; ++i) publish(i);
    answers({1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
    REQUIRE(acked.size() == 10);

    // The next write waits at the gate and then fails (once: the disk has room again).
    ffs.hold_writes();
    ffs.fail_write_from = ffs.writes.load();
    ffs.fail_write_count = 1;
    publish(10);  // seq 11: its batch goes to the sync thread and waits there
    REQUIRE(hub::test::wait_for([&] { return ffs.writes_waiting() == 1; }));
    for (std::uint64_t i = 11; i < 31; ++i) publish(i);  // seq 12..31: gathered meanwhile
    send({wire::cmd_ping});
    auto pong = recv();
    REQUIRE(pong[0].to_string_view() == wire::rep_pong);  // the 20 PUBs before it were read
    ffs.release_writes();

    std::set<std::uint64_t> rest;
    for (std::uint64_t q = 11; q <= 31; ++q) rest.insert(q);
    answers(rest);
    CHECK(naked == std::set<std::uint64_t>{11});  // the failed batch: one PUB
    // Those gathered meanwhile start where the store goes on: at offset 10.
    for (std::uint64_t q = 12; q <= 31; ++q) CHECK(acked.at(id_of_seq.at(q)) == q - 2);

    // The refused event, sent again, follows them.
    publish(10);
    answers({seq});
    CHECK(acked.at(id_of_seq.at(seq)) == 30);
  }
  auto log = open_or_fail(dir / "data");
  std::map<id_key, std::uint64_t> stored;
  REQUIRE(log->read(hub::offset{0}, log->end(), 1'000'000, [&](const hub::store::record_view& v) {
    stored.emplace(key(v.id), v.off.value);
    return true;
  }));
  CHECK(stored.size() == 31);
  CHECK(stored == acked);
  log.reset();
  check_chain(dir / "data", 31);
}
