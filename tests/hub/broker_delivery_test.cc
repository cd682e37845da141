// The broker's delivery paths, in this process on a real embedded log with small
// segments: a subscriber at the live edge and one far behind it (read back from the log
// across segment ends, a few events per turn) get every event once and in order, and
// ACKs and deliveries never run ahead of the fsync, one PUB at a time and in bursts.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <array>
#include <cstring>
#include <chrono>
#include <map>
#include <thread>

#include "hub/log/log.h"
#include "schemas/wire.h"
#include "tests/support/envelopes.h"
#include "tests/support/running_broker.h"
#include "tests/support/temp_dir.h"

namespace {

namespace wire = hub::wire;
using namespace std::chrono_literals;

// A broker on an embedded log with small segments in a fresh directory.
struct running_hub {
  hub::test::temp_dir dir{"broker-delivery"};
  std::unique_ptr<hub::test::running_broker> b;
  explicit running_hub(hub::log::fsync_policy fsync, int client_hwm = 0) {
    hub::log::log_options lo;
    lo.fsync = fsync;
    lo.segment_bytes = 64 << 10;  // several segments, so reads cross segment ends
    auto st = hub::log::open_log(dir / "data", lo);
    if (!st) FAIL("cannot open the log: " << st.error().message());
    auto bo = hub::test::loopback_options();
    bo.delivery_burst = 16;  // lagging subscriptions advance in small steps
    if (client_hwm > 0) bo.client_hwm = client_hwm;
    b = std::make_unique<hub::test::running_broker>(bo, std::move(st.value()));
  }
};

zmq::socket_t dealer(zmq::context_t& ctx, const std::string& endpoint) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::rcvtimeo, 10000);
  s.connect(endpoint);
  return s;
}

std::vector<zmq::message_t> recv_reply(zmq::socket_t& s) {
  std::vector<zmq::message_t> parts;
  if (!zmq::recv_multipart(s, std::back_inserter(parts))) parts.clear();
  return parts;
}

// batch > 1: SUB's eighth frame asks for EVTS messages of at most `batch` events.
void subscribe(zmq::socket_t& s, std::uint64_t credit, std::uint64_t batch, std::string_view start = wire::start_new,
               std::uint64_t start_arg = 0, const std::string& pattern = ">") {
  const std::string sub_id = wire::u64_frame(1), arg = wire::u64_frame(start_arg), durable,
                    cr = wire::u64_frame(credit), b = wire::u64_frame(batch);
  std::vector<zmq::const_buffer> f = {zmq::buffer(wire::cmd_sub), zmq::buffer(sub_id), zmq::buffer(pattern),
                                      zmq::buffer(start),           zmq::buffer(arg),    zmq::buffer(durable),
                                      zmq::buffer(cr)};
  if (batch > 1) f.push_back(zmq::buffer(b));
  zmq::send_multipart(s, f);
  auto ok = recv_reply(s);
  REQUIRE(!ok.empty());
  REQUIRE(ok[0].to_string() == "SUBOK");
}

void grant(zmq::socket_t& s, std::uint64_t credit) {
  const std::string sub_id = wire::u64_frame(1), cr = wire::u64_frame(credit);
  std::array<zmq::const_buffer, 3> f = {zmq::buffer(wire::cmd_credit), zmq::buffer(sub_id), zmq::buffer(cr)};
  zmq::send_multipart(s, f);
}

