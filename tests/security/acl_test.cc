#include <fstream>

#include <catch2/catch.hpp>

#include "hub/security/security.h"
#include "tests/support/envelopes.h"
#include "tests/support/temp_dir.h"

using namespace hub::security;

namespace {
std::filesystem::path write(const hub::test::temp_dir& d, const std::string& name, const std::string& text) {
  auto p = d / name;
  std::ofstream(p) << text;
  return p;
}
const char* key_a = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const char* key_b = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
}  // namespace

TEST_CASE("an ACL file loads identities with their permissions", "[security][acl]") {
  hub::test::temp_dir d;
  auto a = acl::load(write(d, "acl.yaml", std::string("identities:\n"
                                                      "  - name: unmiss\n    public_key: \"") + key_a +
                                              "\"\n    entities: [peacekeeping]\n    subscribe: [\"*.SSD.>\"]\n"
                                              "    clearance: confidential\n"));
  REQUIRE(a.is_ok());
  const auto* id = a.value()->by_public_key(key_a);
  REQUIRE(id != nullptr);
  CHECK(id->name == "unmiss");
  CHECK(id->clearance == hub::schema::Classification::confidential);
  CHECK(a.value()->by_public_key(key_b) == nullptr);
}

TEST_CASE("ACL errors name the line and the problem", "[security][acl]") {
  hub::test::temp_dir d;
  auto a = acl::load(write(d, "acl.yaml", std::string("identities:\n"
                                                      "  - name: x\n    public_key: short\n"
                                                      "    clearance: secret\n    entities: [army]\n    colour: red\n")));
  REQUIRE_FALSE(a.is_ok());
  const auto& m = a.error().message();
  CHECK_THAT(m, Catch::Contains("acl.yaml:3") && Catch::Contains("public_key"));
  CHECK_THAT(m, Catch::Contains("acl.yaml:4") && Catch::Contains("clearance 'secret'"));
  CHECK_THAT(m, Catch::Contains("unknown entity 'army'"));
  CHECK_THAT(m, Catch::Contains("acl.yaml:6") && Catch::Contains("unknown key 'colour'"));
}

TEST_CASE("a subscription pattern is allowed only inside an allowed one", "[security][acl]") {
  CHECK(pattern_covers(">", "peacekeeping.SSD.*"));
  CHECK(pattern_covers("*.SSD.>", "peacekeeping.SSD.mandate_activity"));
  CHECK(pattern_covers("*.SSD.>", "*.SSD.*"));
  CHECK_FALSE(pattern_covers("*.SSD.>", "*.*.*"));
  CHECK_FALSE(pattern_covers("*.SSD.>", ">"));
  CHECK_FALSE(pattern_covers("peacekeeping.SSD.*", "peacekeeping.SSD.>"));
  CHECK_FALSE(pattern_covers("peacekeeping.*.*", "*.SSD.*"));
}

TEST_CASE("an adapter may publish only its own entity's events", "[security][acl]") {
  identity id;
  id.name = "unmiss";
  id.entities = {hub::schema::Entity::peacekeeping};
  auto own = hub::test::make_envelope({.entity = hub::schema::Entity::peacekeeping});
  auto other = hub::test::make_envelope({.entity = hub::schema::Entity::development});
  CHECK_FALSE(check_publish(id, *hub::schema::GetEnvelope(own.data()), "peacekeeping.SSD.mandate_activity"));
  auto why = check_publish(id, *hub::schema::GetEnvelope(other.data()), "peacekeeping.SSD.mandate_activity");
  REQUIRE(why);
  CHECK_THAT(*why, Catch::Contains("development"));
}

TEST_CASE("clearance bounds what an identity receives", "[security][acl]") {
  identity id;
  id.subscribe = {">"};
  id.clearance = hub::schema::Classification::internal;
  CHECK(may_receive(id, "a.SSD.b", hub::schema::Classification::public_));
  CHECK(may_receive(id, "a.SSD.b", hub::schema::Classification::internal));
  CHECK_FALSE(may_receive(id, "a.SSD.b", hub::schema::Classification::confidential));
  CHECK_FALSE(may_receive(id, "a.SSD.b", hub::schema::Classification::strictly_confidential));
}

TEST_CASE("a secret key file readable by others is refused", "[security][keys]") {
  hub::test::temp_dir d;
  auto kp = generate_curve_keypair();
  REQUIRE(kp.is_ok());
  REQUIRE(write_key_files(d / "hub", kp.value()).is_ok());
  auto ok = read_secret_key_file(d / "hub.key");
  REQUIRE(ok.is_ok());
  CHECK(ok.value() == kp->secret_z85);
  std::filesystem::permissions(d / "hub.key", std::filesystem::perms::group_read, std::filesystem::perm_options::add);
  auto bad = read_secret_key_file(d / "hub.key");
  REQUIRE_FALSE(bad.is_ok());
  CHECK_THAT(bad.error().message(), Catch::Contains("owner alone") && Catch::Contains("chmod 600"));
  CHECK_FALSE(write_key_files(d / "hub", kp.value()).is_ok());  // never overwrites a key
}
