// Speaks docs/protocol.md with raw cppzmq sockets only: every command, every reply, and
// every kind of bad input, each followed by proof that the hub still serves.
#include <chrono>
#include <fstream>
#include <map>
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

// The hub's counters, from STATUS on this client (after every reply it owes it).
nlohmann::json counters_of(raw_client& c) {
  c.send({"STATUS"});
  auto m = c.next();
  REQUIRE(m[0] == "STATUS");
  REQUIRE(m.size() == 2);
  return nlohmann::json::parse(m[1]).at("counters");
}

std::uint64_t count_of(const nlohmann::json& counters, const char* family, hub::schema::Reason r) {
  const auto& f = counters.at(family);
  const char* name = hub::schema::EnumNameReason(r);
  return f.contains(name) ? f.at(name).get<std::uint64_t>() : 0;
}

std::uint64_t total_of(const nlohmann::json& counters) {
  std::uint64_t n = 0;
  for (const char* family : {"naks", "errs"})
    for (const auto& [reason, v] : counters.at(family).items()) n += v.get<std::uint64_t>();
  return n;
}

// Since `before`, the hub counted exactly one refusal: one `family` ("naks" or "errs")
// for `reason`.
void expect_counted(raw_client& c, const nlohmann::json& before, const char* family, hub::schema::Reason reason) {
  auto after = counters_of(c);
  INFO("counters before: " << before.dump() << "\nafter: " << after.dump());
  CHECK(count_of(after, family, reason) == count_of(before, family, reason) + 1);
  CHECK(total_of(after) == total_of(before) + 1);
}

// The mirror's connected readers, from STATUS.
int mirror_readers(raw_client& c) {
  c.send({"STATUS"});
  auto m = c.next();
  REQUIRE(m[0] == "STATUS");
  return nlohmann::json::parse(m[1]).at("mirror_readers").get<int>();
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
  // Before HELLO the hub holds no session for this client, and its PONG says so.
  c.send({"PING"});
  auto before = c.next();
  REQUIRE(before[0] == "PONG");
  REQUIRE(before.size() == 3);
  CHECK(before[2] == "0");
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
  REQUIRE(p.size() == 3);
  CHECK(p[1] == w[2]);
  CHECK(p[2] == "1");
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

TEST_CASE("SUB with a batch frame gets EVTS messages of at most that many events, within the credit",
          "[protocol][evts]") {
  hub::test::hubd_process hub;
  zmq::context_t ctx;
  raw_client pub(ctx, hub.endpoint());
  std::vector<std::string> sent;
  auto offsets = publish(pub, 12, &sent);

  // Decodes an EVTS events frame as docs/protocol.md lays it out.
  struct evt {
    std::uint64_t offset;
    std::string topic, envelope, signature;
  };
  auto decode = [](const std::string& f) {
    std::vector<evt> out;
    std::size_t at = 0;
    while (at < f.size()) {
      REQUIRE(at % 8 == 0);
      REQUIRE(f.size() - at >= 16);
      evt e;
      e.offset = as_u64(f.substr(at, 8));
      std::size_t env = 0;
      for (int i = 3; i >= 0; --i) env = (env << 8) | static_cast<unsigned char>(f[at + 8 + static_cast<std::size_t>(i)]);
      const std::size_t topic = as_u16(f.substr(at + 12, 2)), sig = as_u16(f.substr(at + 14, 2));
      const std::size_t len = (16 + env + sig + topic + 7) / 8 * 8;
      REQUIRE(f.size() - at >= len);
      e.envelope = f.substr(at + 16, env);
      e.signature = f.substr(at + 16 + env, sig);
      e.topic = f.substr(at + 16 + env + sig, topic);
      CHECK(f.substr(at + 16 + env + sig + topic, len - 16 - env - sig - topic).find_first_not_of('\0') ==
            std::string::npos);  // zero padding
      out.push_back(e);
      at += len;
    }
    return out;
  };

  raw_client c(ctx, hub.endpoint());
  c.send({"SUB", u64(5), ">", "earliest", u64(0), "", u64(7), u64(3)});  // credit 7, batches of 3
  auto ok = c.next();
  REQUIRE(ok[0] == "SUBOK");
  std::vector<evt> got;
  std::vector<std::size_t> sizes;
  while (got.size() < 7) {
    auto m = c.next();
    REQUIRE(m[0] == "EVTS");
    REQUIRE(m.size() == 3);
    CHECK(as_u64(m[1]) == 5);
    auto part = decode(m[2]);
    sizes.push_back(part.size());
    CHECK(part.size() >= 1);
    CHECK(part.size() <= 3);
    got.insert(got.end(), part.begin(), part.end());
  }
  REQUIRE(got.size() == 7);  // never beyond the credit
  CHECK_FALSE(c.recv(300ms));
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].offset == offsets[i]);
    CHECK(got[i].topic == "peacekeeping.SSD.mandate_activity");
    CHECK(got[i].envelope == sent[i]);
    CHECK(got[i].signature.empty());
  }
  c.send({"CREDIT", u64(5), u64(100)});
  std::size_t more = 0;
  while (got.size() + more < 12) {
    auto m = c.next();
    REQUIRE(m[0] == "EVTS");
    auto part = decode(m[2]);
    CHECK(part.size() <= 3);
    for (auto& e : part) CHECK(e.offset == offsets[got.size() + more++]);
  }
  CHECK_FALSE(c.recv(300ms));
  // STATUS shows what the subscription asked for.
  c.send({"STATUS"});
  auto st = c.next();
  REQUIRE(st[0] == "STATUS");
  auto subs = nlohmann::json::parse(st[1])["subscriptions"];
  REQUIRE(subs.size() == 1);
  CHECK(subs[0]["batch"] == 3);
  CHECK(subs[0]["credit"] == 95);

  // A batch frame that is not an 8-byte number is refused; the hub goes on.
  c.send({"SUB", u64(6), ">", "earliest", u64(0), "", u64(7), "3"});
  auto e = c.next();
  REQUIRE(e[0] == "ERR");
  CHECK(as_u16(e[1]) == code(hub::schema::Reason::malformed_frames));
  c.send({"PING"});
  CHECK(c.next()[0] == "PONG");
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

