// What one client may hold of the hub: a client that asks and never reads fills ZeroMQ's
// queue to it, then its outbox in the hub, and at max_outbox the hub drops it, frees
// what it held and serves everyone else as before; a client's subscriptions are capped
// at max_subscriptions.
#include <catch2/catch.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/sdk/sdk.h"
#include "hub/store/memory_store.h"
#include "schemas/schema.h"
#include "schemas/wire.h"
#include "tests/support/hubd_process.h"
#include "tests/support/raw_client.h"
#include "tests/support/running_broker.h"

namespace {

namespace wire = hub::wire;
using namespace std::chrono_literals;

using hub::test::next_reply;
void send(zmq::socket_t& s, const std::vector<std::string>& frames) { hub::test::send_frames(s, frames); }

zmq::socket_t dealer(zmq::context_t& ctx, const std::string& endpoint) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(endpoint);
  return s;
}

// The hub's status, asked over its own connection (which reads every reply).
nlohmann::json status(zmq::socket_t& s) {
  send(s, {std::string(wire::cmd_status)});
  auto reply = next_reply(s);
  REQUIRE(reply.size() == 2);
  REQUIRE(reply[0].to_string_view() == wire::rep_status);
  return nlohmann::json::parse(reply[1].to_string());
}

}  // namespace

TEST_CASE("a client that never reads its replies is dropped once max_outbox of them wait, and the hub serves on",
          "[broker][limits]") {
  auto o = hub::test::loopback_options();
  o.client_hwm = 16;
  o.max_outbox = 64;
  hub::test::running_broker hub(o, hub::store::make_memory_store());
  zmq::context_t ctx;

  auto observer = dealer(ctx, hub.endpoint());
  REQUIRE(status(observer)["counters"]["clients_dropped"] == 0);

  zmq::socket_t greedy(ctx, zmq::socket_type::dealer);
  greedy.set(zmq::sockopt::linger, 0);
  greedy.set(zmq::sockopt::rcvhwm, 1);
  greedy.set(zmq::sockopt::rcvbuf, 4096);  // a small kernel buffer too: what it does not read piles up soon
  greedy.connect(hub.endpoint());
  send(greedy, {std::string(wire::cmd_hello), std::string(wire::protocol_version), "greedy"});
  REQUIRE(next_reply(greedy)[0].to_string_view() == wire::rep_welcome);
  // 300 subscriptions, which every STATUS reply lists (tens of KB each): the kernel's
  // socket buffers between the hub and the greedy client then fill after a few hundred
  // replies, however large the machine lets them grow. (It still reads these replies.)
  constexpr std::size_t subs = 300;
  for (std::uint64_t id = 1; id <= subs; ++id) {
    send(greedy, {std::string(wire::cmd_sub), wire::u64_frame(id), "peacekeeping.>", std::string(wire::start_new),
                  wire::u64_frame(0), "", wire::u64_frame(0)});
    REQUIRE(next_reply(greedy)[0].to_string_view() == wire::rep_subok);
  }
  REQUIRE(status(observer)["subscriptions"].size() == subs);

  // STATUS after STATUS, none of the replies read; between bursts the observer looks.
  // A send waits at most 100 ms for room. Bounded: 60 s, 3,000 bursts.
  greedy.set(zmq::sockopt::sndtimeo, 100);
  bool dropped = false;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (int burst = 0; burst < 3000 && !dropped && std::chrono::steady_clock::now() < deadline; ++burst) {
    for (int i = 0; i < 20; ++i) (void)greedy.send(zmq::buffer(wire::cmd_status), zmq::send_flags::none);
    // (Requests of the greedy client still queued reach the hub as a new session, which
    // may be dropped again in turn.)
    dropped = status(observer)["counters"]["clients_dropped"].get<int>() >= 1;
  }
  REQUIRE(dropped);
  // Its subscriptions ended with it; the observer is served as before.
  CHECK(status(observer)["subscriptions"].empty());
}

TEST_CASE("a SUB beyond max_subscriptions is refused with too_many_subscriptions until the client ends one",
          "[broker][limits]") {
  auto o = hub::test::loopback_options();
  o.max_subscriptions = 3;
  hub::test::running_broker hub(o, hub::store::make_memory_store());
  zmq::context_t ctx;
  auto c = dealer(ctx, hub.endpoint());
  auto next = [&] { return next_reply(c); };
  auto subscribe = [&](std::uint64_t id) {
    send(c, {std::string(wire::cmd_sub), wire::u64_frame(id), "peacekeeping.>", std::string(wire::start_new),
             wire::u64_frame(0), "", wire::u64_frame(10)});
    return next();
  };
  send(c, {std::string(wire::cmd_hello), std::string(wire::protocol_version), "many-subs"});
  REQUIRE(next()[0].to_string_view() == wire::rep_welcome);
  for (std::uint64_t id = 1; id <= 3; ++id) REQUIRE(subscribe(id)[0].to_string_view() == wire::rep_subok);

  auto refused = subscribe(4);
  REQUIRE(refused.size() == 4);
  CHECK(refused[0].to_string_view() == wire::rep_err);
  CHECK(wire::parse_u16({refused[1].data<std::uint8_t>(), refused[1].size()}) ==
        static_cast<std::uint16_t>(hub::schema::Reason::too_many_subscriptions));
  CHECK_THAT(refused[2].to_string(), Catch::Contains("3 subscriptions"));
  CHECK(wire::parse_u64({refused[3].data<std::uint8_t>(), refused[3].size()}) == 4u);

  send(c, {std::string(wire::cmd_unsub), wire::u64_frame(2)});
  REQUIRE(next()[0].to_string_view() == wire::rep_unsubok);
  CHECK(subscribe(4)[0].to_string_view() == wire::rep_subok);
}

