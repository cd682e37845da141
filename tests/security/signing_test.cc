// Provenance end to end: the SDK connects with CURVE keys and signs each envelope with
// the adapter's Ed25519 key; the hub verifies it against the key in its ACL.
#include <sys/stat.h>

#include <fstream>

#include <catch2/catch.hpp>
#include <sodium.h>

#include "adapters/sdk/sdk.h"
#include "hub/security/security.h"
#include "tests/support/envelopes.h"
#include "tests/support/hubd_process.h"

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

}  // namespace

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