TEST_CASE("STATUS counts the mirror's readers, and a mirror peer speaking nonsense is closed", "[protocol][mirror]") {
  hub::test::hubd_process hub;
  zmq::context_t ctx;
  raw_client c(ctx, hub.endpoint());
  auto readers = [&] { return mirror_readers(c); };
  CHECK(readers() == 0);
  {
    raw_client a(ctx, hub.mirror_endpoint(), zmq::socket_type::sub);
    raw_client b(ctx, hub.mirror_endpoint(), zmq::socket_type::xsub);
    CHECK(hub::test::wait_for([&] { return readers() == 2; }));
    // Bytes that are not ZMTP, as a port scanner or a browser would send.
    zmq::socket_t garbage(ctx, zmq::socket_type::stream);  // plain TCP
    garbage.set(zmq::sockopt::linger, 0);
    garbage.connect(hub.mirror_endpoint());
    zmq::pollitem_t item{garbage.handle(), 0, ZMQ_POLLIN, 0};
    REQUIRE(zmq::poll(&item, 1, 10s) == 1);
    std::vector<zmq::message_t> connected;  // ZMQ_STREAM: [routing id][empty] once connected
    REQUIRE(zmq::recv_multipart(garbage, std::back_inserter(connected)));
    REQUIRE(connected.size() == 2);
    garbage.send(connected[0], zmq::send_flags::sndmore);
    garbage.send(zmq::str_buffer("GET / HTTP/1.1\r\n\r\n"));
    CHECK(hub::test::wait_for([&] { return hub.log().find("mirror: closed the connection") != std::string::npos; }));
    CHECK_THAT(hub.log(), Catch::Contains("does not speak ZMTP"));
    CHECK(readers() == 2);
  }
  // Both readers closed their sockets: the hub sees their connections end.
  CHECK(hub::test::wait_for([&] { return readers() == 0; }));
  hub_still_serves(ctx, c, hub.endpoint());
}

