// hubd's client socket (the ROUTER side of ZMTP), driven here as the broker's loop drives
// it, against real libzmq DEALER sockets on loopback (NULL and CURVE) and, for what
// libzmq would never send, a raw TCP socket speaking ZMTP by hand.
#include <catch2/catch.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hub/broker/zmtp_router.h"
#include "tests/support/zmtp_peer.h"

using namespace std::chrono_literals;
using hub::broker::curve_key;
using hub::broker::router_limits;
using hub::broker::zmtp_router;
using hub::test::command, hub::test::greeting, hub::test::message, hub::test::raw_peer, hub::test::ready;

namespace {

struct ended_connection {
  std::string identity, why;
  zmtp_router::end_kind kind;
};

// A router with its hooks recorded, driven as the loop drives it.
struct harness {
  std::vector<ended_connection> ended;
  std::function<std::string(const curve_key&, std::string&)> admit;
  zmtp_router r;

  explicit harness(router_limits limits = {}, std::optional<curve_key> secret = std::nullopt)
      : r(limits, secret, hooks()) {
    auto s = r.bind("tcp://127.0.0.1:*");
    INFO(s.message());
    REQUIRE(s.is_ok());
  }
  zmtp_router::hooks hooks() {
    zmtp_router::hooks h;
    h.admit = [this](const curve_key& k, std::string& user) { return admit ? admit(k, user) : std::string("none"); };
    h.ended = [this](std::string_view id, std::string_view, std::string_view why, zmtp_router::end_kind kind) {
      ended.push_back({std::string(id), std::string(why), kind});
    };
    return h;
  }
  // One pass of the loop: poll (5 ms at most), handle.
  void pass() {
    std::vector<zmq::pollitem_t> items;
    r.add_poll_items(items);
    zmq::poll(items.data(), items.size(), 5ms);
    r.handle(items.data(), items.size());
  }
  // Passes until cond() holds or 10 s pass.
  bool pump(const std::function<bool()>& cond) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!cond()) {
      if (std::chrono::steady_clock::now() > until) return false;
      pass();
    }
    return true;
  }
  // The next whole message (routing id first), pumping for it.
  std::vector<std::string> next() {
    std::vector<zmq::message_t> frames;
    REQUIRE(pump([&] { return r.next(frames); }));
    std::vector<std::string> out;
    for (auto& f : frames) out.push_back(f.to_string());
    return out;
  }
  zmtp_router::send_result send(const std::string& id, const std::vector<std::string>& parts) {
    std::vector<zmq::const_buffer> b;
    for (auto& p : parts) b.push_back(zmq::buffer(p));
    return r.send(id, b);
  }
};

zmq::socket_t dealer(zmq::context_t& ctx, const std::string& endpoint) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(endpoint);
  return s;
}

void send_frames(zmq::socket_t& s, const std::vector<std::string>& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i)
    REQUIRE(s.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none));
}

// What a DEALER receives, pumping the router meanwhile (its writes need the loop).
std::vector<std::string> recv_pumping(harness& h, zmq::socket_t& s) {
  std::vector<zmq::message_t> msg;
  REQUIRE(h.pump([&] {
    h.r.flush();
    return zmq::recv_multipart(s, std::back_inserter(msg), zmq::recv_flags::dontwait).has_value();
  }));
  std::vector<std::string> out;
  for (auto& f : msg) out.push_back(f.to_string());
  return out;
}

// A raw peer past the NULL handshake, as a DEALER.
void handshake(harness& h, raw_peer& p) {
  p.send(greeting() + ready("DEALER"));
  // The router's greeting and READY arrive; its READY names it a ROUTER.
  REQUIRE(h.pump([&] {
    p.read_some();
    return p.in.find("ROUTER") != std::string::npos;
  }));
  p.in.clear();
}

struct keypair {
  char pub[41], sec[41];
  keypair() { REQUIRE(zmq_curve_keypair(pub, sec) == 0); }
  [[nodiscard]] curve_key secret() const {
    curve_key k{};
    REQUIRE(zmq_z85_decode(k.data(), sec) != nullptr);
    return k;
  }
  [[nodiscard]] curve_key public_key() const {
    curve_key k{};
    REQUIRE(zmq_z85_decode(k.data(), pub) != nullptr);
    return k;
  }
};

}  // namespace

