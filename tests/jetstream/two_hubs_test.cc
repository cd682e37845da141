// Two hubs (the real broker, in this process) on one JetStream cluster: a publisher
// through hub A, a subscriber through hub B sees every event, in order, once.
#include <catch2/catch.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <array>
#include <map>
#include <thread>

#include "hub/broker/broker.h"
#include "hub/jetstream/jetstream_store.h"
#include "schemas/schema.h"
#include "schemas/wire.h"
#include "tests/jetstream/nats_cluster.h"
#include "tests/support/envelopes.h"
#include "tests/support/hubd_process.h"

namespace {

using namespace std::chrono_literals;

// A broker on a JetStream store, its loop on a thread, stopped at scope end.
struct running_hub {
  std::unique_ptr<hub::broker::broker> b;
  std::thread loop;
  running_hub(const std::string& name, const hub::test::nats_cluster& cluster,
              hub::millis retention_interval_ms = 200) {
    hub::jetstream::store_options so;
    so.servers = cluster.urls();
    so.replicas = cluster.size();
    so.name = name;
    so.open_timeout = std::chrono::seconds(60);  // a loaded 2-core machine forms the cluster slowly
    auto st = hub::jetstream::open_store(so);
    if (!st) FAIL("cannot open the JetStream store: " << st.error().message());
    hub::broker::broker_options bo;
    bo.hub_name = name;
    bo.endpoint = "tcp://127.0.0.1:*";
    bo.mirror_endpoint = "";
    bo.retention_interval_ms = retention_interval_ms;
    b = std::make_unique<hub::broker::broker>(bo, std::move(st.value()));
    hub::status s = b->bind();
    if (!s) FAIL("cannot bind: " << s.message());
    loop = std::thread([this] { b->run(); });
  }
  ~running_hub() {
    b->stop();
    loop.join();
  }
};

std::vector<zmq::message_t> recv_reply(zmq::socket_t& s, int timeout_ms = 10000) {
  std::vector<zmq::message_t> parts;
  s.set(zmq::sockopt::rcvtimeo, timeout_ms);
  if (!zmq::recv_multipart(s, std::back_inserter(parts))) parts.clear();
  return parts;
}

// A DEALER connected to a hub, closed at once when it goes.
zmq::socket_t dealer_to(zmq::context_t& ctx, const std::string& endpoint) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(endpoint);
  return s;
}

// SUB sub-id pattern start arg durable credit, on a DEALER; returns the reply.
std::vector<zmq::message_t> subscribe(zmq::socket_t& s, std::uint64_t id, std::string_view start, std::uint64_t arg) {
  const std::string sub_id = hub::wire::u64_frame(id), pattern = ">", a = hub::wire::u64_frame(arg), durable,
                    credit = hub::wire::u64_frame(10000);
  std::array<zmq::const_buffer, 7> parts = {zmq::buffer(hub::wire::cmd_sub), zmq::buffer(sub_id),
                                            zmq::buffer(pattern),            zmq::buffer(start),
                                            zmq::buffer(a),                  zmq::buffer(durable),
                                            zmq::buffer(credit)};
  zmq::send_multipart(s, parts);
  return recv_reply(s);
}

std::uint64_t u64_of(const zmq::message_t& m) {
  return m.size() == 8 ? hub::wire::get_u64(static_cast<const std::uint8_t*>(m.data())) : ~std::uint64_t{0};
}

// Publishes n events through a DEALER and waits for their ACKs.
void publish_acked(zmq::socket_t& pub, std::uint64_t first_seq, std::uint64_t n) {
  for (std::uint64_t i = first_seq; i < first_seq + n; ++i) {
    auto env = hub::test::make_envelope();
    const std::string seq = hub::wire::u64_frame(i);
    std::array<zmq::const_buffer, 3> parts = {zmq::buffer(hub::wire::cmd_pub), zmq::buffer(seq), zmq::buffer(env)};
    zmq::send_multipart(pub, parts);
  }
  std::size_t acked = 0;
  auto until = std::chrono::steady_clock::now() + 30s;
  while (acked < n && std::chrono::steady_clock::now() < until) {
    auto r = recv_reply(pub);
    REQUIRE(r.size() >= 2);
    REQUIRE(r[0].to_string() == "ACK");
    acked += r[1].size() / 16;
  }
  REQUIRE(acked == n);
}

// The offsets of the EVTs for `sub_id` received within `wait`, until `n` came.
std::vector<std::uint64_t> receive_offsets(zmq::socket_t& s, std::uint64_t sub_id, std::size_t n,
                                           std::chrono::milliseconds wait = 30s) {
  std::vector<std::uint64_t> offsets;
  auto until = std::chrono::steady_clock::now() + wait;
  while (offsets.size() < n && std::chrono::steady_clock::now() < until) {
    auto e = recv_reply(s, 500);
    if (e.empty()) continue;
    REQUIRE(e.size() == 5);
    REQUIRE(e[0].to_string() == "EVT");
    if (u64_of(e[1]) == sub_id) offsets.push_back(u64_of(e[2]));
  }
  return offsets;
}

}  // namespace

