// The loop's idle poll: for idle_poll after a wake-up that had work, the loop polls its
// sockets without sleeping, so a request that arrives then is read without waking a
// thread; after that it sleeps as before. busy_polled_turns counts the wake-ups that
// the idle poll found.
#include <catch2/catch.hpp>
#include <sys/resource.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "hub/store/memory_store.h"
#include "schemas/wire.h"
#include "tests/support/raw_client.h"
#include "tests/support/running_broker.h"

namespace {

namespace wire = hub::wire;
using namespace std::chrono_literals;

using hub::test::next_reply;
void send(zmq::socket_t& s, const std::vector<std::string>& frames) { hub::test::send_frames(s, frames); }

// A client that has said HELLO.
zmq::socket_t client(zmq::context_t& ctx, const std::string& endpoint) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(endpoint);
  send(s, {std::string(wire::cmd_hello), std::string(wire::protocol_version), "idle-poll-test"});
  REQUIRE(next_reply(s)[0].to_string_view() == wire::rep_welcome);
  return s;
}

// `n` PINGs, each sent `gap` after the previous PONG came; then the hub's status. The
// gap lets the loop finish its turn first: a PING that came while the turn was still
// reading would be read in that turn, and no wake-up at all.
nlohmann::json ping_pong(zmq::socket_t& s, int n, std::chrono::milliseconds gap) {
  for (int i = 0; i < n; ++i) {
    std::this_thread::sleep_for(gap);  // the client's pause between requests, not a wait for the hub
    send(s, {std::string(wire::cmd_ping)});
    REQUIRE(next_reply(s)[0].to_string_view() == wire::rep_pong);
  }
  send(s, {std::string(wire::cmd_status)});
  auto reply = next_reply(s);
  REQUIRE(reply.size() == 2);
  REQUIRE(reply[0].to_string_view() == wire::rep_status);
  return nlohmann::json::parse(reply[1].to_string());
}

// CPU time of this whole process (every thread), user and system.
std::chrono::microseconds process_cpu() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& t) { return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec); };
  return us(ru.ru_utime) + us(ru.ru_stime);
}

}  // namespace

TEST_CASE("without idle_poll the loop sleeps between requests: no turn is found by polling", "[broker][idle_poll]") {
  hub::test::running_broker hub(hub::test::loopback_options(), hub::store::make_memory_store());
  zmq::context_t ctx;
  auto c = client(ctx, hub.endpoint());
  CHECK(ping_pong(c, 10, 20ms)["counters"]["busy_polled_turns"] == 0);
}

TEST_CASE("with idle_poll a request sent within it of the last turn is read while the loop still polls",
          "[broker][idle_poll]") {
  auto o = hub::test::loopback_options();
  o.idle_poll = 2s;  // far longer than a round trip, even under a sanitizer on a loaded machine
  hub::test::running_broker hub(o, hub::store::make_memory_store());
  zmq::context_t ctx;
  auto c = client(ctx, hub.endpoint());
  auto polled = ping_pong(c, 10, 20ms)["counters"]["busy_polled_turns"].get<std::uint64_t>();
  INFO("wake-ups found by the idle poll: " << polled);
  // Each PING (and the STATUS) came 20 ms after the turn before it, well within 2 s.
  // (On a starved machine a turn may outlast the pause and read the PING itself.)
  CHECK(polled >= 8);
  // It counts wake-ups, not rounds of polling: the 11 requests, and at most a few
  // more for the connection's own events (ZeroMQ's monitor reports them apart).
  CHECK(polled <= 30);
}

TEST_CASE("with idle_poll an idle hub stops polling once idle_poll has passed", "[broker][idle_poll]") {
  auto o = hub::test::loopback_options();
  o.idle_poll = 50ms;
  hub::test::running_broker hub(o, hub::store::make_memory_store());
  zmq::context_t ctx;
  auto c = client(ctx, hub.endpoint());
  (void)ping_pong(c, 3, 0ms);
  // The loop polls for at most 50 ms after that STATUS, then sleeps. A loop that went
  // on polling would use nearly all of the next 600 ms on its thread.
  const auto before = process_cpu();
  std::this_thread::sleep_for(600ms);  // the interval measured, not a wait for an event
  const auto used = process_cpu() - before;
  INFO("CPU used by the process while the hub was idle: " << used.count() << " µs");
  CHECK(used < 250ms);
}
