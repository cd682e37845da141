// Security end to end: a real hubd with CURVE, a ZAP handler and an ACL, and clients
// speaking the protocol over raw ZeroMQ sockets.
#include <signal.h>

#include <array>
#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "hub/security/security.h"
#include "schemas/protocol_generated.h"
#include "schemas/wire.h"
#include "tests/support/envelopes.h"
#include "tests/support/hubd_process.h"

using hub::schema::Classification;
using hub::schema::Entity;
using hub::security::curve_keypair;

namespace {

curve_keypair keys() {
  auto k = hub::security::generate_curve_keypair();
  REQUIRE(k.is_ok());
  return k.value();
}

struct secured_hub {
  hub::test::temp_dir dir{"sechub"};
  curve_keypair server = keys(), unmiss = keys(), undp = keys(), reader = keys(), stranger = keys();
  std::unique_ptr<hub::test::hubd_process> hub;

  void write_acl(bool with_reader = true) {
    std::ofstream acl(dir / "acl.yaml");
    acl << "identities:\n"
        << "  - name: unmiss-adapter\n    public_key: \"" << unmiss.public_z85 << "\"\n"
        << "    entities: [peacekeeping]\n    subscribe: [\">\"]\n    clearance: strictly_confidential\n"
        << "  - name: undp-adapter\n    public_key: \"" << undp.public_z85 << "\"\n"
        << "    entities: [development]\n    subscribe: [\"development.>\"]\n    clearance: internal\n";
    if (with_reader)
      acl << "  - name: rco-reader\n    public_key: \"" << reader.public_z85 << "\"\n"
          << "    entities: []\n    subscribe: [\"*.SSD.>\"]\n    clearance: internal\n";
  }

  secured_hub() {
    REQUIRE(hub::security::write_key_files(dir / "hub", server).is_ok());
    write_acl();
    std::ofstream cfg(dir / "hubd.yaml");
    cfg << "security:\n  enabled: true\n  curve_secret_key_file: " << (dir / "hub.key").string()
        << "\n  acl_file: " << (dir / "acl.yaml").string() << "\n";
    cfg.close();
    hub = std::make_unique<hub::test::hubd_process>(
        hub::test::hubd_options{.extra_args = {"--store", "memory"}, .config = dir / "hubd.yaml"});
  }
};

struct client {
  zmq::socket_t s;
  client(zmq::context_t& ctx, const std::string& endpoint, const curve_keypair* me, const std::string& server_pub)
      : s(ctx, zmq::socket_type::dealer) {
    s.set(zmq::sockopt::linger, 0);
    if (me != nullptr) {
      s.set(zmq::sockopt::curve_serverkey, server_pub);
      s.set(zmq::sockopt::curve_publickey, me->public_z85);
      s.set(zmq::sockopt::curve_secretkey, me->secret_z85);
    }
    s.connect(endpoint);
  }
  void send(std::vector<std::string> frames) {
    std::vector<zmq::const_buffer> b;
    for (auto& f : frames) b.push_back(zmq::buffer(f));
    zmq::send_multipart(s, b);
  }
  std::vector<std::string> recv(int timeout_ms = 5000) {
    s.set(zmq::sockopt::rcvtimeo, timeout_ms);
    std::vector<zmq::message_t> parts;
    std::vector<std::string> out;
    if (!zmq::recv_multipart(s, std::back_inserter(parts))) return out;
    for (auto& p : parts) out.push_back(p.to_string());
    return out;
  }
  void pub(std::uint64_t seq, const std::vector<std::uint8_t>& env) {
    send({"PUB", hub::wire::u64_frame(seq), std::string(env.begin(), env.end())});
  }
  void sub(std::uint64_t id, const std::string& pattern, std::uint64_t credit = 1000) {
    send({"SUB", hub::wire::u64_frame(id), pattern, "earliest", hub::wire::u64_frame(0), "",
          hub::wire::u64_frame(credit)});
  }
  nlohmann::json status() {
    send({"STATUS"});
    auto r = recv();
    REQUIRE(r.size() == 2);
    return nlohmann::json::parse(r[1]);
  }
};

std::uint16_t code_of(const std::string& frame) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(frame[0]) | (static_cast<unsigned char>(frame[1]) << 8));
}

}  // namespace

TEST_CASE("a client without keys or with an unknown key gets nothing through", "[security][hubd]") {
  secured_hub h;
  zmq::context_t ctx;
  client admin(ctx, h.hub->endpoint(), &h.unmiss, h.server.public_z85);
  client plain(ctx, h.hub->endpoint(), nullptr, "");
  client unknown(ctx, h.hub->endpoint(), &h.stranger, h.server.public_z85);
  plain.pub(1, hub::test::make_envelope());
  unknown.pub(1, hub::test::make_envelope());
  unknown.sub(1, ">");
  // The unknown key is refused after its INITIATE, the keyless client at its greeting;
  // both are counted and logged, the unknown key by name. Nothing either sent is stored.
  CHECK(hub::test::wait_for([&] { return admin.status()["counters"]["auth_denied"].get<int>() >= 2; }));
  CHECK_THAT(h.hub->log(), Catch::Contains(std::string("refused: public key ") + h.stranger.public_z85 +
                                           " not on the hub's list") &&
                               Catch::Contains("CURVE is required"));
  auto st = admin.status();
  CHECK(st["store"]["end"] == 0);
  CHECK(st["subscriptions"].empty());
  CHECK(unknown.recv(200).empty());
}