TEST_CASE("mirror_max_readers caps the mirror's connections and the readers within it are served", "[protocol][mirror]") {
  hub::test::temp_dir d("mirror-cap");
  std::ofstream(d.path() / "hubd.yaml") << "mirror_max_readers: 1\n";
  hub::test::hubd_process hub({.config = d.path() / "hubd.yaml"});
  zmq::context_t ctx;
  raw_client c(ctx, hub.endpoint());
  raw_client first(ctx, hub.mirror_endpoint(), zmq::socket_type::sub);
  first.socket().set(zmq::sockopt::subscribe, "");
  REQUIRE(hub::test::wait_for([&] { return mirror_readers(c) == 1; }));
  raw_client second(ctx, hub.mirror_endpoint(), zmq::socket_type::sub);
  second.socket().set(zmq::sockopt::subscribe, "");
  CHECK(hub::test::wait_for([&] { return hub.log().find("refused a connection") != std::string::npos; }));
  CHECK_THAT(hub.log(), Catch::Contains("1 readers is the limit"));
  CHECK(mirror_readers(c) == 1);
  // The subscription may still be on its way: publish until one comes through.
  std::optional<frames> got;
  for (int i = 0; i < 50 && !got; ++i) {
    publish(c, 1);
    got = first.recv(100ms);
  }
  REQUIRE(got);
  CHECK((*got)[0] == "peacekeeping.SSD.mandate_activity");
}

TEST_CASE("every kind of bad input gets its reason code and the hub goes on", "[protocol][bad-input]") {
  hub::test::hubd_process hub;
  zmq::context_t ctx;
  raw_client c(ctx, hub.endpoint());
  using R = hub::schema::Reason;
  const auto before = counters_of(c);
  // Each refusal: its reply, then exactly one count of its reason in the status.
  auto nak = [&](std::uint64_t seq, R reason) {
    expect_nak(c, seq, reason);
    expect_counted(c, before, "naks", reason);
  };
  auto err = [&](R reason, std::uint64_t ref) {
    expect_err(c, reason, ref);
    expect_counted(c, before, "errs", reason);
  };

  SECTION("a truncated envelope") {
    auto env = envelope();
    c.send({"PUB", u64(1), env.substr(0, env.size() / 2)});
    nak(1, R::malformed_envelope);
  }
  SECTION("garbage behind a correct identifier") {
    std::string junk(64, '\x7f');
    junk.replace(4, 4, "HUBE");
    c.send({"PUB", u64(2), junk});
    nak(2, R::malformed_envelope);
  }
  SECTION("a wrong file identifier") {
    auto env = envelope();
    env.replace(4, 4, "XXXX");
    c.send({"PUB", u64(3), env});
    nak(3, R::wrong_identifier);
  }
  SECTION("an envelope just larger than the limit") {
    std::string big(1048577, '\0');
    big.replace(4, 4, "HUBE");
    c.send({"PUB", u64(4), big});
    nak(4, R::too_large);
  }
  SECTION("an envelope far larger than the limit, still below the cut-off (4 x the limit)") {
    std::string big(4 * 1048576, '\0');
    big.replace(4, 4, "HUBE");
    c.send({"PUB", u64(4), big});
    nak(4, R::too_large);
  }
  SECTION("an envelope without an id") {
    c.send({"PUB", u64(5), envelope("SSD", false)});
    nak(5, R::missing_field);
  }
  SECTION("a country that is not three capitals") {
    c.send({"PUB", u64(6), envelope("South Sudan")});
    nak(6, R::bad_field);
  }
  SECTION("an unknown command") {
    c.send({"SHOUT", "hello"});
    err(R::unknown_command, 0);
  }
  SECTION("an empty command frame") {
    c.send({""});
    err(R::unknown_command, 0);
  }
  SECTION("PUB without its envelope: its seq can be read, so a NAK") {
    c.send({"PUB", u64(7)});
    nak(7, R::malformed_frames);
  }
  SECTION("PUB with a seq frame of the wrong size: no seq to NAK, so an ERR") {
    c.send({"PUB", std::string(4, '\1'), envelope()});
    err(R::malformed_frames, 0);
  }
  SECTION("PUB alone") {
    c.send({"PUB"});
    err(R::malformed_frames, 0);
  }
  SECTION("SUB with too few frames") {
    c.send({"SUB", u64(1), ">"});
    err(R::malformed_frames, 0);
  }
  SECTION("CREDIT with a 2-byte count") {
    c.send({"CREDIT", u64(1), std::string(2, '\1')});
    err(R::malformed_frames, 0);
  }
  SECTION("SUB with a bad pattern") {
    c.send({"SUB", u64(11), "peacekeeping..SSD", "new", u64(0), "", u64(10)});
    err(R::bad_pattern, 11);
  }
  SECTION("SUB with > in the middle") {
    c.send({"SUB", u64(12), "a.>.b", "new", u64(0), "", u64(10)});
    err(R::bad_pattern, 12);
  }
  SECTION("SUB with an unknown start") {
    c.send({"SUB", u64(13), ">", "yesterday", u64(0), "", u64(10)});
    err(R::bad_start, 13);
  }
  SECTION("SUB at an offset past the end of the log") {
    publish(c, 2);
    c.send({"SUB", u64(15), ">", "offset", u64(3), "", u64(10)});
    err(R::bad_start, 15);
  }
  SECTION("SUB with a durable name longer than 256 bytes") {
    c.send({"SUB", u64(16), ">", "new", u64(0), std::string(257, 'd'), u64(10)});
    err(R::bad_field, 16);
  }
  SECTION("a sub-id used twice") {
    c.send({"SUB", u64(14), ">", "new", u64(0), "", u64(10)});
    REQUIRE(c.next()[0] == "SUBOK");
    c.send({"SUB", u64(14), ">", "new", u64(0), "", u64(10)});
    err(R::duplicate_subscription, 14);
  }
  SECTION("CREDIT for an unknown subscription") {
    c.send({"CREDIT", u64(99), u64(10)});
    err(R::unknown_subscription, 99);
  }
  SECTION("COMMIT for an unknown subscription") {
    c.send({"COMMIT", u64(98), u64(1)});
    err(R::unknown_subscription, 98);
  }
  SECTION("COMMIT on a subscription without a durable name") {
    c.send({"SUB", u64(17), ">", "new", u64(0), "", u64(10)});
    REQUIRE(c.next()[0] == "SUBOK");
    c.send({"COMMIT", u64(17), u64(0)});
    err(R::bad_field, 17);
  }
  SECTION("UNSUB for an unknown subscription") {
    c.send({"UNSUB", u64(97)});
    err(R::unknown_subscription, 97);
  }
  SECTION("HELLO with a protocol version the hub does not speak") {
    c.send({"HELLO", "99", "future-client"});
    err(R::protocol_version, 0);
  }
  hub_still_serves(ctx, c, hub.endpoint());
}

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Reads EVTs for sub-id `sub` until `n` came; then checks that nothing more comes.
std::vector<frames> read_evts(raw_client& c, std::uint64_t sub, std::size_t n) {
  std::vector<frames> out;
  while (out.size() < n) {
    auto e = c.next();
    REQUIRE(e[0] == "EVT");
    REQUIRE(e.size() == 5);
    CHECK(as_u64(e[1]) == sub);
    out.push_back(e);
  }
  CHECK_FALSE(c.recv(300ms));
  return out;
}

}  // namespace

