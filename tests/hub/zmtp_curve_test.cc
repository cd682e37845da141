// CURVE's server side (zmtp_curve.h) driven by hand over a plain TCP connection against a
// real libzmq DEALER with CURVE client options and, for what libzmq would never send, a
// client made of libsodium calls in this file.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <sodium.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "hub/broker/zmtp_curve.h"
#include "hub/broker/zmtp_wire.h"

using hub::broker::curve_key;
using hub::broker::curve_server;
namespace zmtp = hub::broker::zmtp;

namespace {

using clock_type = std::chrono::steady_clock;
constexpr auto io_bound = std::chrono::seconds(10);  // every wait on the network

struct z85_keypair {
  std::string pub, sec;
};
z85_keypair make_keypair() {
  char pub[41], sec[41];
  REQUIRE(zmq_curve_keypair(pub, sec) == 0);
  return {pub, sec};
}
curve_key decode(const std::string& z85) {
  curve_key k{};
  REQUIRE(zmq_z85_decode(k.data(), z85.c_str()) != nullptr);
  return k;
}

int wait_for(int fd, short events, clock_type::time_point until) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now()).count();
    if (left <= 0) return 0;
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) continue;
    return rc;
  }
}

// A TCP listener on 127.0.0.1 with a port the kernel picks.
struct listener {
  int fd = -1;
  std::uint16_t port = 0;
  listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 8) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  ~listener() { ::close(fd); }
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  [[nodiscard]] std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port); }
  int accept_one() const {
    REQUIRE(wait_for(fd, POLLIN, clock_type::now() + io_bound) == 1);
    const int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    REQUIRE(c >= 0);
    return c;
  }
};

struct frame {
  std::uint8_t flags = 0;
  std::string body;
};

// One accepted connection, spoken to by hand; every read and write waits at most io_bound.
struct wire {
  int fd;
  std::string in;
  explicit wire(int accepted) : fd(accepted) {}
  ~wire() { ::close(fd); }
  wire(const wire&) = delete;
  wire& operator=(const wire&) = delete;