// Publishes n envelopes, all in flight at once; returns their ids by offset. With
// `every_third_caf`, every third one is about CAF instead of SSD (another topic).
std::map<std::uint64_t, hub::schema::Id128> publish(zmq::socket_t& pub, std::uint64_t n, std::uint64_t tag,
                                                    bool every_third_caf = false) {
  std::map<std::uint64_t, hub::schema::Id128> seq_to_id;
  for (std::uint64_t i = 1; i <= n; ++i) {
    hub::test::envelope_spec spec;
    spec.id_hi = tag;
    spec.id_lo = i;
    spec.pad_to = 300;
    if (every_third_caf && i % 3 == 0) spec.country = "CAF";
    auto env = hub::test::make_envelope(spec);
    seq_to_id[i] = hub::test::envelope_id(env);
    const std::string seq = wire::u64_frame(i);
    std::array<zmq::const_buffer, 3> f = {zmq::buffer(wire::cmd_pub), zmq::buffer(seq), zmq::buffer(env)};
    zmq::send_multipart(pub, f);
  }
  std::map<std::uint64_t, hub::schema::Id128> by_offset;
  std::uint64_t acked = 0;
  while (acked < n) {
    auto r = recv_reply(pub);
    REQUIRE(!r.empty());
    REQUIRE(r[0].to_string() == "ACK");
    const auto* p = static_cast<const std::uint8_t*>(r[1].data());
    for (std::size_t k = 0; k + 16 <= r[1].size(); k += 16, ++acked)
      by_offset[wire::get_u64(p + k + 8)] = seq_to_id.at(wire::get_u64(p + k));
  }
  return by_offset;
}

// Reads events until `expected` arrived, granting `step` credit each time the last
// grant is used up; returns (offset, id) in arrival order. With batch > 1 every message
// must be an EVTS of 1 to `batch` events, else an EVT. More than `expected` (beyond the
// credit the caller counted on) fails.
std::vector<std::pair<std::uint64_t, hub::schema::Id128>> receive(zmq::socket_t& sub, std::size_t expected,
                                                                  std::uint64_t step, std::uint64_t batch = 0) {
  std::vector<std::pair<std::uint64_t, hub::schema::Id128>> got;
  std::uint64_t left = step;
  auto take = [&](std::uint64_t off, std::span<const std::uint8_t> envelope) {
    REQUIRE(got.size() < expected);
    got.emplace_back(off, hub::test::envelope_id(std::vector<std::uint8_t>(envelope.begin(), envelope.end())));
    if (--left == 0) {
      grant(sub, step);
      left = step;
    }
  };
  while (got.size() < expected) {
    auto e = recv_reply(sub);
    REQUIRE(!e.empty());  // 10 s without an event
    if (batch > 1) {
      REQUIRE(e[0].to_string() == "EVTS");
      REQUIRE(e.size() == 3);
      CHECK(wire::get_u64(static_cast<const std::uint8_t*>(e[1].data())) == 1);
      std::size_t in_message = 0;
      const bool whole = wire::evts_for_each({static_cast<const std::uint8_t*>(e[2].data()), e[2].size()},
                                             [&](const wire::evts_record& r) {
                                               CHECK(r.topic.ends_with(".mandate_activity"));
                                               CHECK(r.signature.empty());
                                               take(r.offset, r.envelope);
                                               ++in_message;
                                             });
      REQUIRE(whole);
      REQUIRE(in_message >= 1);
      REQUIRE(in_message <= batch);
    } else {
      REQUIRE(e[0].to_string() == "EVT");
      REQUIRE(e.size() == 5);
      take(wire::get_u64(static_cast<const std::uint8_t*>(e[2].data())),
           {static_cast<const std::uint8_t*>(e[4].data()), e[4].size()});
    }
  }
  return got;
}

}  // namespace

