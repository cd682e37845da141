// The mirror's own ZMTP publisher, driven here as the broker's loop drives it, against
// real libzmq SUB and XSUB sockets on loopback and, for what libzmq would never send,
// a raw TCP socket speaking ZMTP by hand.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hub/broker/zmtp_mirror.h"
#include "tests/support/zmtp_peer.h"

using namespace std::chrono_literals;
using hub::broker::mirror_limits;
using hub::broker::zmtp_mirror;
using hub::test::command, hub::test::greeting, hub::test::message, hub::test::port_of, hub::test::raw_peer,
    hub::test::ready;

namespace {

// Runs the mirror's side as the loop would (poll, handle) until cond() holds or 10 s pass.
bool pump(zmtp_mirror& m, const std::function<bool()>& cond, std::chrono::milliseconds deadline = 10s) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::vector<zmq::pollitem_t> items;
    m.add_poll_items(items);
    zmq::poll(items.data(), items.size(), 5ms);
    m.handle(items.data(), items.size());
  }
  return true;
}

void listen(zmtp_mirror& m) {
  auto s = m.bind("tcp://127.0.0.1:*");
  INFO(s.message());
  REQUIRE(s.is_ok());
}

// A SUB (or XSUB) socket of libzmq, the kind of reader the mirror is for.
struct zmq_reader {
  zmq::socket_t s;
  zmq_reader(zmq::context_t& ctx, const std::string& endpoint, zmq::socket_type type = zmq::socket_type::sub)
      : s(ctx, type) {
    s.set(zmq::sockopt::linger, 0);
    s.connect(endpoint);
  }
  std::optional<std::vector<std::string>> try_recv() {
    std::vector<zmq::message_t> msg;
    if (!zmq::recv_multipart(s, std::back_inserter(msg), zmq::recv_flags::dontwait)) return std::nullopt;
    std::vector<std::string> out;
    for (auto& f : msg) out.push_back(f.to_string());
    return out;
  }
};

// The greeting and READY the mirror sends every new connection.
constexpr std::size_t mirror_hello_size = 64 + 2 + 26;

}  // namespace