TEST_CASE("SUB from an offset or a time delivers exactly the events from there", "[protocol][start]") {
  hub::test::hubd_process hub;
  zmq::context_t ctx;
  raw_client pub(ctx, hub.endpoint());
  std::vector<std::string> sent;
  auto early = publish(pub, 4, &sent);
  // Every event of the first batch was stored before `boundary` (its ACK came back),
  // every one of the second at or after it (the clock passed it before they were sent).
  const std::int64_t boundary = now_ms() + 1;
  REQUIRE(hub::test::wait_for([&] { return now_ms() > boundary; }));
  auto late = publish(pub, 3, &sent);
  std::vector<std::uint64_t> all = early;
  all.insert(all.end(), late.begin(), late.end());
  REQUIRE(all.size() == 7);
  const std::uint64_t end = all.back() + 1;

  raw_client c(ctx, hub.endpoint());
  SECTION("offset: from that event on, in order, nothing before it") {
    c.send({"SUB", u64(1), ">", "offset", u64(all[2]), "", u64(100)});
    auto ok = c.next();
    REQUIRE(ok[0] == "SUBOK");
    CHECK(as_u64(ok[2]) == all[2]);
    auto got = read_evts(c, 1, 5);
    for (std::size_t i = 0; i < got.size(); ++i) {
      CHECK(as_u64(got[i][2]) == all[i + 2]);
      CHECK(got[i][4] == sent[i + 2]);
    }
  }
  SECTION("time: the events stored at or after it, nothing before") {
    c.send({"SUB", u64(2), ">", "time", u64(static_cast<std::uint64_t>(boundary)), "", u64(100)});
    auto ok = c.next();
    REQUIRE(ok[0] == "SUBOK");
    CHECK(as_u64(ok[2]) == late[0]);
    auto got = read_evts(c, 2, 3);
    for (std::size_t i = 0; i < got.size(); ++i) {
      CHECK(as_u64(got[i][2]) == late[i]);
      CHECK(got[i][4] == sent[i + 4]);
    }
  }
  SECTION("time after the last event: starts at the end, and gets what comes next") {
    c.send({"SUB", u64(3), ">", "time", u64(static_cast<std::uint64_t>(now_ms() + 3'600'000)), "", u64(100)});
    auto ok = c.next();
    REQUIRE(ok[0] == "SUBOK");
    CHECK(as_u64(ok[2]) == end);
    CHECK_FALSE(c.recv(300ms));
    std::vector<std::string> next;
    auto more = publish(pub, 1, &next);
    auto e = c.next();
    REQUIRE(e[0] == "EVT");
    CHECK(as_u64(e[2]) == more[0]);
    CHECK(e[4] == next[0]);
  }
  SECTION("offset at the end is accepted and acts as new; one past it is refused") {
    c.send({"SUB", u64(4), ">", "offset", u64(end + 1), "", u64(100)});
    auto err = c.next();
    REQUIRE(err[0] == "ERR");
    CHECK(as_u16(err[1]) == code(hub::schema::Reason::bad_start));
    CHECK(as_u64(err[3]) == 4);
    c.send({"SUB", u64(4), ">", "offset", u64(end), "", u64(100)});
    auto ok = c.next();
    REQUIRE(ok[0] == "SUBOK");
    CHECK(as_u64(ok[2]) == end);
    CHECK_FALSE(c.recv(300ms));
    auto more = publish(pub, 1);
    auto e = c.next();
    REQUIRE(e[0] == "EVT");
    CHECK(as_u64(e[2]) == more[0]);
  }
}