  void fill(std::size_t n) {
    const auto until = clock_type::now() + io_bound;
    char buf[64 * 1024];
    while (in.size() < n) {
      REQUIRE(wait_for(fd, POLLIN, until) == 1);
      const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
      if (got < 0 && errno == EINTR) continue;
      REQUIRE(got > 0);
      in.append(buf, static_cast<std::size_t>(got));
    }
  }
  std::string take(std::size_t n) {
    fill(n);
    std::string out = in.substr(0, n);
    in.erase(0, n);
    return out;
  }
  frame read_frame() {
    fill(2);
    frame f;
    f.flags = static_cast<std::uint8_t>(in[0]);
    std::size_t header = 2, size = static_cast<std::uint8_t>(in[1]);
    if (f.flags & zmtp::flag_long) {
      fill(9);
      header = 9;
      size = static_cast<std::size_t>(zmtp::be64(in.data() + 1));
      REQUIRE(size < (std::size_t{1} << 24));
    }
    f.body = take(header + size).substr(header);
    return f;
  }
  // A command frame's data, after checking its name.
  std::string read_command(std::string_view name) {
    const frame f = read_frame();
    REQUIRE((f.flags & ~zmtp::flag_long) == zmtp::flag_command);
    const auto cmd = zmtp::split_command(f.body);
    REQUIRE(cmd);
    REQUIRE(cmd->name == name);
    return std::string(cmd->data);
  }
  void write_all(std::string_view bytes) const {
    const auto until = clock_type::now() + io_bound;
    while (!bytes.empty()) {
      REQUIRE(wait_for(fd, POLLOUT, until) == 1);
      const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      REQUIRE(n > 0);
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
};

std::string router_metadata() {
  std::string props;
  zmtp::put_property(props, "Socket-Type", "ROUTER");
  return props;
}

std::string property(const std::string& props, std::string_view name) {
  bool broken = true;
  const auto v = zmtp::find_property(props, name, broken);
  REQUIRE_FALSE(broken);
  REQUIRE(v);
  return std::string(*v);
}

// The test's server side of one connection from a libzmq CURVE DEALER, up to the point
// where the DEALER's HELLO has arrived.
struct session {
  z85_keypair server_keys = make_keypair(), client_keys = make_keypair();
  zmq::context_t ctx;
  listener l;
  zmq::socket_t dealer{ctx, zmq::socket_type::dealer};
  std::unique_ptr<wire> w;
  curve_server server{decode(server_keys.sec)};
  std::string hello;  // the HELLO's data as the DEALER sent it

  // `dealer_server_key` is what the DEALER believes the hub's public key is.
  explicit session(std::optional<std::string> dealer_server_key = std::nullopt) {
    dealer.set(zmq::sockopt::linger, 0);
    dealer.set(zmq::sockopt::rcvtimeo, 10'000);
    dealer.set(zmq::sockopt::sndtimeo, 10'000);
    dealer.set(zmq::sockopt::curve_serverkey, dealer_server_key.value_or(server_keys.pub));
    dealer.set(zmq::sockopt::curve_publickey, client_keys.pub);
    dealer.set(zmq::sockopt::curve_secretkey, client_keys.sec);
    dealer.connect(l.endpoint());
    w = std::make_unique<wire>(l.accept_one());
    w->write_all(zmtp::greeting("CURVE", true));
    const auto g = zmtp::check_greeting(w->take(zmtp::greeting_size), "");
    REQUIRE(g.at == zmtp::greeting_check::state::complete);
    REQUIRE(g.mechanism == "CURVE");
    hello = w->read_command("HELLO");
  }
  ~session() { w.reset(); }  // the DEALER closes with linger 0 after this
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // HELLO -> WELCOME, INITIATE -> READY; returns the INITIATE's data.
  std::string handshake() {
    std::string out;
    REQUIRE(server.on_hello(hello, out).empty());
    w->write_all(out);
    std::string initiate = w->read_command("INITIATE");
    out.clear();
    const std::string why = server.on_initiate(initiate, router_metadata(), out);
    INFO(why);
    REQUIRE(why.empty());
    REQUIRE(server.ready());
    w->write_all(out);
    return initiate;
  }

  // The next MESSAGE from the DEALER: its data after the name. libzmq 4.3 sends it as a
  // data frame with neither MORE nor COMMAND; those are inside the box.
  std::string read_message() {
    const frame f = w->read_frame();
    CHECK((f.flags & zmtp::flag_long) == (f.body.size() > 255 ? zmtp::flag_long : 0));
    CHECK((f.flags & ~zmtp::flag_long) == 0);
    const auto cmd = zmtp::split_command(f.body);
    REQUIRE(cmd);
    REQUIRE(cmd->name == "MESSAGE");
    return std::string(cmd->data);
  }
};

// A CURVE client made of libsodium calls, for commands libzmq would never send.
struct sodium_client {
  curve_key server_key{}, pub{}, sec{}, short_pub{}, short_sec{}, server_short{};
  std::string cookie;
  std::uint64_t nonce = 1;

  explicit sodium_client(const curve_key& server_public) : server_key(server_public) {
    crypto_box_keypair(pub.data(), sec.data());
    crypto_box_keypair(short_pub.data(), short_sec.data());
  }
  static std::array<unsigned char, 24> full_nonce(std::string_view prefix, std::string_view rest) {
    REQUIRE(prefix.size() + rest.size() == 24);
    std::array<unsigned char, 24> n{};
    std::memcpy(n.data(), prefix.data(), prefix.size());
    std::memcpy(n.data() + prefix.size(), rest.data(), rest.size());
    return n;
  }
  static std::string box(std::string_view plain, const std::array<unsigned char, 24>& n, const curve_key& to,
                         const curve_key& from_secret) {
    std::string c(plain.size() + crypto_box_MACBYTES, '\0');
    REQUIRE(crypto_box_easy(reinterpret_cast<unsigned char*>(c.data()),
                            reinterpret_cast<const unsigned char*>(plain.data()), plain.size(), n.data(), to.data(),
                            from_secret.data()) == 0);
    return c;
  }
  static std::string open(std::string_view c, const std::array<unsigned char, 24>& n, const curve_key& from,
                          const curve_key& to_secret) {
    REQUIRE(c.size() >= crypto_box_MACBYTES);
    std::string p(c.size() - crypto_box_MACBYTES, '\0');
    REQUIRE(crypto_box_open_easy(reinterpret_cast<unsigned char*>(p.data()),
                                 reinterpret_cast<const unsigned char*>(c.data()), c.size(), n.data(), from.data(),
                                 to_secret.data()) == 0);
    return p;
  }
  std::string next_nonce() {
    std::string be;
    zmtp::put_be64(be, nonce++);
    return be;
  }
  static std::string key_text(const curve_key& k) { return {reinterpret_cast<const char*>(k.data()), k.size()}; }

  std::string hello() {
    const std::string sn = next_nonce();
    return std::string("\x01\x00", 2) + std::string(72, '\0') + key_text(short_pub) + sn +
           box(std::string(64, '\0'), full_nonce("CurveZMQHELLO---", sn), server_key, short_sec);
  }
  // Reads the WELCOME command frame the server appended.
  void welcome(const std::string& frame_bytes) {
    REQUIRE(frame_bytes.size() == 2 + 168);
    REQUIRE(frame_bytes[0] == zmtp::flag_command);
    const auto cmd = zmtp::split_command(std::string_view(frame_bytes).substr(2));
    REQUIRE(cmd);
    REQUIRE(cmd->name == "WELCOME");
    REQUIRE(cmd->data.size() == 160);
    const std::string p = open(cmd->data.substr(16), full_nonce("WELCOME-", cmd->data.substr(0, 16)), server_key,
                               short_sec);
    REQUIRE(p.size() == 128);
    std::memcpy(server_short.data(), p.data(), 32);
    cookie = p.substr(32);
  }
  std::string initiate(std::string_view metadata, const curve_key& vouch_names) {
    std::string vouch_nonce(16, '\0');
    randombytes_buf(vouch_nonce.data(), vouch_nonce.size());
    const std::string vouch = box(key_text(short_pub) + key_text(vouch_names), full_nonce("VOUCH---", vouch_nonce),
                                  server_short, sec);
    const std::string sn = next_nonce();
    const std::string plain = key_text(pub) + vouch_nonce + vouch + std::string(metadata);
    return cookie + sn + box(plain, full_nonce("CurveZMQINITIATE", sn), server_short, short_sec);
  }
  // A server's MESSAGE or READY command frame -> its plaintext.
  std::string open_command(const std::string& frame_bytes, std::string_view name, std::string_view prefix) {
    const std::size_t header = (frame_bytes[0] & zmtp::flag_long) ? 9 : 2;
    const auto cmd = zmtp::split_command(std::string_view(frame_bytes).substr(header));
    REQUIRE(cmd);
    REQUIRE(cmd->name == name);
    return open(cmd->data.substr(8), full_nonce(prefix, cmd->data.substr(0, 8)), server_short, short_sec);
  }
  std::string message(std::uint8_t flags, std::string_view bytes) {
    const std::string sn = next_nonce();
    return sn + box(std::string(1, static_cast<char>(flags)) + std::string(bytes),
                    full_nonce("CurveZMQMESSAGEC", sn), server_short, short_sec);
  }
};

curve_key random_secret() {
  curve_key k{};
  randombytes_buf(k.data(), k.size());
  return k;
}
curve_key public_of(const curve_key& secret) {
  curve_key k{};
  REQUIRE(crypto_scalarmult_base(k.data(), secret.data()) == 0);
  return k;
}

// A server and a libsodium client, welcomed (HELLO -> WELCOME done).
struct welcomed {
  curve_key secret = random_secret();
  curve_server server{secret};
  sodium_client client{public_of(secret)};
  welcomed() {
    std::string out;
    REQUIRE(server.on_hello(client.hello(), out).empty());
    client.welcome(out);
  }
};

}  // namespace

TEST_CASE("curve: a libzmq DEALER completes the handshake, with its own key and metadata", "[curve]") {
  session s;
  const std::string initiate = s.handshake();
  CHECK(s.server.client_key() == decode(s.client_keys.pub));
  CHECK(property(s.server.client_metadata(), "Socket-Type") == "DEALER");
  // libzmq's INITIATE box also holds the DEALER's (empty) Identity.
  CHECK(initiate.size() == 96 + 8 + 16 + 128 + s.server.client_metadata().size());
}

TEST_CASE("curve: MESSAGE boxes both ways with a libzmq DEALER, long frames included", "[curve]") {
  session s;
  s.handshake();

  std::string big(70'000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 251);
  const std::vector<std::string> sent = {"alpha", big, "omega"};
  std::vector<zmq::const_buffer> parts;
  for (const auto& f : sent) parts.push_back(zmq::buffer(f));
  REQUIRE(zmq::send_multipart(s.dealer, parts));
  for (std::size_t i = 0; i < sent.size(); ++i) {
    std::uint8_t flags = 0xFF;
    std::string plain;
    const std::string why = s.server.open(s.read_message(), flags, plain);
    INFO(why);
    REQUIRE(why.empty());
    CHECK(flags == (i + 1 < sent.size() ? 0x01 : 0x00));
    CHECK(plain == sent[i]);
  }

  // 300 bytes needs the 8-byte frame size; the empty frame the smallest box.
  const std::vector<std::string> reply = {std::string(300, 'r'), ""};
  std::string out;
  s.server.seal(0x01, reply[0], out);
  CHECK(out.size() == curve_server::sealed_size(reply[0].size()));
  CHECK(static_cast<std::uint8_t>(out[0]) == zmtp::flag_long);
  const std::size_t first = out.size();
  s.server.seal(0x00, reply[1], out);
  CHECK(out.size() - first == curve_server::sealed_size(0));
  CHECK(curve_server::sealed_size(0) == 2 + 8 + 8 + 16 + 1);
  s.w->write_all(out);
  std::vector<zmq::message_t> got;
  REQUIRE(zmq::recv_multipart(s.dealer, std::back_inserter(got)));
  REQUIRE(got.size() == reply.size());
  CHECK(got[0].to_string() == reply[0]);
  CHECK(got[1].to_string() == reply[1]);

  // And again after that, both ways: the nonces go on counting.
  REQUIRE(s.dealer.send(zmq::str_buffer("again"), zmq::send_flags::none));
  std::uint8_t flags = 0xFF;
  std::string plain;
  REQUIRE(s.server.open(s.read_message(), flags, plain).empty());
  CHECK(flags == 0);
  CHECK(plain == "again");
  out.clear();
  s.server.seal(0x00, "back", out);
  s.w->write_all(out);
  zmq::message_t m;
  REQUIRE(s.dealer.recv(m));
  CHECK(m.to_string() == "back");
}

TEST_CASE("curve: a replayed or altered MESSAGE is refused and spends no nonce", "[curve]") {
  session s;
  s.handshake();
  REQUIRE(s.dealer.send(zmq::str_buffer("one"), zmq::send_flags::none));
  REQUIRE(s.dealer.send(zmq::str_buffer("two"), zmq::send_flags::none));
  const std::string one = s.read_message(), two = s.read_message();

  std::uint8_t flags = 0;
  std::string plain;
  REQUIRE(s.server.open(one, flags, plain).empty());
  CHECK(plain == "one");
  CHECK(s.server.open(one, flags, plain) == "a MESSAGE whose nonce does not increase (replay)");

  // Each byte of `two` flipped in turn: a nonce that goes down is a replay, any other
  // change a box that does not open.
  for (std::size_t i = 0; i < two.size(); ++i) {
    std::string bad = two;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    const std::string why = s.server.open(bad, flags, plain);
    INFO("byte " << i);
    CHECK(!why.empty());
    if (i >= 8) CHECK(why == "a MESSAGE box that does not open");
  }
  plain.clear();
  REQUIRE(s.server.open(two, flags, plain).empty());
  CHECK(plain == "two");
  CHECK(!s.server.open(two, flags, plain).empty());
}

TEST_CASE("curve: a DEALER with another server key is refused at HELLO", "[curve]") {
  const z85_keypair other = make_keypair();
  session s(other.pub);
  std::string out;
  const std::string why = s.server.on_hello(s.hello, out);
  CHECK(why == "its HELLO signature box does not open: the client does not have the hub's public key");
  CHECK(out.empty());
  CHECK_FALSE(s.server.ready());
}

TEST_CASE("curve: HELLO and INITIATE from libzmq, cut at every length, are refused without harm", "[curve]") {
  session s;
  REQUIRE(s.hello.size() == 194);
  for (std::size_t n = 0; n < 250; ++n) {
    if (n == s.hello.size()) continue;
    curve_server fresh(decode(s.server_keys.sec));
    std::string out, bytes = s.hello.substr(0, n);
    bytes.resize(n, '\0');
    CHECK(!fresh.on_hello(bytes, out).empty());
    CHECK(out.empty());
  }
  std::string out;
  REQUIRE(s.server.on_hello(s.hello, out).empty());
  s.w->write_all(out);
  const std::string initiate = s.w->read_command("INITIATE");
  for (std::size_t n = 0; n < initiate.size(); ++n) {
    out.clear();
    CHECK(!s.server.on_initiate(std::string_view(initiate).substr(0, n), router_metadata(), out).empty());
    CHECK(out.empty());
  }
  out.clear();
  REQUIRE(s.server.on_initiate(initiate, router_metadata(), out).empty());
  s.w->write_all(out);
  REQUIRE(s.dealer.send(zmq::str_buffer("still fine"), zmq::send_flags::none));
  std::uint8_t flags = 0;
  std::string plain;
  REQUIRE(s.server.open(s.read_message(), flags, plain).empty());
  CHECK(plain == "still fine");
}

TEST_CASE("curve: broken HELLOs are refused with a reason", "[curve]") {
  const curve_key secret = random_secret();
  sodium_client client(public_of(secret));
  const std::string hello = client.hello();
  REQUIRE(hello.size() == 194);
  for (std::size_t n = 0; n <= 201; ++n) {
    if (n == hello.size()) continue;
    curve_server server(secret);
    std::string out;
    std::string bytes = hello.substr(0, n);
    bytes.resize(n, '\x5A');
    const std::string why = server.on_hello(bytes, out);
    INFO(n);
    CHECK(why.rfind("HELLO is not 200 bytes", 0) == 0);
    CHECK(out.empty());
  }
  {
    curve_server server(secret);
    std::string out, bad = hello;
    bad[0] = 2;
    CHECK(server.on_hello(bad, out) == "HELLO asks for CurveZMQ 2.0; the hub speaks 1.0");
    bad = hello;
    bad.replace(74, 32, 32, '\0');  // C' of zeros: no key
    CHECK(server.on_hello(bad, out).find("does not open") != std::string::npos);
    CHECK(server.on_hello(std::string(194, '\0'), out) != "");
    CHECK(out.empty());
  }
  // Any flipped byte outside the padding (which RFC 26 leaves unchecked) is refused. (Not
  // bit 0x80 of the last byte of C': X25519 ignores that bit, the key stays the same.)
  for (std::size_t i = 0; i < hello.size(); ++i) {
    if (i >= 2 && i < 74) continue;
    curve_server server(secret);
    std::string out, bad = hello;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    INFO("byte " << i);
    CHECK(!server.on_hello(bad, out).empty());
  }
  // A second HELLO after WELCOME.
  curve_server server(secret);
  std::string out;
  REQUIRE(server.on_hello(hello, out).empty());
  CHECK(server.on_hello(hello, out) == "a command out of order: a second HELLO");
}

TEST_CASE("curve: commands out of order are refused", "[curve]") {
  const curve_key secret = random_secret();
  curve_server server(secret);
  std::string out, plain;
  std::uint8_t flags = 0;
  CHECK(server.on_initiate(std::string(300, 'i'), router_metadata(), out) ==
        "a command out of order: INITIATE before HELLO");
  CHECK(server.open(std::string(100, 'm'), flags, plain) == "a command out of order: MESSAGE before READY");
  CHECK(server.open("", flags, plain) == "a command out of order: MESSAGE before READY");
  CHECK_THROWS_AS(server.seal(0, "x", out), std::logic_error);
  CHECK(out.empty());

  welcomed w;
  CHECK(w.server.open(std::string(100, 'm'), flags, plain) == "a command out of order: MESSAGE before READY");
  REQUIRE(w.server.on_initiate(w.client.initiate(router_metadata(), w.client.server_key), "", out).empty());
  CHECK(w.server.on_initiate(w.client.initiate(router_metadata(), w.client.server_key), "", out) ==
        "a command out of order: a second INITIATE");
  CHECK(w.server.on_hello(w.client.hello(), out) == "a command out of order: a second HELLO");
}

TEST_CASE("curve: broken INITIATEs are refused with a reason", "[curve]") {
  SECTION("garbage of every size up to 600 bytes") {
    welcomed w;
    std::string garbage(600, '\0');
    randombytes_buf(garbage.data(), garbage.size());
    for (std::size_t n = 0; n <= garbage.size(); ++n) {
      std::string out;
      INFO(n);
      CHECK(!w.server.on_initiate(std::string_view(garbage).substr(0, n), router_metadata(), out).empty());
      CHECK(out.empty());
    }
    CHECK_FALSE(w.server.ready());
  }
  SECTION("a good INITIATE cut at every length or with any byte flipped") {
    welcomed w;
    std::string props;
    zmtp::put_property(props, "Socket-Type", "DEALER");
    const std::string initiate = w.client.initiate(props, w.client.server_key);
    std::string out;
    for (std::size_t n = 0; n < initiate.size(); ++n)
      CHECK(!w.server.on_initiate(std::string_view(initiate).substr(0, n), "", out).empty());
    for (std::size_t i = 0; i < initiate.size(); ++i) {
      std::string bad = initiate;
      bad[i] = static_cast<char>(bad[i] ^ 0x04);
      INFO("byte " << i);
      CHECK(!w.server.on_initiate(bad, "", out).empty());
    }
    CHECK(w.server.on_initiate(initiate + "x", "", out) == "its INITIATE box does not open");
    CHECK(out.empty());
    REQUIRE(w.server.on_initiate(initiate, router_metadata(), out).empty());
    CHECK(w.server.client_key() == w.client.pub);
    CHECK(w.server.client_metadata() == props);
    CHECK(w.client.open_command(out, "READY", "CurveZMQREADY---") == router_metadata());
  }
  SECTION("a cookie from another connection") {
    welcomed a, b;
    // b's client sends its INITIATE, with b's cookie, to a's server.
    std::string out;
    CHECK(a.server.on_initiate(b.client.initiate("", b.client.server_key), "", out) == "a cookie that is not ours");
    CHECK(out.empty());
  }
  SECTION("a vouch that names another server") {
    welcomed w;
    std::string out;
    CHECK(w.server.on_initiate(w.client.initiate("", public_of(random_secret())), "", out) ==
          "INITIATE vouch does not name this server");
    CHECK(out.empty());
  }
  SECTION("metadata that does not parse") {
    welcomed w;
    std::string props;
    zmtp::put_property(props, "Socket-Type", "DEALER");
    props.pop_back();  // the value is one byte short of its size
    std::string out;
    CHECK(w.server.on_initiate(w.client.initiate(props, w.client.server_key), "", out) ==
          "its INITIATE metadata does not parse");
    CHECK(w.server.on_initiate(w.client.initiate("\x05", w.client.server_key), "", out) ==
          "its INITIATE metadata does not parse");
    CHECK(out.empty());
    CHECK_FALSE(w.server.ready());
  }
}

TEST_CASE("curve: MESSAGE data cut at every length is refused, and seal and open agree", "[curve]") {
  welcomed w;
  std::string out;
  REQUIRE(w.server.on_initiate(w.client.initiate("", w.client.server_key), router_metadata(), out).empty());
  // READY went out with nonce 1; the server's MESSAGEs count on from 2.
  const auto ready = zmtp::split_command(std::string_view(out).substr(2));
  REQUIRE(ready);
  CHECK(zmtp::be64(ready->data.data()) == 1);

  const std::string msg = w.client.message(0x02, std::string_view("\x04PING", 5));
  std::uint8_t flags = 0;
  std::string plain;
  for (std::size_t n = 0; n < msg.size(); ++n) {
    INFO(n);
    CHECK(!w.server.open(std::string_view(msg).substr(0, n), flags, plain).empty());
  }
  REQUIRE(w.server.open(msg, flags, plain).empty());
  CHECK(flags == 0x02);
  CHECK(plain == "\x04PING");
  CHECK(w.server.open(std::string_view(msg).substr(0, 8), flags, plain).rfind("a MESSAGE of 16 bytes", 0) == 0);

  for (std::uint8_t f : {std::uint8_t{0x00}, std::uint8_t{0x01}, std::uint8_t{0x02}}) {
    out.clear();
    const std::string body(static_cast<std::size_t>(f) * 200, 'b');
    w.server.seal(f, body, out);
    REQUIRE(out.size() == curve_server::sealed_size(body.size()));
    CHECK((static_cast<std::uint8_t>(out[0]) & ~zmtp::flag_long) == 0);
    const auto cmd = zmtp::split_command(std::string_view(out).substr((out[0] & zmtp::flag_long) ? 9 : 2));
    REQUIRE(cmd);
    CHECK(zmtp::be64(cmd->data.data()) == 2u + f);
    const std::string p = w.client.open_command(out, "MESSAGE", "CurveZMQMESSAGES");
    REQUIRE(!p.empty());
    CHECK(static_cast<std::uint8_t>(p[0]) == f);
    CHECK(p.substr(1) == body);
  }
}