TEST_CASE("router: libzmq DEALERs exchange multipart messages with it, each under its own routing id",
          "[router]") {
  harness h;
  zmq::context_t ctx;
  auto a = dealer(ctx, h.r.endpoint());
  auto b = dealer(ctx, h.r.endpoint());
  const std::string big(70'000, 'x');  // a long frame: 8-byte size
  send_frames(a, {"PUB", "one", big});
  send_frames(b, {"SUB", "two"});
  auto m1 = h.next();
  auto m2 = h.next();
  if (m1[1] == "SUB") std::swap(m1, m2);
  REQUIRE(m1.size() == 4);
  CHECK(m1[1] == "PUB");
  CHECK(m1[2] == "one");
  CHECK(m1[3] == big);
  REQUIRE(m2.size() == 3);
  CHECK(m2[2] == "two");
  // Routing ids as libzmq's: 5 bytes, 0 first, one per connection.
  CHECK(m1[0].size() == 5);
  CHECK(m1[0][0] == '\0');
  CHECK(m1[0] != m2[0]);
  // And back, to each its own.
  REQUIRE(h.send(m1[0], {"ACK", big}) == zmtp_router::send_result::sent);
  REQUIRE(h.send(m2[0], {"EVT", "e"}) == zmtp_router::send_result::sent);
  CHECK(recv_pumping(h, a) == std::vector<std::string>{"ACK", big});
  CHECK(recv_pumping(h, b) == std::vector<std::string>{"EVT", "e"});
  CHECK(h.r.connections() == 2);
  CHECK(h.ended.empty());
}

TEST_CASE("router: next() takes clients in turn, so one busy client cannot starve another", "[router]") {
  harness h;
  zmq::context_t ctx;
  auto busy = dealer(ctx, h.r.endpoint());
  auto quiet = dealer(ctx, h.r.endpoint());
  std::vector<zmq::message_t> f;
  for (int i = 0; i < 5; ++i) send_frames(busy, {"busy"});
  send_frames(quiet, {"quiet"});
  // Both connections read before anything is taken (they may arrive in separate passes).
  std::vector<std::string> order;
  REQUIRE(h.pump([&] {
    h.pass();
    return h.r.pending() && h.ended.empty() && h.r.waiting() == 6;
  }));
  while (h.r.next(f)) order.push_back(f[1].to_string());
  REQUIRE(order.size() == 6);
  const auto pos = std::find(order.begin(), order.end(), "quiet") - order.begin();
  CHECK(pos <= 1);
}

TEST_CASE("router: send() answers full beyond the queue limit and sent again once the client reads", "[router]") {
  router_limits limits;
  limits.max_queued_messages = 4;
  harness h(limits);
  raw_peer p(h.r.endpoint(), 4096);  // a small receive window that it does not read
  handshake(h, p);
  p.send(message("hi"));
  const std::string id = h.next()[0];
  const std::string chunk(256 * 1024, 'c');
  int sent = 0;
  zmtp_router::send_result last = zmtp_router::send_result::sent;
  for (int i = 0; i < 200 && last == zmtp_router::send_result::sent; ++i) {
    last = h.send(id, {chunk});
    if (last == zmtp_router::send_result::sent) ++sent;
    h.r.flush();
  }
  REQUIRE(last == zmtp_router::send_result::full);
  CHECK(sent >= 4);
  // The client reads everything: its queue drains and sending works again.
  std::size_t want = static_cast<std::size_t>(sent) * (9 + chunk.size());
  REQUIRE(h.pump([&] {
    h.r.flush();
    p.read_some();
    return p.in.size() >= want;
  }));
  CHECK(p.in.size() == want);
  CHECK(h.send(id, {chunk}) == zmtp_router::send_result::sent);
  CHECK(h.ended.empty());
}

TEST_CASE("router: a client that closes is reported once, and what it sent before is still handed over",
          "[router]") {
  harness h;
  std::string id;
  {
    raw_peer p(h.r.endpoint());
    handshake(h, p);
    p.send(message("first"));
    id = h.next()[0];
    // A whole message, then half of one (MORE set, no last frame), then it closes.
    p.send(message("last words") + std::string{'\x01', 3} + "cut");
  }
  auto m = h.next();
  CHECK(m == std::vector<std::string>{id, "last words"});
  REQUIRE(h.pump([&] { return h.ended.size() == 1; }));
  CHECK(h.ended[0].identity == id);
  CHECK(h.ended[0].kind == zmtp_router::end_kind::closed);
  CHECK(h.ended[0].why == "it closed the connection");
  std::vector<zmq::message_t> f;
  CHECK_FALSE(h.r.next(f));  // the cut message is not delivered
  CHECK(h.send(id, {"late"}) == zmtp_router::send_result::unreachable);
  CHECK(h.send(std::string("\0\0\0\0\1", 5), {"x"}) == zmtp_router::send_result::unreachable);
  CHECK(h.r.connections() == 0);
}

TEST_CASE("router: protocol faults and limits close the connection with the reason", "[router]") {
  router_limits limits;
  limits.max_message_bytes = 1000;
  limits.max_frames = 8;
  harness h(limits);
  struct fault {
    const char* what;
    std::string bytes;
    const char* says;
  };
  const std::string over(1001, 'o');
  std::string many;
  for (int i = 0; i < 9; ++i) many += std::string{'\x01', 1} + "f";
  const std::vector<fault> faults = {
      {"not ZMTP", "GET / HTTP/1.1\r\n\r\n", "does not speak ZMTP"},
      {"ZMTP 2", greeting(2), "ZMTP 2"},
      {"a PUB socket", greeting() + ready("PUB"), "a PUB socket cannot talk to the hub"},
      {"a message before READY", greeting() + message("early"), "before the handshake ended"},
      {"the CURVE mechanism on a hub without security", greeting(3, "CURVE"), "security is off"},
      {"a frame over the limit", greeting() + ready("DEALER") + std::string{'\x02'} +
                                     std::string("\0\0\0\0\0\0\x03\xE9", 8) + over,
       "over 1000 bytes"},
      {"frames adding up over the limit",
       greeting() + ready("DEALER") + std::string{'\x03'} + std::string("\0\0\0\0\0\0\x02\x00", 8) +
           std::string(512, 'a') + std::string{'\x02'} + std::string("\0\0\0\0\0\0\x02\x00", 8) + std::string(512, 'b'),
       "over 1000 bytes"},
      {"too many frames", greeting() + ready("DEALER") + many, "more than 8 frames"},
      {"bad flags", greeting() + ready("DEALER") + std::string{'\x40', 0}, "flags 0x40"},
  };
  for (const auto& f : faults) {
    INFO(f.what);
    const std::size_t before = h.ended.size();
    raw_peer p(h.r.endpoint());
    p.send(f.bytes);
    REQUIRE(h.pump([&] { return h.ended.size() == before + 1; }));
    CHECK(h.ended.back().kind == zmtp_router::end_kind::fault);
    CHECK_THAT(h.ended.back().why, Catch::Contains(f.says));
    // The hub's side closed it: the peer reads the end of the stream.
    CHECK(h.pump([&] { return !p.read_some(); }));
  }
  std::vector<zmq::message_t> frames;
  CHECK_FALSE(h.r.next(frames));
  CHECK(h.r.connections() == 0);
}

TEST_CASE("router: a connection that does not finish its handshake in time is closed", "[router]") {
  harness h;
  raw_peer p(h.r.endpoint());
  REQUIRE(h.pump([&] { return h.r.connections() == 1; }));
  h.r.expire(std::chrono::steady_clock::now());
  CHECK(h.ended.empty());
  h.r.expire(std::chrono::steady_clock::now() + 11s);
  REQUIRE(h.ended.size() == 1);
  CHECK(h.ended[0].kind == zmtp_router::end_kind::fault);
  CHECK_THAT(h.ended[0].why, Catch::Contains("no ZMTP handshake within 10000 ms"));
  CHECK(h.ended[0].identity.empty());  // it never had a client behind it
}

TEST_CASE("router: a PING is answered with a PONG carrying its context", "[router]") {
  harness h;
  raw_peer p(h.r.endpoint());
  handshake(h, p);
  p.send(command("PING", std::string("\x00\x64", 2) + "ctx-42"));
  REQUIRE(h.pump([&] {
    p.read_some();
    return p.in.size() >= 2 + 5 + 6;
  }));
  CHECK(p.in == command("PONG", "ctx-42"));
  CHECK(h.ended.empty());
}

TEST_CASE("router: reading from a client pauses while its messages wait, and resumes as they are taken",
          "[router]") {
  router_limits limits;
  limits.max_queued_messages = 5;
  harness h(limits);
  raw_peer p(h.r.endpoint());
  handshake(h, p);
  const std::string body(4000, 'm');
  std::string all;
  for (int i = 0; i < 50; ++i) all += std::string{'\x02'} + std::string("\0\0\0\0\0\0\x0f\xa0", 8) + body;
  p.send(all);
  REQUIRE(h.pump([&] { return h.r.waiting() >= 5; }));
  // More passes read nothing more: one read's worth (16 KiB, four messages) at most
  // beyond the limit.
  for (int i = 0; i < 20; ++i) h.pass();
  CHECK(h.r.waiting() <= 5 + 4);
  std::size_t got = 0;
  std::vector<zmq::message_t> f;
  REQUIRE(h.pump([&] {
    while (h.r.next(f)) {
      CHECK(f[1].size() == body.size());
      ++got;
    }
    return got == 50;
  }));
  CHECK(h.ended.empty());
}

TEST_CASE("router: with a secret key, only CURVE clients it admits get through", "[router][curve]") {
  keypair hub_keys, known, stranger;
  harness h({}, hub_keys.secret());
  const auto known_key = known.public_key();
  h.admit = [&](const curve_key& k, std::string& user) -> std::string {
    if (k != known_key) return "public key not on the hub's list";
    user = "undp-adapter";
    return {};
  };
  zmq::context_t ctx;
  auto client = [&](const keypair& kp, const char* server_key) {
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::curve_serverkey, server_key);
    s.set(zmq::sockopt::curve_publickey, kp.pub);
    s.set(zmq::sockopt::curve_secretkey, kp.sec);
    s.connect(h.r.endpoint());
    return s;
  };
  SECTION("an admitted key exchanges messages both ways, named as the hook named it") {
    auto s = client(known, hub_keys.pub);
    const std::string big(70'000, 'b');
    send_frames(s, {"PUB", "seq", big});
    auto m = h.next();
    REQUIRE(m.size() == 4);
    CHECK(m[3] == big);
    REQUIRE(h.r.user_of(m[0]) != nullptr);
    CHECK(*h.r.user_of(m[0]) == "undp-adapter");
    REQUIRE(h.send(m[0], {"ACK", big}) == zmtp_router::send_result::sent);
    CHECK(recv_pumping(h, s) == std::vector<std::string>{"ACK", big});
  }
  SECTION("a key the hook does not admit is refused") {
    auto s = client(stranger, hub_keys.pub);
    send_frames(s, {"PUB"});
    REQUIRE(h.pump([&] { return !h.ended.empty(); }));
    CHECK(h.ended[0].kind == zmtp_router::end_kind::refused);
    CHECK(h.ended[0].why == "public key not on the hub's list");
    CHECK(h.ended[0].identity.empty());
    CHECK_FALSE(h.r.pending());
  }
  SECTION("a client without CURVE is refused at its greeting") {
    auto s = dealer(ctx, h.r.endpoint());
    send_frames(s, {"PUB"});
    REQUIRE(h.pump([&] { return !h.ended.empty(); }));
    CHECK(h.ended[0].kind == zmtp_router::end_kind::refused);
    CHECK_THAT(h.ended[0].why, Catch::Contains("CURVE is required"));
  }
  SECTION("a client with another server key is refused at its HELLO") {
    keypair other_hub;
    auto s = client(known, other_hub.pub);
    REQUIRE(h.pump([&] { return !h.ended.empty(); }));
    CHECK(h.ended[0].kind == zmtp_router::end_kind::fault);
    CHECK_FALSE(h.r.pending());
  }
}

TEST_CASE("router: the parser alone, as the fuzz target drives it", "[router]") {
  const std::string good = greeting() + ready("DEALER") + message("a") + std::string{'\x01', 1} + "b" + message("c");
  for (std::size_t chunk : {1, 2, 7, 64, 1000}) {
    INFO("chunk " << chunk);
    auto r = zmtp_router::parse_only(good, chunk);
    CHECK(r.open);
    CHECK(r.ready);
    CHECK(r.messages == 2);
  }
  auto bad = zmtp_router::parse_only(greeting() + ready("XPUB"), 3);
  CHECK_FALSE(bad.open);
  CHECK_THAT(bad.why, Catch::Contains("XPUB"));
}