TEST_CASE("an SDK subscriber refused for too many subscriptions reports the hub's reason, and the hub counts it",
          "[broker][limits][sdk]") {
  auto o = hub::test::loopback_options();
  o.max_subscriptions = 0;  // a hub that takes no subscription at all
  hub::test::running_broker hub(o, hub::store::make_memory_store());
  hub::sdk::subscriber::options so;
  so.connection.endpoints = {hub.endpoint()};
  so.connection.client_name = "refused-subscriber";
  hub::sdk::subscriber sub(so);
  REQUIRE(hub::test::wait_for([&] {
    (void)sub.next(10ms);
    return !sub.last_error().empty();
  }));
  CHECK_THAT(sub.last_error(), Catch::Contains("as many as the hub allows"));
  // One refusal, counted by reason in the status; polling on does not ask again. (That
  // the SDK also keeps from asking after a new session is not exercised here.)
  zmq::context_t ctx;
  auto observer = dealer(ctx, hub.endpoint());
  for (int i = 0; i < 5; ++i) (void)sub.next(20ms);
  CHECK(status(observer)["counters"]["errs"]["too_many_subscriptions"] == 1);
}

TEST_CASE("a new durable name beyond max_consumers is refused at SUB and at COMMIT: known names go on",
          "[broker][limits][consumers]") {
  auto o = hub::test::loopback_options();
  o.max_consumers = 2;
  hub::test::running_broker hub(o, hub::store::make_memory_store());
  zmq::context_t ctx;
  auto c = dealer(ctx, hub.endpoint());
  auto subscribe = [&](std::uint64_t id, const std::string& durable) {
    send(c, {std::string(wire::cmd_sub), wire::u64_frame(id), "peacekeeping.>", std::string(wire::start_new),
             wire::u64_frame(0), durable, wire::u64_frame(10)});
    return next_reply(c);
  };
  auto commit = [&](std::uint64_t id) {
    send(c, {std::string(wire::cmd_commit), wire::u64_frame(id), wire::u64_frame(0)});
    return next_reply(c);
  };
  auto reason_of = [](const std::vector<zmq::message_t>& err) {
    REQUIRE(err.size() >= 2);
    return wire::parse_u16({err[1].data<std::uint8_t>(), err[1].size()});
  };
  const auto too_many = static_cast<std::uint16_t>(hub::schema::Reason::too_many_consumers);
  send(c, {std::string(wire::cmd_hello), std::string(wire::protocol_version), "consumers"});
  REQUIRE(next_reply(c)[0].to_string_view() == wire::rep_welcome);

  // Names become consumers at their first COMMIT. Two SUBs under new names while the
  // hub keeps one: both accepted; the first COMMIT fills the limit, the second is refused.
  REQUIRE(subscribe(1, "rules")[0].to_string_view() == wire::rep_subok);
  REQUIRE(commit(1)[0].to_string_view() == wire::rep_commitok);
  REQUIRE(subscribe(2, "report-a")[0].to_string_view() == wire::rep_subok);
  REQUIRE(subscribe(3, "report-b")[0].to_string_view() == wire::rep_subok);
  REQUIRE(commit(2)[0].to_string_view() == wire::rep_commitok);
  auto refused_commit = commit(3);
  CHECK(refused_commit[0].to_string_view() == wire::rep_err);
  CHECK(reason_of(refused_commit) == too_many);
  CHECK_THAT(refused_commit[2].to_string(), Catch::Contains("2 durable consumers"));

  // Now a SUB under a new name is refused at once; a known name is served as before.
  auto refused_sub = subscribe(4, "report-c");
  CHECK(refused_sub[0].to_string_view() == wire::rep_err);
  CHECK(reason_of(refused_sub) == too_many);
  CHECK(subscribe(5, "rules")[0].to_string_view() == wire::rep_subok);
  CHECK(commit(5)[0].to_string_view() == wire::rep_commitok);
  auto st = status(c);
  CHECK(st["consumers"].size() == 2);
  CHECK(st["counters"]["errs"]["too_many_consumers"] == 2);
}
