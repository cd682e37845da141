// Speaks docs/protocol.md with raw cppzmq sockets only: every command, every reply, and
// every kind of bad input, each followed by proof that the hub still serves.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "schemas/schema.h"
#include "tests/support/hubd_process.h"

using namespace std::chrono_literals;
using frames = std::vector<std::string>;

namespace {

std::string u64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}
std::uint64_t as_u64(const std::string& s) {
  REQUIRE(s.size() == 8);
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[static_cast<std::size_t>(i)]);
  return v;
}
std::uint16_t as_u16(const std::string& s) {
  REQUIRE(s.size() == 2);
  return static_cast<std::uint16_t>(static_cast<unsigned char>(s[0]) | (static_cast<unsigned char>(s[1]) << 8));
}
std::uint16_t code(hub::schema::Reason r) { return static_cast<std::uint16_t>(r); }

std::uint64_t id_counter = 1;

// An envelope as any client would build it with flatc-generated code.
std::string envelope(const std::string& country = "SSD", bool with_id = true,
                     hub::schema::Entity entity = hub::schema::Entity::peacekeeping) {
  flatbuffers::FlatBufferBuilder fbb;
  hub::schema::Id128 id(0x0190000000007000ULL, id_counter++);
  auto payload = hub::schema::CreateMandateActivityDirect(fbb, "A-1", "patrol", "UNMISS");
  auto source = fbb.CreateString("raw-client");
  auto c = fbb.CreateString(country);
  hub::schema::EnvelopeBuilder b(fbb);
  if (with_id) b.add_id(&id);
  b.add_source_system(source);
  b.add_entity(entity);
  b.add_country(c);
  b.add_payload_type(hub::schema::Payload::MandateActivity);
  b.add_payload(payload.Union());
  hub::schema::FinishEnvelopeBuffer(fbb, b.Finish());
  return {reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize()};
}