TEST_CASE("an adapter cannot publish another entity's events", "[security][hubd]") {
  secured_hub h;
  zmq::context_t ctx;
  client undp(ctx, h.hub->endpoint(), &h.undp, h.server.public_z85);
  undp.pub(7, hub::test::make_envelope({.entity = Entity::peacekeeping}));
  auto r = undp.recv();
  REQUIRE(r.size() == 4);
  CHECK(r[0] == "NAK");
  CHECK(code_of(r[2]) == static_cast<std::uint16_t>(hub::schema::Reason::not_authorized));
  CHECK_THAT(r[3], Catch::Contains("undp-adapter") && Catch::Contains("peacekeeping"));
  undp.pub(8, hub::test::make_envelope({.entity = Entity::development}));
  auto ok = undp.recv();
  REQUIRE(ok.size() == 2);
  CHECK(ok[0] == "ACK");
}

TEST_CASE("a subscriber cleared for internal never receives a confidential event", "[security][hubd]") {
  secured_hub h;
  zmq::context_t ctx;
  client unmiss(ctx, h.hub->endpoint(), &h.unmiss, h.server.public_z85);
  client reader(ctx, h.hub->endpoint(), &h.reader, h.server.public_z85);
  zmq::socket_t mirror(ctx, zmq::socket_type::sub);
  mirror.set(zmq::sockopt::linger, 0);
  mirror.set(zmq::sockopt::subscribe, "");
  mirror.connect(h.hub->mirror_endpoint());

  reader.sub(1, "*.SSD.>");  // live, before anything is published
  auto ok = reader.recv();
  REQUIRE(ok.size() == 3);
  REQUIRE(ok[0] == "SUBOK");
  const Classification levels[] = {Classification::public_, Classification::confidential, Classification::internal,
                                   Classification::strictly_confidential, Classification::public_};
  std::uint64_t seq = 0;
  for (auto c : levels) unmiss.pub(++seq, hub::test::make_envelope({.classification = c, .title = "lvl"}));
  std::size_t acked = 0;
  while (acked < 5) {
    auto r = unmiss.recv();
    REQUIRE(r.size() == 2);
    acked += r[1].size() / 16;
  }
  // Live path: offsets 0, 2, 4 only (public, internal, public).
  std::vector<std::uint64_t> got;
  for (int i = 0; i < 3; ++i) {
    auto e = reader.recv();
    REQUIRE(e.size() == 5);
    got.push_back(hub::wire::get_u64(reinterpret_cast<const std::uint8_t*>(e[2].data())));
  }
  CHECK(got == std::vector<std::uint64_t>{0, 2, 4});
  // Replay path: the same from earliest.
  reader.sub(2, "peacekeeping.>");
  auto denied = reader.recv();
  REQUIRE(denied.size() == 4);
  CHECK(denied[0] == "ERR");
  CHECK(code_of(denied[1]) == static_cast<std::uint16_t>(hub::schema::Reason::not_authorized));
  reader.sub(3, "peacekeeping.SSD.*");
  REQUIRE(reader.recv()[0] == "SUBOK");
  got.clear();
  for (int i = 0; i < 3; ++i) {
    auto e = reader.recv();
    REQUIRE(e.size() == 5);
    got.push_back(hub::wire::get_u64(reinterpret_cast<const std::uint8_t*>(e[2].data())));
  }
  CHECK(got == std::vector<std::uint64_t>{0, 2, 4});
  CHECK(reader.recv(300).empty());
  // The mirror carries public events only.
  mirror.set(zmq::sockopt::rcvtimeo, 300);
  std::size_t mirrored = 0;
  std::vector<zmq::message_t> parts;
  while (zmq::recv_multipart(mirror, std::back_inserter(parts))) {
    REQUIRE(parts.size() == 2);
    // ZeroMQ frames may sit at any byte position: read an aligned copy.
    const std::vector<std::uint8_t> copy(static_cast<const std::uint8_t*>(parts[1].data()),
                                         static_cast<const std::uint8_t*>(parts[1].data()) + parts[1].size());
    auto* e = hub::schema::GetEnvelope(copy.data());
    CHECK(e->classification() == Classification::public_);
    ++mirrored;
    parts.clear();
  }
  CHECK(mirrored <= 2);
}

TEST_CASE("a key removed from the list loses access at the next ACL reload", "[security][hubd]") {
  secured_hub h;
  zmq::context_t ctx;
  client reader(ctx, h.hub->endpoint(), &h.reader, h.server.public_z85);
  client unmiss(ctx, h.hub->endpoint(), &h.unmiss, h.server.public_z85);
  reader.sub(1, "*.SSD.>");
  REQUIRE(reader.recv()[0] == "SUBOK");
  h.write_acl(/*with_reader=*/false);
  ::kill(h.hub->pid(), SIGHUP);
  REQUIRE(hub::test::wait_for([&] { return unmiss.status()["subscriptions"].empty(); }));
  unmiss.pub(1, hub::test::make_envelope());
  REQUIRE(unmiss.recv()[0] == "ACK");
  CHECK(reader.recv(300).empty());  // no event reaches it
  reader.sub(2, "*.SSD.>");
  auto r = reader.recv();
  REQUIRE(r.size() == 4);
  CHECK(r[0] == "ERR");
  CHECK(code_of(r[1]) == static_cast<std::uint16_t>(hub::schema::Reason::not_authorized));
  CHECK_THAT(h.hub->log(), Catch::Contains("ACL reloaded"));
}