TEST_CASE("a message over the client socket's size limit cuts that connection off, counted and logged: the hub goes on",
          "[protocol][bad-input]") {
  hub::test::hubd_process hub;
  zmq::context_t ctx;
  raw_client c(ctx, hub.endpoint());
  const auto before = counters_of(c);
  raw_client big(ctx, hub.endpoint());
  big.send({"PING"});
  REQUIRE(big.next()[0] == "PONG");  // connected
  // 5 MiB: over the message limit (4 x the 1 MiB envelope limit + 4 KiB).
  std::string huge(5u << 20, '\0');
  huge.replace(4, 4, "HUBE");
  big.send({"PUB", u64(1), huge});
  nlohmann::json after;
  CHECK(hub::test::wait_for([&] {
    after = counters_of(c);
    return after.at("disconnects").get<std::uint64_t>() > before.at("disconnects").get<std::uint64_t>();
  }));
  CHECK(after.at("disconnects").get<std::uint64_t>() == before.at("disconnects").get<std::uint64_t>() + 1);
  // The hub never saw the message: no NAK, no ERR, nothing stored.
  CHECK(total_of(after) == total_of(before));
  CHECK(after.at("events_in") == before.at("events_in"));
  CHECK_FALSE(big.recv(300ms));
  CHECK_THAT(hub.log(), Catch::Contains("a client connection ended (1 so far): the hub closed the connection from") &&
                            Catch::Contains("it sent a message over 4198400 bytes"));
  // The cut client's socket reconnects by itself and is served again.
  big.send({"PING"});
  CHECK(big.next()[0] == "PONG");
  hub_still_serves(ctx, c, hub.endpoint());
}

