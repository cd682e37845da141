// Provenance end to end: the SDK connects with CURVE keys and signs each envelope with
// the adapter's Ed25519 key; the hub verifies it against the key in its ACL.
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include "adapters/sdk/sdk.h"
#include "hub/security/security.h"
#include "schemas/schema.h"
#include "tests/support/envelopes.h"
#include "tests/support/hubd_process.h"
#include "tests/support/run_command.h"

namespace {

struct signing_keys {
  std::string public_hex;
  std::filesystem::path secret_file;
};

signing_keys make_signing_key(const hub::test::temp_dir& d, const std::string& name) {
  REQUIRE(sodium_init() >= 0);
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  char pk_hex[2 * sizeof pk + 1], sk_hex[2 * sizeof sk + 1];
  sodium_bin2hex(pk_hex, sizeof pk_hex, pk, sizeof pk);
  sodium_bin2hex(sk_hex, sizeof sk_hex, sk, sizeof sk);
  auto file = d / (name + ".sign.key");
  std::ofstream(file) << sk_hex << "\n";
  ::chmod(file.c_str(), 0600);
  return {pk_hex, file};
}

struct outcome {
  bool acked = false;
  hub::schema::Reason refused = hub::schema::Reason::ok;
  std::string why;
};

outcome publish_once(hub::sdk::publisher::options po) {
  outcome o;
  hub::sdk::publisher pub(std::move(po));
  pub.on_acked([&](const hub::schema::Id128&, std::uint64_t, bool) { o.acked = true; });
  pub.on_refused([&](const hub::schema::Id128&, hub::schema::Reason r, const std::string& why) {
    o.refused = r;
    o.why = why;
  });
  REQUIRE(pub.publish(hub::test::make_envelope()));
  REQUIRE(pub.flush(std::chrono::seconds(10)));
  return o;
}

// Runs the real hubctl; what it printed is shown if a check fails.
hub::test::program_result hubctl(const std::vector<std::string>& args) {
  auto r = hub::test::run_program(HUBCTL_PATH, args);
  UNSCOPED_INFO("hubctl " << args.at(0) << " printed:\n" << r.out << r.err);
  return r;
}

std::vector<std::uint8_t> from_hex(const std::string& hex) {
  std::vector<std::uint8_t> out(hex.size() / 2);
  std::size_t len = 0;
  if (sodium_hex2bin(out.data(), out.size(), hex.c_str(), hex.size(), nullptr, &len, nullptr) != 0) return {};
  out.resize(len);
  return out;
}

}  // namespace