TEST_CASE("a subscriber through hub B sees every event published through hub A on the same cluster",
          "[jetstream][scale-out][broker]") {
  hub::test::nats_cluster cluster;
  running_hub a("hub-a", cluster);
  running_hub b("hub-b", cluster);
  zmq::context_t ctx;

  // Subscribe on B first, to everything from the start.
  auto sub = dealer_to(ctx, b.b->endpoint());
  auto ok = subscribe(sub, 1, hub::wire::start_earliest, 0);
  REQUIRE(ok.size() >= 1);
  REQUIRE(ok[0].to_string() == "SUBOK");

  auto pub = dealer_to(ctx, a.b->endpoint());
  constexpr std::uint64_t n = 200;
  std::vector<std::string> ids;
  for (std::uint64_t i = 1; i <= n; ++i) {
    auto env = hub::test::make_envelope();
    ids.push_back(hub::schema::id_to_hex(hub::test::envelope_id(env)));
    const std::string seq = hub::wire::u64_frame(i);
    std::array<zmq::const_buffer, 3> parts = {zmq::buffer(hub::wire::cmd_pub), zmq::buffer(seq), zmq::buffer(env)};
    zmq::send_multipart(pub, parts);
  }
  std::map<std::uint64_t, std::uint64_t> acked;  // seq -> offset
  auto until = std::chrono::steady_clock::now() + 30s;
  while (acked.size() < n && std::chrono::steady_clock::now() < until) {
    auto r = recv_reply(pub);
    REQUIRE(r.size() >= 2);
    REQUIRE(r[0].to_string() == "ACK");
    for (std::size_t k = 0; k + 16 <= r[1].size(); k += 16) {
      auto* p = static_cast<const std::uint8_t*>(r[1].data()) + k;
      acked[hub::wire::get_u64(p)] = hub::wire::get_u64(p + 8);
    }
  }
  REQUIRE(acked.size() == n);
  CHECK(acked[1] == 0);
  CHECK(acked[n] == n - 1);

  std::vector<std::string> seen;
  until = std::chrono::steady_clock::now() + 30s;
  while (seen.size() < n && std::chrono::steady_clock::now() < until) {
    auto e = recv_reply(sub);
    REQUIRE(e.size() == 5);
    REQUIRE(e[0].to_string() == "EVT");
    CHECK(hub::wire::get_u64(static_cast<const std::uint8_t*>(e[2].data())) == seen.size());
    // ZeroMQ frames may sit at any byte position: read an aligned copy.
    const std::vector<std::uint8_t> copy(static_cast<const std::uint8_t*>(e[4].data()),
                                         static_cast<const std::uint8_t*>(e[4].data()) + e[4].size());
    const auto* env = hub::schema::GetEnvelope(copy.data());
    seen.push_back(hub::schema::id_to_hex(*env->id()));
  }
  CHECK(seen == ids);
}

// Hub B numbers its own batches from where it last looked at the stream (at upkeep),
// which lags behind what hub A appended. A subscriber on B must still be able to
// resume at an offset B has delivered, and "new events only" must not replay history.
TEST_CASE("on a hub that has not appended, a subscription starts at the end the stream has reached",
          "[jetstream][scale-out][broker]") {
  hub::test::nats_cluster cluster;
  running_hub a("hub-a", cluster);
  running_hub b("hub-b", cluster, 3'600'000);  // no upkeep during the test
  zmq::context_t ctx;

  auto sub = dealer_to(ctx, b.b->endpoint());
  // B's loop looks at the stream's end in its first turn's upkeep, after the first
  // PING: the answer to the second PING comes from a later turn.
  for (int i = 0; i < 2; ++i) {
    zmq::send_multipart(sub, std::array<zmq::const_buffer, 1>{zmq::buffer(hub::wire::cmd_ping)});
    auto pong = recv_reply(sub);
    REQUIRE(pong.size() >= 1);
    REQUIRE(pong[0].to_string() == "PONG");
  }

  auto pub = dealer_to(ctx, a.b->endpoint());
  publish_acked(pub, 1, 100);

  auto ok = subscribe(sub, 1, hub::wire::start_earliest, 0);
  REQUIRE(ok.size() >= 3);
  REQUIRE(ok[0].to_string() == "SUBOK");
  auto all = receive_offsets(sub, 1, 100);
  REQUIRE(all.size() == 100);
  CHECK(all.back() == 99);

  // A reader that resumes at an offset it was given by B (as the SDK does after a reconnect).
  auto resumed = subscribe(sub, 2, hub::wire::start_offset, 60);
  REQUIRE(resumed.size() >= 3);
  REQUIRE(resumed[0].to_string() == "SUBOK");
  CHECK(u64_of(resumed[2]) == 60);
  auto rest = receive_offsets(sub, 2, 40);
  REQUIRE(rest.size() == 40);
  CHECK(rest.front() == 60);
  CHECK(rest.back() == 99);

  // Past the end is still refused, naming the end.
  auto past = subscribe(sub, 3, hub::wire::start_offset, 500);
  REQUIRE(past.size() >= 3);
  CHECK(past[0].to_string() == "ERR");
  CHECK(past[2].to_string().find("(100)") != std::string::npos);

  // New events only: starts at 100 and sees the next event published through A, not history.
  auto fresh = subscribe(sub, 4, hub::wire::start_new, 0);
  REQUIRE(fresh.size() >= 3);
  REQUIRE(fresh[0].to_string() == "SUBOK");
  CHECK(u64_of(fresh[2]) == 100);
  publish_acked(pub, 101, 1);
  auto next = receive_offsets(sub, 4, 1);
  REQUIRE(next.size() == 1);
  CHECK(next.front() == 100);
}