TEST_CASE("mirror: a libzmq SUB socket receives topic and body of what it subscribed to, in order", "[mirror]") {
  zmtp_mirror m;
  listen(m);
  zmq::context_t ctx;
  zmq_reader sub(ctx, m.endpoint());
  sub.s.set(zmq::sockopt::subscribe, "peacekeeping.");
  REQUIRE(pump(m, [&] { return m.subscriptions() == 1; }));
  CHECK(m.readers() == 1);
  // Short and long frames (a ZMTP frame over 255 bytes has an 8-byte size).
  const std::string long_topic = "peacekeeping." + std::string(300, 't');
  const std::string big(70'000, 'b');
  std::vector<std::pair<std::string, std::string>> sent;
  for (int i = 0; i < 1000; ++i) {
    const std::string topic = i % 10 == 0 ? long_topic : "peacekeeping.SSD.event_" + std::to_string(i);
    const std::string body = i % 7 == 0 ? big + std::to_string(i) : "body " + std::to_string(i);
    CHECK(m.publish(topic, body.data(), body.size()) == 0);
    CHECK(m.publish("development.SSD.activity", "x", 1) == 0);  // not subscribed: not sent
    sent.emplace_back(topic, body);
  }
  m.flush();
  std::vector<std::vector<std::string>> got;
  REQUIRE(pump(m, [&] {
    while (auto msg = sub.try_recv()) got.push_back(*msg);
    return got.size() >= sent.size();
  }));
  REQUIRE(got.size() == sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    REQUIRE(got[i].size() == 2);
    CHECK(got[i][0] == sent[i].first);
    CHECK(got[i][1] == sent[i].second);
  }
}

TEST_CASE("mirror: subscriptions count as XPUB's do, and each reader gets only its own", "[mirror]") {
  zmtp_mirror m;
  listen(m);
  zmq::context_t ctx;
  zmq_reader a(ctx, m.endpoint(), zmq::socket_type::xsub);
  zmq_reader b(ctx, m.endpoint());
  b.s.set(zmq::sockopt::subscribe, "development.");
  // XSUB sends its subscriptions as messages. It counts them itself and passes a cancel
  // on when the last of a prefix goes; the mirror holds a prefix once, as XPUB does.
  a.s.send(zmq::buffer(std::string("\x01peacekeeping.", 14)));
  a.s.send(zmq::buffer(std::string("\x01peacekeeping.", 14)));
  REQUIRE(pump(m, [&] { return m.readers() == 2 && m.subscriptions() == 2; }));
  CHECK(m.connections() == 2);
  a.s.send(zmq::buffer(std::string("\x00peacekeeping.", 14)));
  const std::string mark = "development.mark";
  // The first cancel stays in the XSUB (one subscription is left): a still gets events.
  m.publish("peacekeeping.one", "1", 1);
  m.publish("development.two", "2", 1);
  m.publish(mark, "3", 1);
  m.flush();
  std::vector<std::string> got_a, got_b;
  REQUIRE(pump(m, [&] {
    while (auto msg = a.try_recv()) got_a.push_back((*msg)[0]);
    while (auto msg = b.try_recv()) got_b.push_back((*msg)[0]);
    return !got_a.empty() && got_b.size() == 2;
  }));
  CHECK(got_a == std::vector<std::string>{"peacekeeping.one"});
  CHECK(got_b == std::vector<std::string>{"development.two", mark});
  // The second cancel ends the subscription: a gets nothing more, b still does.
  a.s.send(zmq::buffer(std::string("\x00peacekeeping.", 14)));
  REQUIRE(pump(m, [&] { return m.subscriptions() == 1; }));
  m.publish("peacekeeping.four", "4", 1);
  m.publish(mark, "5", 1);
  m.flush();
  got_b.clear();
  REQUIRE(pump(m, [&] {
    while (auto msg = b.try_recv()) got_b.push_back((*msg)[1]);
    return !got_b.empty();
  }));
  CHECK(got_b == std::vector<std::string>{"5"});
  CHECK_FALSE(a.try_recv());
}

TEST_CASE("mirror: a PING is answered in the same pass of the loop that read it", "[mirror]") {
  zmtp_mirror m;
  listen(m);
  raw_peer p(m.endpoint());
  p.send(greeting() + ready("SUB"));
  REQUIRE(pump(m, [&] { return p.read_some() && p.in.size() >= mirror_hello_size; }));
  REQUIRE(pump(m, [&] { return m.readers() == 1; }));
  p.in.clear();
  p.send(command("PING", std::string("\0\x0a", 2) + "ctx-9"));
  // One poll that sees the PING, one handle: the PONG is in the peer's socket after it.
  std::vector<zmq::pollitem_t> items;
  m.add_poll_items(items);
  REQUIRE(items.size() == 2);
  REQUIRE(zmq::poll(items.data(), items.size(), 10s) == 1);
  REQUIRE((items[1].revents & ZMQ_POLLIN) != 0);
  m.handle(items.data(), items.size());
  pollfd pf{p.fd, POLLIN, 0};
  REQUIRE(::poll(&pf, 1, 10'000) == 1);  // written by that one pass: no second one runs
  REQUIRE(p.read_some());
  CHECK(p.in == command("PONG", "ctx-9"));
}

TEST_CASE("mirror: ZMTP 3.1 SUBSCRIBE and CANCEL commands and heartbeats are understood", "[mirror]") {
  zmtp_mirror m;
  listen(m);
  raw_peer p(m.endpoint());
  p.send(greeting() + ready("SUB") + command("SUBSCRIBE", "coordination.") + command("PING", std::string("\0\x0a", 2) + "ctx-7"));
  REQUIRE(pump(m, [&] { return p.read_some() && m.subscriptions() == 1 && p.in.size() >= mirror_hello_size + 2 + 10; }));
  // Greeting (ZMTP 3.0, NULL), READY naming XPUB, then the PONG with the PING's context.
  CHECK(p.in.substr(0, 1) == "\xFF");
  CHECK(p.in[10] == 3);
  CHECK(p.in.substr(12, 4) == "NULL");
  CHECK(p.in.find("Socket-Type") != std::string::npos);
  CHECK(p.in.find("XPUB") != std::string::npos);
  CHECK(p.in.substr(mirror_hello_size) == command("PONG", "ctx-7"));
  p.in.clear();
  m.publish("coordination.SSD.coherence_alert", "alert", 5);
  m.flush();
  REQUIRE(pump(m, [&] { return p.read_some() && !p.in.empty(); }));
  CHECK(p.in == std::string("\x01\x20", 2) + "coordination.SSD.coherence_alert" + std::string("\x00\x05", 2) + "alert");
  p.send(command("CANCEL", "coordination."));
  REQUIRE(pump(m, [&] { return m.subscriptions() == 0; }));
  CHECK(m.readers() == 1);
}

TEST_CASE("mirror: a reader that does not read loses its own events, not another reader's", "[mirror]") {
  mirror_limits limits;
  limits.max_buffered_bytes = 64 * 1024;
  zmtp_mirror m(limits);
  listen(m);
  zmq::context_t ctx;
  zmq_reader fast(ctx, m.endpoint());
  fast.s.set(zmq::sockopt::subscribe, "");
  raw_peer stuck(m.endpoint(), 4096);  // subscribes to everything and never reads
  stuck.send(greeting() + ready("SUB") + message(std::string("\x01", 1)));
  REQUIRE(pump(m, [&] { return m.subscriptions() == 2; }));
  const std::string body(300, 'e');
  const int n = 20'000;  // 6 MB: far beyond the stuck reader's 64 KiB and its sockets' buffers
  std::size_t dropped = 0;
  int received = 0;
  for (int i = 0; i < n; ++i) {
    dropped += m.publish("peacekeeping.SSD.e", body.data(), body.size());
    if (i % 100 == 99) {
      m.flush();
      // Let the fast reader keep up, as a reader that reads would.
      pump(m, [&] {
        while (fast.try_recv()) ++received;
        return received >= i + 1;
      });
    }
  }
  m.flush();
  REQUIRE(pump(m, [&] {
    while (fast.try_recv()) ++received;
    return received >= n;
  }));
  CHECK(received == n);
  CHECK(dropped > 0);
  CHECK(dropped < static_cast<std::size_t>(n));  // it got what fitted before it filled up
  CHECK(m.readers() == 2);                       // slow is not broken: it stays connected
}

TEST_CASE("mirror: a peer that breaks the protocol is closed and the others go on", "[mirror][bad-input]") {
  zmtp_mirror m;
  listen(m);
  zmq::context_t ctx;
  zmq_reader good(ctx, m.endpoint());
  good.s.set(zmq::sockopt::subscribe, "");
  REQUIRE(pump(m, [&] { return m.subscriptions() == 1; }));

  struct bad_case {
    const char* what;
    std::string bytes;
  };
  const std::vector<bad_case> cases = {
      {"HTTP instead of ZMTP", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"ZMTP 2", greeting(1)},
      {"the CURVE mechanism", greeting(3, "CURVE")},
      {"a PUB socket", greeting() + ready("PUB")},
      {"a message before READY", greeting() + message("\x01x")},
      {"bad frame flags", greeting() + ready("SUB") + std::string("\x40\x01x", 3)},
      {"a 1 GB frame", greeting() + ready("SUB") + std::string("\x02\x00\x00\x00\x00\x40\x00\x00\x00", 9)},
      {"a broken READY", greeting() + command("READY", "\x0bSocket")},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    raw_peer p(m.endpoint());
    p.send(c.bytes);
    // The mirror closes the connection: the peer reads its end (after the greeting).
    REQUIRE(pump(m, [&] { return !p.read_some(); }));
    CHECK(m.connections() == 1);
  }
  m.publish("any.topic", "still", 5);
  m.flush();
  std::optional<std::vector<std::string>> got;
  REQUIRE(pump(m, [&] { return (got = good.try_recv()).has_value(); }));
  CHECK((*got)[1] == "still");
}

TEST_CASE("mirror: an unfinished handshake is closed after its time, a vanished reader at once", "[mirror]") {
  mirror_limits limits;
  limits.handshake_timeout = 2s;
  zmtp_mirror m(limits);
  listen(m);
  zmq::context_t ctx;
  zmq_reader good(ctx, m.endpoint());
  REQUIRE(pump(m, [&] { return m.readers() == 1; }));
  raw_peer silent(m.endpoint());  // connects and says nothing
  REQUIRE(pump(m, [&] { return m.connections() == 2; }));
  m.expire(std::chrono::steady_clock::now());  // within its time: kept
  CHECK(m.connections() == 2);
  m.expire(std::chrono::steady_clock::now() + 3s);  // as if 3 s had passed
  CHECK(m.connections() == 1);
  CHECK(m.readers() == 1);  // the finished handshake is not timed out
  REQUIRE(pump(m, [&] { return !silent.read_some(); }));
  good.s.close();
  REQUIRE(pump(m, [&] { return m.connections() == 0; }));
  CHECK(m.publish("x", "y", 1) == 0);
  m.flush();
}

TEST_CASE("mirror: connections beyond max_readers are refused and the rest are served", "[mirror]") {
  mirror_limits limits;
  limits.max_readers = 2;
  zmtp_mirror m(limits);
  listen(m);
  raw_peer a(m.endpoint()), b(m.endpoint());
  REQUIRE(pump(m, [&] { return m.connections() == 2; }));
  raw_peer c(m.endpoint());
  REQUIRE(pump(m, [&] { return !c.read_some(); }));
  CHECK(c.in.empty());  // closed before a byte was sent
  CHECK(m.connections() == 2);
}

TEST_CASE("mirror: endpoints it cannot listen on are refused with the reason", "[mirror][config]") {
  zmtp_mirror m;
  auto ipc = m.bind("ipc:///tmp/mirror");
  CHECK(ipc.code() == hub::errc::config_error);
  CHECK_THAT(ipc.message(), Catch::Contains("tcp://HOST:PORT"));
  CHECK(m.bind("tcp://127.0.0.1").code() == hub::errc::config_error);
  CHECK(m.bind("tcp://127.0.0.1:70000").code() == hub::errc::config_error);
  CHECK(m.bind("tcp://no-such-host.invalid:1").code() == hub::errc::config_error);
  zmtp_mirror first;
  listen(first);
  auto taken = m.bind(first.endpoint());
  CHECK(taken.code() == hub::errc::unavailable);
  CHECK_THAT(taken.message(), Catch::Contains("in use"));
  // IPv6 loopback, where the machine has it.
  zmtp_mirror v6;
  if (v6.bind("tcp://[::1]:*").is_ok()) {
    CHECK(v6.endpoint().rfind("tcp://[::1]:", 0) == 0);
    zmq::context_t ctx;
    zmq::socket_t sub(ctx, zmq::socket_type::sub);
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::ipv6, 1);
    sub.set(zmq::sockopt::subscribe, "");
    sub.connect(v6.endpoint());
    REQUIRE(pump(v6, [&] { return v6.subscriptions() == 1; }));
  }
}

TEST_CASE("mirror: a handshake and subscriptions cut at any byte are read the same", "[mirror]") {
  const std::string bytes = greeting() + ready("SUB") + message(std::string("\x01peacekeeping.", 14)) +
                            command("PING", std::string("\0\x0a", 2) + "ctx") + message(std::string("\x01" "dev", 4)) +
                            command("CANCEL", "dev");
  for (std::size_t chunk = 1; chunk <= bytes.size(); ++chunk) {
    INFO("cut every " << chunk << " bytes");
    auto out = zmtp_mirror::parse_only(bytes, chunk);
    CHECK(out.open);
    CHECK(out.ready);
    CHECK(out.subscriptions == 1);
    CHECK(out.reply_bytes == mirror_hello_size + command("PONG", "ctx").size());
  }
  auto bad = zmtp_mirror::parse_only(greeting() + ready("SUB") + std::string("\x40\x01x", 3), 1);
  CHECK_FALSE(bad.open);
  CHECK_THAT(bad.why, Catch::Contains("flags 0x40"));
}

TEST_CASE("mirror: a libzmq SUB with heartbeats stays connected (its PINGs are answered)", "[mirror]") {
  zmtp_mirror m;
  listen(m);
  zmq::context_t ctx;
  zmq::socket_t sub(ctx, zmq::socket_type::sub);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::heartbeat_ivl, 50);       // a PING every 50 ms...
  sub.set(zmq::sockopt::heartbeat_timeout, 200);  // ...and the connection closed 200 ms without an answer
  sub.set(zmq::sockopt::reconnect_ivl, -1);       // closed stays closed, so the test sees it
  sub.set(zmq::sockopt::subscribe, "");
  sub.connect(m.endpoint());
  REQUIRE(pump(m, [&] { return m.subscriptions() == 1; }));
  pump(m, [] { return false; }, 1s);  // twenty heartbeats
  CHECK(m.connections() == 1);
  m.publish("after.heartbeats", "ok", 2);
  m.flush();
  std::vector<zmq::message_t> got;
  REQUIRE(pump(m, [&] { return zmq::recv_multipart(sub, std::back_inserter(got), zmq::recv_flags::dontwait).has_value(); }));
  CHECK(got.at(1).to_string() == "ok");
}

TEST_CASE("mirror: a reader's subscriptions and unread PONGs are bounded", "[mirror][bad-input]") {
  // Subscriptions of 60,000 bytes each: the eighteenth passes 1 MiB together.
  std::string subs;
  for (int i = 0; i < 18; ++i) {
    const std::string body = "\x01" + std::string(60'000, static_cast<char>('a' + i));
    subs += std::string{'\x02', 0, 0, 0, 0, 0};
    subs += {static_cast<char>(body.size() >> 16), static_cast<char>((body.size() >> 8) & 0xFF),
             static_cast<char>(body.size() & 0xFF)};
    subs += body;
  }
  auto many = zmtp_mirror::parse_only(greeting() + ready("SUB") + subs, 4096);
  CHECK_FALSE(many.open);
  CHECK_THAT(many.why, Catch::Contains("subscriptions over 1048576 bytes"));
  CHECK(many.subscriptions == 17);

  // PINGs whose PONGs are never read: closed once they would pass the reader's buffer.
  mirror_limits small;
  small.max_buffered_bytes = 1024;
  std::string pings;
  for (int i = 0; i < 200; ++i) pings += command("PING", std::string("\0\x0a", 2) + "context-1234");
  auto flood = zmtp_mirror::parse_only(greeting() + ready("SUB") + pings, 1 << 20, small);
  CHECK_FALSE(flood.open);
  CHECK_THAT(flood.why, Catch::Contains("does not read the PONGs"));
  CHECK(flood.reply_bytes <= small.max_buffered_bytes);
}