TEST_CASE("the hub stores the signature with the event: hubctl replay shows it, log verify checks it",
          "[security][signing]") {
  hub::test::temp_dir d("signing");
  auto server = hub::security::generate_curve_keypair().value();
  auto adapter = hub::security::generate_curve_keypair().value();
  auto reader = hub::security::generate_curve_keypair().value();
  REQUIRE(hub::security::write_key_files(d / "hub", server).is_ok());
  REQUIRE(hub::security::write_key_files(d / "reader", reader).is_ok());
  auto key = make_signing_key(d, "unmiss");
  std::ofstream(d / "acl.yaml") << "identities:\n  - name: unmiss-adapter\n    public_key: \"" << adapter.public_z85
                                << "\"\n    entities: [peacekeeping]\n    signing_key: \"" << key.public_hex
                                << "\"\n    require_signature: true\n"
                                << "  - name: auditor\n    public_key: \"" << reader.public_z85
                                << "\"\n    subscribe: [\">\"]\n    clearance: confidential\n";
  std::ofstream(d / "hubd.yaml") << "security:\n  enabled: true\n  curve_secret_key_file: " << (d / "hub.key").string()
                                 << "\n  acl_file: " << (d / "acl.yaml").string() << "\n";
  hub::test::hubd_process hub({.config = d / "hubd.yaml"});  // the embedded log

  hub::sdk::publisher::options po;
  po.connection.endpoints = {hub.endpoint()};
  po.connection.curve_server_public_key = server.public_z85;
  po.connection.curve_client_public_key = adapter.public_z85;
  po.connection.curve_client_secret_key = adapter.secret_z85;
  po.signing_key_file = key.secret_file;
  std::map<std::string, std::vector<std::uint8_t>> sent;  // id hex -> envelope
  {
    hub::sdk::publisher pub(po);
    std::size_t acked = 0;
    pub.on_acked([&](const hub::schema::Id128&, std::uint64_t, bool) { ++acked; });
    for (int i = 0; i < 3; ++i) {
      auto env = hub::test::make_envelope();
      sent[hub::schema::id_to_hex(hub::test::envelope_id(env))] = env;
      REQUIRE(pub.publish(env));
    }
    REQUIRE(pub.flush(std::chrono::seconds(10)));
    REQUIRE(acked == 3);
  }

  auto replay = hubctl({"--hub", hub.endpoint(), "--server-key", (d / "hub.pub").string(), "--key",
                           (d / "reader.key").string(), "replay", "--from", "earliest"});
  REQUIRE(replay.exit_code == 0);
  std::istringstream lines(replay.out);
  std::string line;
  std::size_t verified = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    REQUIRE(j.contains("signature"));
    const auto& env = sent.at(j.at("id").get<std::string>());
    auto sig = from_hex(j.at("signature").get<std::string>());
    CHECK(sig.size() == crypto_sign_BYTES);
    auto pk = from_hex(key.public_hex);
    CHECK(hub::security::verify_signature(pk, env, sig));
    ++verified;
  }
  CHECK(verified == 3);

  REQUIRE(hub.stop() == 0);
  auto check = hubctl({"log", "verify", "--data-dir", hub.data_dir().string(), "--keys", (d / "acl.yaml").string()});
  CHECK(check.exit_code == 0);
  CHECK_THAT(check.out, Catch::Contains("3 signed") && Catch::Contains("and every signature"));

  // The same log checked against an ACL where the adapter has another key: each stored
  // signature is named as not verifying.
  auto other = make_signing_key(d, "other");
  std::ofstream(d / "acl-other.yaml") << "identities:\n  - name: unmiss-adapter\n    public_key: \""
                                      << adapter.public_z85 << "\"\n    entities: [peacekeeping]\n    signing_key: \""
                                      << other.public_hex << "\"\n";
  auto wrong =
      hubctl({"log", "verify", "--data-dir", hub.data_dir().string(), "--keys", (d / "acl-other.yaml").string()});
  CHECK(wrong.exit_code == 1);
  CHECK_THAT(wrong.out, Catch::Contains("offset 0 (segment") && Catch::Contains("bad signature"));
}

TEST_CASE("a signed envelope is accepted and an unsigned or forged one refused", "[security][signing]") {
  hub::test::temp_dir d("signing");
  auto server = hub::security::generate_curve_keypair().value();
  auto adapter = hub::security::generate_curve_keypair().value();
  REQUIRE(hub::security::write_key_files(d / "hub", server).is_ok());
  auto good = make_signing_key(d, "unmiss");
  auto other = make_signing_key(d, "someone-else");
  std::ofstream(d / "acl.yaml") << "identities:\n  - name: unmiss-adapter\n    public_key: \"" << adapter.public_z85
                                << "\"\n    entities: [peacekeeping]\n    signing_key: \"" << good.public_hex
                                << "\"\n    require_signature: true\n";
  std::ofstream(d / "hubd.yaml") << "security:\n  enabled: true\n  curve_secret_key_file: " << (d / "hub.key").string()
                                 << "\n  acl_file: " << (d / "acl.yaml").string() << "\n";
  hub::test::hubd_process hub({.extra_args = {"--store", "memory"}, .config = d / "hubd.yaml"});

  hub::sdk::publisher::options po;
  po.connection.endpoints = {hub.endpoint()};
  po.connection.curve_server_public_key = server.public_z85;
  po.connection.curve_client_public_key = adapter.public_z85;
  po.connection.curve_client_secret_key = adapter.secret_z85;

  SECTION("signed with the registered key") {
    po.signing_key_file = good.secret_file;
    auto o = publish_once(po);
    CHECK(o.acked);
    CHECK(o.refused == hub::schema::Reason::ok);
  }
  SECTION("not signed") {
    auto o = publish_once(po);
    CHECK_FALSE(o.acked);
    CHECK(o.refused == hub::schema::Reason::bad_signature);
    CHECK_THAT(o.why, Catch::Contains("must sign"));
  }
  SECTION("signed with another key") {
    po.signing_key_file = other.secret_file;
    auto o = publish_once(po);
    CHECK_FALSE(o.acked);
    CHECK(o.refused == hub::schema::Reason::bad_signature);
    CHECK_THAT(o.why, Catch::Contains("does not verify"));
  }
  SECTION("a signing key file others can read is refused before anything is sent") {
    ::chmod(good.secret_file.c_str(), 0644);
    po.signing_key_file = good.secret_file;
    CHECK_THROWS_AS(hub::sdk::publisher(po), hub::sdk::error);
  }
}