TEST_CASE("a subscriber far behind the live edge and one at it get every event once and in order",
          "[broker][delivery]") {
  const std::uint64_t batch = GENERATE(0, 64);  // one EVT per event, or EVTS batches
  running_hub h(hub::log::fsync_policy::never);
  zmq::context_t ctx;
  auto fast = dealer(ctx, h.b->endpoint());
  auto slow = dealer(ctx, h.b->endpoint());
  subscribe(fast, 100000, batch);
  subscribe(slow, 3, batch);
  auto pub = dealer(ctx, h.b->endpoint());
  constexpr std::uint64_t n = 1500;
  auto published = publish(pub, n, 0x7a11);
  REQUIRE(published.size() == n);

  auto check = [&](const std::vector<std::pair<std::uint64_t, hub::schema::Id128>>& got) {
    REQUIRE(got.size() == n);
    std::uint64_t expect = published.begin()->first;
    for (const auto& [off, id] : got) {
      REQUIRE(off == expect);  // in order, none twice, none left out
      REQUIRE(id.hi() == published.at(off).hi());
      REQUIRE(id.lo() == published.at(off).lo());
      ++expect;
    }
  };
  check(receive(fast, n, 100000, batch));
  check(receive(slow, n, 3, batch));  // 3 at a time: far behind the publisher all along
  // Nothing more arrives for either.
  fast.set(zmq::sockopt::rcvtimeo, 200);
  CHECK(recv_reply(fast).empty());
}

TEST_CASE("an ACK and a delivery never run ahead of the fsync, one PUB at a time or in a burst",
          "[broker][delivery][durability]") {
  const std::uint64_t batch = GENERATE(0, 64);
  running_hub h(hub::log::fsync_policy::batch);
  zmq::context_t ctx;
  auto pub = dealer(ctx, h.b->endpoint());
  auto sub = dealer(ctx, h.b->endpoint());
  subscribe(sub, 100000, batch);
  // One PUB at a time (a quiet hub: one fsync each), then a burst (group commit).
  for (std::uint64_t i = 1; i <= 50; ++i) {
    auto acked = publish(pub, 1, 0x5100 + i);
    REQUIRE(acked.size() == 1);
    const std::uint64_t off = acked.begin()->first;
    CHECK(h.b->store().durable_end().value > off);
    auto got = receive(sub, 1, 100000, batch);
    CHECK(got[0].first == off);
  }
  auto burst = publish(pub, 2000, 0x5200);
  CHECK(h.b->store().durable_end().value > burst.rbegin()->first);
  auto got = receive(sub, 2000, 100000, batch);
  CHECK(got.front().first == burst.begin()->first);
  CHECK(got.back().first == burst.rbegin()->first);
}