class raw_client {
 public:
  raw_client(zmq::context_t& ctx, const std::string& endpoint, zmq::socket_type type = zmq::socket_type::dealer)
      : s_(ctx, type) {
    s_.set(zmq::sockopt::linger, 0);
    s_.connect(endpoint);
  }
  void send(const frames& f) {
    for (std::size_t i = 0; i < f.size(); ++i)
      s_.send(zmq::buffer(f[i]), i + 1 < f.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  std::optional<frames> recv(std::chrono::milliseconds wait = 5s) {
    zmq::pollitem_t item{s_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, wait);
    std::vector<zmq::message_t> msg;
    if (!zmq::recv_multipart(s_, std::back_inserter(msg), zmq::recv_flags::dontwait)) return std::nullopt;
    frames out;
    for (auto& m : msg) out.emplace_back(m.to_string());
    return out;
  }
  // The next message, which must exist.
  frames next(std::chrono::milliseconds wait = 5s) {
    auto m = recv(wait);
    REQUIRE(m.has_value());
    REQUIRE_FALSE(m->empty());
    return *m;
  }
  zmq::socket_t& socket() { return s_; }

 private:
  zmq::socket_t s_;
};

// The hub still answers this client and a brand-new one.
void hub_still_serves(zmq::context_t& ctx, raw_client& c, const std::string& endpoint) {
  c.send({"PING"});
  auto pong = c.next();
  CHECK(pong[0] == "PONG");
  raw_client fresh(ctx, endpoint);
  fresh.send({"PUB", u64(1), envelope()});
  auto ack = fresh.next();
  REQUIRE(ack[0] == "ACK");
  REQUIRE(ack.size() == 2);
  CHECK(ack[1].size() == 16);
  CHECK(as_u64(ack[1].substr(0, 8)) == 1);
}

void expect_err(raw_client& c, hub::schema::Reason reason, std::optional<std::uint64_t> ref = std::nullopt) {
  auto m = c.next();
  INFO("reply: " << m[0] << (m.size() > 2 ? " " + m[2] : std::string()));
  REQUIRE(m[0] == "ERR");
  REQUIRE(m.size() == 4);
  CHECK(as_u16(m[1]) == code(reason));
  CHECK_FALSE(m[2].empty());
  if (ref) CHECK(as_u64(m[3]) == *ref);
}

void expect_nak(raw_client& c, std::uint64_t seq, hub::schema::Reason reason) {
  auto m = c.next();
  INFO("reply: " << m[0] << (m.size() > 3 ? " " + m[3] : std::string()));
  REQUIRE(m[0] == "NAK");
  REQUIRE(m.size() == 4);
  CHECK(as_u64(m[1]) == seq);
  CHECK(as_u16(m[2]) == code(reason));
  CHECK_FALSE(m[3].empty());
}

// A malformed-frames reply may be NAK (when the seq could be read) or ERR.
void expect_malformed(raw_client& c) {
  auto m = c.next();
  INFO("reply: " << m[0]);
  REQUIRE((m[0] == "NAK" || m[0] == "ERR"));
  REQUIRE(m.size() == 4);
  CHECK(as_u16(m[m[0] == "NAK" ? 2 : 1]) == code(hub::schema::Reason::malformed_frames));
}

// Publishes n events and returns their offsets, in order.
std::vector<std::uint64_t> publish(raw_client& c, int n, std::vector<std::string>* sent = nullptr) {
  std::map<std::uint64_t, std::uint64_t> by_seq;
  for (int i = 0; i < n; ++i) {
    auto env = envelope();
    if (sent) sent->push_back(env);
    c.send({"PUB", u64(static_cast<std::uint64_t>(1000 + i)), env});
  }
  while (by_seq.size() < static_cast<std::size_t>(n)) {
    auto m = c.next();
    REQUIRE(m[0] == "ACK");
    REQUIRE(m[1].size() % 16 == 0);
    for (std::size_t i = 0; i < m[1].size(); i += 16) by_seq[as_u64(m[1].substr(i, 8))] = as_u64(m[1].substr(i + 8, 8));
  }
  std::vector<std::uint64_t> out;
  for (auto& [seq, off] : by_seq) out.push_back(off);
  return out;
}

}  // namespace

TEST_CASE("HELLO is answered with WELCOME, and PING with PONG carrying the same hub id", "[protocol]") {
  hub::test::hubd_process hub;
  zmq::context_t ctx;
  raw_client c(ctx, hub.endpoint());
  c.send({"HELLO", "1", "raw-protocol-test"});
  auto w = c.next();
  REQUIRE(w[0] == "WELCOME");
  REQUIRE(w.size() == 4);
  CHECK(w[1] == "1");
  CHECK_FALSE(w[2].empty());
  CHECK(as_u64(w[3]) == 1048576);
  c.send({"PING"});
  auto p = c.next();
  REQUIRE(p[0] == "PONG");
  REQUIRE(p.size() == 2);
  CHECK(p[1] == w[2]);
}

TEST_CASE("PUB is acknowledged with seq and offset, and a resent id gets the stored offset", "[protocol]") {
  hub::test::hubd_process hub;
  zmq::context_t ctx;
  raw_client c(ctx, hub.endpoint());
  auto offsets = publish(c, 3);
  REQUIRE(offsets.size() == 3);
  CHECK(offsets[1] == offsets[0] + 1);
  CHECK(offsets[2] == offsets[1] + 1);

  auto env = envelope();
  c.send({"PUB", u64(7), env});
  auto a = c.next();
  REQUIRE(a[0] == "ACK");
  auto first = as_u64(a[1].substr(8, 8));
  c.send({"PUB", u64(8), env});
  auto b = c.next();
  REQUIRE(b[0] == "ACK");
  CHECK(as_u64(b[1].substr(0, 8)) == 8);
  CHECK(as_u64(b[1].substr(8, 8)) == first);
  // The resend is named in the ACK's duplicates frame; the first PUB was not.
  CHECK(a.size() == 2);
  REQUIRE(b.size() == 3);
  CHECK(as_u64(b[2]) == 8);
}

TEST_CASE("SUB delivers EVT frames no further than the credit, and CREDIT grants more", "[protocol]") {
  hub::test::hubd_process hub;
  zmq::context_t ctx;
  raw_client pub(ctx, hub.endpoint());
  std::vector<std::string> sent;
  auto offsets = publish(pub, 6, &sent);

  raw_client c(ctx, hub.endpoint());
  c.send({"SUB", u64(5), ">", "earliest", u64(0), "", u64(2)});
  auto ok = c.next();
  REQUIRE(ok[0] == "SUBOK");
  CHECK(as_u64(ok[1]) == 5);
  CHECK(as_u64(ok[2]) == 0);
  for (int i = 0; i < 2; ++i) {
    auto e = c.next();
    REQUIRE(e[0] == "EVT");
    REQUIRE(e.size() == 5);
    CHECK(as_u64(e[1]) == 5);
    CHECK(as_u64(e[2]) == offsets[static_cast<std::size_t>(i)]);
    CHECK(e[3] == "peacekeeping.SSD.mandate_activity");
    CHECK(e[4] == sent[static_cast<std::size_t>(i)]);
  }
  CHECK_FALSE(c.recv(300ms));  // credit used up
  c.send({"CREDIT", u64(5), u64(3)});
  for (int i = 2; i < 5; ++i) {
    auto e = c.next();
    REQUIRE(e[0] == "EVT");
    CHECK(as_u64(e[2]) == offsets[static_cast<std::size_t>(i)]);
  }
  CHECK_FALSE(c.recv(300ms));
}

TEST_CASE("a subscriber with little credit never gets more while another runs at full speed", "[protocol]") {
  hub::test::hubd_process hub;
  zmq::context_t ctx;
  raw_client slow(ctx, hub.endpoint());
  raw_client fast(ctx, hub.endpoint());
  slow.send({"SUB", u64(1), ">", "new", u64(0), "", u64(3)});
  fast.send({"SUB", u64(1), ">", "new", u64(0), "", u64(100000)});
  REQUIRE(slow.next()[0] == "SUBOK");
  REQUIRE(fast.next()[0] == "SUBOK");
  raw_client pub(ctx, hub.endpoint());
  publish(pub, 300);
  int fast_got = 0;
  while (fast_got < 300) {
    auto e = fast.next();
    REQUIRE(e[0] == "EVT");
    ++fast_got;
  }
  int slow_got = 0;
  while (auto e = slow.recv(300ms)) {
    REQUIRE((*e)[0] == "EVT");
    ++slow_got;
  }
  CHECK(slow_got == 3);
}

TEST_CASE("COMMIT stores a durable offset that a new SUB with the same name resumes from", "[protocol]") {
  hub::test::hubd_process hub;
  zmq::context_t ctx;
  raw_client pub(ctx, hub.endpoint());
  auto offsets = publish(pub, 5);
  {
    raw_client c(ctx, hub.endpoint());
    c.send({"SUB", u64(1), ">", "earliest", u64(0), "desk", u64(10)});
    REQUIRE(c.next()[0] == "SUBOK");
    for (int i = 0; i < 5; ++i) REQUIRE(c.next()[0] == "EVT");
    c.send({"COMMIT", u64(1), u64(offsets[2] + 1)});
    auto ok = c.next();
    REQUIRE(ok[0] == "COMMITOK");
    CHECK(as_u64(ok[1]) == 1);
    CHECK(as_u64(ok[2]) == offsets[2] + 1);
    c.send({"UNSUB", u64(1)});
    auto un = c.next();
    REQUIRE(un[0] == "UNSUBOK");
    CHECK(as_u64(un[1]) == 1);
    c.send({"BYE"});
  }
  raw_client again(ctx, hub.endpoint());
  again.send({"SUB", u64(9), ">", "earliest", u64(0), "desk", u64(10)});
  auto ok = again.next();
  REQUIRE(ok[0] == "SUBOK");
  CHECK(as_u64(ok[2]) == offsets[3]);
  auto e = again.next();
  REQUIRE(e[0] == "EVT");
  CHECK(as_u64(e[2]) == offsets[3]);
}

TEST_CASE("UNSUB ends delivery", "[protocol]") {
  hub::test::hubd_process hub;
  zmq::context_t ctx;
  raw_client c(ctx, hub.endpoint());
  c.send({"SUB", u64(3), ">", "new", u64(0), "", u64(100)});
  REQUIRE(c.next()[0] == "SUBOK");
  c.send({"UNSUB", u64(3)});
  REQUIRE(c.next()[0] == "UNSUBOK");
  raw_client pub(ctx, hub.endpoint());
  publish(pub, 3);
  CHECK_FALSE(c.recv(300ms));
}

TEST_CASE("STATUS returns the documented JSON fields", "[protocol]") {
  hub::test::hubd_process hub;
  zmq::context_t ctx;
  raw_client c(ctx, hub.endpoint());
  c.send({"STATUS"});
  auto m = c.next();
  REQUIRE(m[0] == "STATUS");
  REQUIRE(m.size() == 2);
  auto j = nlohmann::json::parse(m[1]);
  for (const char* k : {"hub_id", "version", "uptime_s", "store", "counters", "clients", "subscriptions"})
    CHECK(j.contains(k));
  for (const char* k : {"kind", "begin", "end", "durable_end", "records", "bytes", "writable"})
    CHECK(j["store"].contains(k));
  for (const char* k : {"events_in", "events_out", "duplicates", "naks", "errs", "mirror_dropped"})
    CHECK(j["counters"].contains(k));
}

TEST_CASE("the mirror sends topic and envelope of stored events to a plain SUB socket", "[protocol][mirror]") {
  hub::test::hubd_process hub;
  REQUIRE_FALSE(hub.mirror_endpoint().empty());
  zmq::context_t ctx;
  raw_client mirror(ctx, hub.mirror_endpoint(), zmq::socket_type::sub);
  mirror.socket().set(zmq::sockopt::subscribe, "peacekeeping.");
  raw_client pub(ctx, hub.endpoint());
  // The subscription reaches the XPUB asynchronously: publish until one comes through.
  std::optional<frames> got;
  for (int i = 0; i < 50 && !got; ++i) {
    publish(pub, 1);
    got = mirror.recv(100ms);
  }
  REQUIRE(got);
  REQUIRE(got->size() == 2);
  CHECK((*got)[0] == "peacekeeping.SSD.mandate_activity");
  CHECK(hub::schema::EnvelopeBufferHasIdentifier((*got)[1].data()));
}

TEST_CASE("every kind of bad input gets its reason code and the hub goes on", "[protocol][bad-input]") {
  hub::test::hubd_process hub;
  zmq::context_t ctx;
  raw_client c(ctx, hub.endpoint());
  using R = hub::schema::Reason;

  SECTION("a truncated envelope") {
    auto env = envelope();
    c.send({"PUB", u64(1), env.substr(0, env.size() / 2)});
    expect_nak(c, 1, R::malformed_envelope);
  }
  SECTION("garbage behind a correct identifier") {
    std::string junk(64, '\x7f');
    junk.replace(4, 4, "HUBE");
    c.send({"PUB", u64(2), junk});
    expect_nak(c, 2, R::malformed_envelope);
  }
  SECTION("a wrong file identifier") {
    auto env = envelope();
    env.replace(4, 4, "XXXX");
    c.send({"PUB", u64(3), env});
    expect_nak(c, 3, R::wrong_identifier);
  }
  SECTION("an envelope larger than the limit") {
    std::string big(1048577, '\0');
    big.replace(4, 4, "HUBE");
    c.send({"PUB", u64(4), big});
    expect_nak(c, 4, R::too_large);
  }
  SECTION("an envelope without an id") {
    c.send({"PUB", u64(5), envelope("SSD", false)});
    expect_nak(c, 5, R::missing_field);
  }
  SECTION("a country that is not three capitals") {
    c.send({"PUB", u64(6), envelope("South Sudan")});
    expect_nak(c, 6, R::bad_field);
  }
  SECTION("an unknown command") {
    c.send({"SHOUT", "hello"});
    expect_err(c, R::unknown_command, 0);
  }
  SECTION("an empty command frame") {
    c.send({""});
    expect_err(c, R::unknown_command, 0);
  }
  SECTION("PUB without its envelope") {
    c.send({"PUB", u64(7)});
    expect_malformed(c);
  }
  SECTION("SUB with too few frames") {
    c.send({"SUB", u64(1), ">"});
    expect_malformed(c);
  }
  SECTION("a number frame of the wrong size") {
    c.send({"PUB", std::string(4, '\1'), envelope()});
    expect_malformed(c);
  }
  SECTION("CREDIT with a 2-byte count") {
    c.send({"CREDIT", u64(1), std::string(2, '\1')});
    expect_malformed(c);
  }
  SECTION("SUB with a bad pattern") {
    c.send({"SUB", u64(11), "peacekeeping..SSD", "new", u64(0), "", u64(10)});
    expect_err(c, R::bad_pattern, 11);
  }
  SECTION("SUB with > in the middle") {
    c.send({"SUB", u64(12), "a.>.b", "new", u64(0), "", u64(10)});
    expect_err(c, R::bad_pattern, 12);
  }
  SECTION("SUB with an unknown start") {
    c.send({"SUB", u64(13), ">", "yesterday", u64(0), "", u64(10)});
    expect_err(c, R::bad_start, 13);
  }
  SECTION("a sub-id used twice") {
    c.send({"SUB", u64(14), ">", "new", u64(0), "", u64(10)});
    REQUIRE(c.next()[0] == "SUBOK");
    c.send({"SUB", u64(14), ">", "new", u64(0), "", u64(10)});
    expect_err(c, R::duplicate_subscription, 14);
  }
  SECTION("CREDIT for an unknown subscription") {
    c.send({"CREDIT", u64(99), u64(10)});
    expect_err(c, R::unknown_subscription, 99);
  }
  SECTION("COMMIT for an unknown subscription") {
    c.send({"COMMIT", u64(98), u64(1)});
    expect_err(c, R::unknown_subscription, 98);
  }
  SECTION("UNSUB for an unknown subscription") {
    c.send({"UNSUB", u64(97)});
    expect_err(c, R::unknown_subscription, 97);
  }
  SECTION("HELLO with a protocol version the hub does not speak") {
    c.send({"HELLO", "99", "future-client"});
    expect_err(c, R::protocol_version, 0);
  }
  hub_still_serves(ctx, c, hub.endpoint());
}