TEST_CASE("signatures checked in parallel: bad ones refused, good ones stored in the order sent",
          "[security][signing]") {
  hub::test::temp_dir d("signing-window");
  auto server = hub::security::generate_curve_keypair().value();
  auto adapter = hub::security::generate_curve_keypair().value();
  auto reader = hub::security::generate_curve_keypair().value();
  REQUIRE(hub::security::write_key_files(d / "hub", server).is_ok());
  auto good = make_signing_key(d, "unmiss");
  auto forged = make_signing_key(d, "forger");
  std::ofstream(d / "acl.yaml") << "identities:\n  - name: unmiss-adapter\n    public_key: \"" << adapter.public_z85
                                << "\"\n    entities: [peacekeeping]\n    signing_key: \"" << good.public_hex
                                << "\"\n    require_signature: true\n"
                                << "  - name: auditor\n    public_key: \"" << reader.public_z85
                                << "\"\n    subscribe: [\">\"]\n    clearance: confidential\n";
  std::ofstream(d / "hubd.yaml") << "security:\n  enabled: true\n  curve_secret_key_file: " << (d / "hub.key").string()
                                 << "\n  acl_file: " << (d / "acl.yaml").string() << "\n";
  hub::test::hubd_process hub({.extra_args = {"--store", "memory"}, .config = d / "hubd.yaml"});

  // Two connections with the adapter's CURVE key, one signing with its registered key and
  // one with a forged key, their PUBs interleaved in full windows.
  auto options = [&](const std::filesystem::path& signing) {
    hub::sdk::publisher::options po;
    po.connection.endpoints = {hub.endpoint()};
    po.connection.curve_server_public_key = server.public_z85;
    po.connection.curve_client_public_key = adapter.public_z85;
    po.connection.curve_client_secret_key = adapter.secret_z85;
    po.signing_key_file = signing;
    po.window = 400;
    return po;
  };
  hub::sdk::publisher honest(options(good.secret_file));
  hub::sdk::publisher forger(options(forged.secret_file));
  std::vector<std::string> honest_order;
  std::set<std::string> forged_ids, honest_acked, forged_refused;
  honest.on_acked([&](const hub::schema::Id128& id, std::uint64_t, bool) { honest_acked.insert(hub::schema::id_to_hex(id)); });
  forger.on_refused([&](const hub::schema::Id128& id, hub::schema::Reason r, const std::string&) {
    if (r == hub::schema::Reason::bad_signature) forged_refused.insert(hub::schema::id_to_hex(id));
  });
  std::size_t forged_acked = 0;
  forger.on_acked([&](const hub::schema::Id128&, std::uint64_t, bool) { ++forged_acked; });
  for (int i = 0; i < 1200; ++i) {
    auto env = hub::test::make_envelope();
    auto id = hub::schema::id_to_hex(hub::test::envelope_id(env));
    if (i % 4 == 3) {
      forged_ids.insert(id);
      REQUIRE(forger.publish(env));
    } else {
      honest_order.push_back(id);
      REQUIRE(honest.publish(env));
    }
  }
  REQUIRE(honest.flush(std::chrono::seconds(30)));
  REQUIRE(forger.flush(std::chrono::seconds(30)));
  CHECK(honest_acked.size() == honest_order.size());
  CHECK(forged_refused == forged_ids);
  CHECK(forged_acked == 0);

  // What the hub stored: the honest events, in the order they were sent, nothing forged.
  hub::sdk::subscriber::options so;
  so.connection.endpoints = {hub.endpoint()};
  so.connection.curve_server_public_key = server.public_z85;
  so.connection.curve_client_public_key = reader.public_z85;
  so.connection.curve_client_secret_key = reader.secret_z85;
  so.start = hub::sdk::start_position::earliest();
  hub::sdk::subscriber sub(so);
  std::vector<std::string> stored;
  while (stored.size() < honest_order.size()) {
    auto e = sub.next(std::chrono::seconds(10));
    if (!e) break;
    stored.push_back(hub::schema::id_to_hex(*e->envelope()->id()));
  }
  CHECK(stored == honest_order);
  CHECK_FALSE(sub.next(std::chrono::milliseconds(200)).has_value());
}