TEST_CASE("a subscriber that vanishes mid-stream is dropped and counted: the hub goes on", "[protocol][bad-input]") {
  hub::test::hubd_process hub;
  zmq::context_t ctx;
  raw_client c(ctx, hub.endpoint());
  publish(c, 200);
  const auto before = counters_of(c);
  {
    raw_client sub(ctx, hub.endpoint());
    sub.send({"HELLO", "1", "vanishing-subscriber"});
    REQUIRE(sub.next()[0] == "WELCOME");
    sub.send({"SUB", u64(1), ">", "earliest", u64(0), "", u64(1'000'000)});
    REQUIRE(sub.next()[0] == "SUBOK");
    REQUIRE(sub.next()[0] == "EVT");  // delivery is under way
  }  // closed (linger 0) with 199 events sent to it unread, and credit for many more
  // The hub learns that it is gone when its connection closes, or when it next writes to
  // it; events keep coming meanwhile.
  nlohmann::json after;
  CHECK(hub::test::wait_for([&] {
    publish(c, 1);
    after = counters_of(c);
    return after.at("clients_dropped").get<std::uint64_t>() > before.at("clients_dropped").get<std::uint64_t>();
  }));
  CHECK(after.at("clients_dropped").get<std::uint64_t>() == before.at("clients_dropped").get<std::uint64_t>() + 1);
  CHECK_THAT(hub.log(), Catch::Contains("client vanishing-subscriber dropped: unreachable; 1 subscription(s) ended"));
  c.send({"STATUS"});
  auto st = nlohmann::json::parse(c.next().at(1));
  CHECK(st.at("subscriptions").empty());
  hub_still_serves(ctx, c, hub.endpoint());
}

TEST_CASE("a publisher that vanishes with PUBs in flight is dropped and counted: its events are stored",
          "[protocol][bad-input]") {
  hub::test::temp_dir dir("raw-protocol");
  // A client is forgotten after 3 s of silence (10 s by default) if the hub has sent it
  // nothing since it went (an ACK to a vanished peer finds it gone at once). Eight
  // messages a turn: the hub acknowledges the first PUBs while it has not read the
  // others, so it finds the publisher gone with PUBs of it still queued.
  std::ofstream(dir / "hubd.yaml") << "client_timeout_ms: 3000\nmax_messages_per_turn: 8\n";
  hub::test::hubd_process hub({.config = dir / "hubd.yaml"});
  zmq::context_t ctx;
  raw_client c(ctx, hub.endpoint());
  const auto before = counters_of(c);
  // 300 PUBs (about 60 KB) fit in the hub's TCP receive window at once. A client that
  // closes its socket with ACKs unread makes the kernel reset the connection, and what
  // it had not sent by then is lost in TCP (with 3,000 the hub saw about 2,200): those
  // were never acknowledged, so a real publisher sends them again.
  constexpr int n = 300;
  {
    raw_client p(ctx, hub.endpoint());
    p.socket().set(zmq::sockopt::linger, 10'000);  // closing still sends what is queued
    p.send({"HELLO", "1", "vanishing-publisher"});
    REQUIRE(p.next()[0] == "WELCOME");
    for (int i = 1; i <= n; ++i) p.send({"PUB", u64(static_cast<std::uint64_t>(i)), envelope()});
  }  // closed without reading a single ACK
  // The hub may find it gone at an ACK while PUBs it sent are still queued on the hub's
  // side (ZeroMQ keeps the incoming half of a closed connection until it is read): they
  // are stored all the same, and the client is dropped once, not once per reply.
  nlohmann::json after;
  CHECK(hub::test::wait_for(
      [&] {
        after = counters_of(c);
        return after.at("clients_dropped").get<std::uint64_t>() > before.at("clients_dropped").get<std::uint64_t>() &&
               after.at("events_in").get<std::uint64_t>() >= before.at("events_in").get<std::uint64_t>() + n;
      },
      15s));
  CHECK(after.at("events_in").get<std::uint64_t>() == before.at("events_in").get<std::uint64_t>() + n);
  CHECK(after.at("clients_dropped").get<std::uint64_t>() == before.at("clients_dropped").get<std::uint64_t>() + 1);
  const std::string log = hub.log();
  const std::string line = "client vanishing-publisher dropped";
  const auto first = log.find(line);
  CHECK(first != std::string::npos);
  CHECK(log.find(line, first + 1) == std::string::npos);
  hub_still_serves(ctx, c, hub.endpoint());
}