TEST_CASE("lagging subscribers at different offsets and on different topics each get their own events once and "
          "in order",
          "[broker][delivery]") {
  // They read the log together where their cursors are close (one pass for several of
  // them) and apart where they are not; each must still see exactly its events.
  const std::uint64_t batch = GENERATE(0, 4);  // 4: smaller than most readers' credit steps
  running_hub h(hub::log::fsync_policy::never);
  zmq::context_t ctx;
  auto pub = dealer(ctx, h.b->endpoint());
  constexpr std::uint64_t n = 1200;
  auto published = publish(pub, n, 0x1a66, true);
  REQUIRE(published.size() == n);
  const std::uint64_t first = published.begin()->first;

  struct reader {
    std::string_view start;
    std::uint64_t start_arg;
    std::string pattern;
    std::uint64_t step;  // credit granted at a time
    zmq::socket_t s;
  };
  std::vector<reader> readers;
  readers.push_back({wire::start_earliest, 0, ">", 5, dealer(ctx, h.b->endpoint())});
  readers.push_back({wire::start_earliest, 0, ">", 7, dealer(ctx, h.b->endpoint())});
  readers.push_back({wire::start_offset, first + 10, ">", 5, dealer(ctx, h.b->endpoint())});
  readers.push_back({wire::start_earliest, 0, "*.CAF.>", 3, dealer(ctx, h.b->endpoint())});
  readers.push_back({wire::start_offset, first + 700, "*.SSD.>", 11, dealer(ctx, h.b->endpoint())});
  for (auto& r : readers) subscribe(r.s, r.step, batch, r.start, r.start_arg, r.pattern);

  // What each should get: the offsets from its start whose topic matches its pattern.
  auto expected = [&](const reader& r) {
    std::vector<std::uint64_t> offs;
    const std::uint64_t from = r.start == wire::start_offset ? r.start_arg : first;
    for (const auto& [off, id] : published) {
      const bool caf = id.lo() % 3 == 0;
      if (off < from) continue;
      if (r.pattern == "*.CAF.>" && !caf) continue;
      if (r.pattern == "*.SSD.>" && caf) continue;
      offs.push_back(off);
    }
    return offs;
  };
  // Interleaved: each reader takes a few events in turn, so that their cursors move
  // together, drift apart and meet again while the hub serves them.
  std::vector<std::vector<std::pair<std::uint64_t, hub::schema::Id128>>> got(readers.size());
  std::vector<std::vector<std::uint64_t>> want;
  for (auto& r : readers) want.push_back(expected(r));
  bool more = true;
  while (more) {
    more = false;
    for (std::size_t i = 0; i < readers.size(); ++i) {
      if (got[i].size() >= want[i].size()) continue;
      const std::size_t take = std::min<std::size_t>(readers[i].step, want[i].size() - got[i].size());
      auto part = receive(readers[i].s, take, readers[i].step, batch);
      got[i].insert(got[i].end(), part.begin(), part.end());
      more = more || got[i].size() < want[i].size();
    }
  }
  for (std::size_t i = 0; i < readers.size(); ++i) {
    INFO("reader " << i << " (" << readers[i].pattern << " from " << readers[i].start << ")");
    REQUIRE(got[i].size() == want[i].size());
    for (std::size_t k = 0; k < got[i].size(); ++k) {
      REQUIRE(got[i][k].first == want[i][k]);
      REQUIRE(got[i][k].second.lo() == published.at(want[i][k]).lo());
    }
    // Nothing more for it.
    readers[i].s.set(zmq::sockopt::rcvtimeo, 100);
    auto extra = recv_reply(readers[i].s);
    CHECK((extra.empty() || (extra[0].to_string() != "EVT" && extra[0].to_string() != "EVTS")));
  }
}

TEST_CASE("a batching subscriber whose pipe fills up gets every event once and in order when it reads again",
          "[broker][delivery]") {
  // A ZeroMQ queue of 2 messages toward each client and a subscriber that reads nothing
  // until everything is published: EVTS sends fail with a full pipe, their events go
  // back to the store and are sent again from there.
  running_hub h(hub::log::fsync_policy::never, 2);
  zmq::context_t ctx;
  zmq::socket_t sub(ctx, zmq::socket_type::dealer);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::rcvtimeo, 10000);
  sub.set(zmq::sockopt::rcvhwm, 1);
  sub.set(zmq::sockopt::rcvbuf, 4096);
  sub.connect(h.b->endpoint());
  subscribe(sub, 100000, 16);
  auto pub = dealer(ctx, h.b->endpoint());
  constexpr std::uint64_t n = 20000;  // 6 MB: more than the kernel's socket buffers hold
  auto published = publish(pub, n, 0xf011);
  REQUIRE(published.size() == n);
  auto got = receive(sub, n, 100000, 16);
  std::uint64_t expect = published.begin()->first;
  for (const auto& [off, id] : got) {
    REQUIRE(off == expect);
    REQUIRE(id.lo() == published.at(off).lo());
    ++expect;
  }
  sub.set(zmq::sockopt::rcvtimeo, 200);
  CHECK(recv_reply(sub).empty());
  // The full pipe did refuse EVTS messages (else this test tested nothing).
  auto observer = dealer(ctx, h.b->endpoint());
  zmq::send_multipart(observer, std::array<zmq::const_buffer, 1>{zmq::buffer(wire::cmd_status)});
  auto st = recv_reply(observer);
  REQUIRE(st.size() == 2);
  const auto counters = nlohmann::json::parse(st[1].to_string())["counters"];
  INFO(counters.dump());
  CHECK(counters["pipe_stalls"].get<std::uint64_t>() > 0);
  CHECK(counters["events_out"].get<std::uint64_t>() == n);
}
