#include <catch2/catch.hpp>

#include "adapters/common/geo.h"
#include "tests/adapters_common/import_helpers.h"

using namespace hub::adapters;

namespace {
const pcode_table& table() {
  static const pcode_table t = [] {
    auto r = pcode_table::load(hub::test::fixture("reference/pcodes-adm1-adm2-subset.csv"));
    REQUIRE(r.is_ok());
    return std::move(r.value());
  }();
  return t;
}
}  // namespace

TEST_CASE("country codes convert between alpha-2 and alpha-3 and numeric codes and names", "[adapters][geo]") {
  CHECK(alpha3_from_alpha2("lb") == "LBN");
  CHECK(alpha2_from_alpha3("ZMB") == "ZM");
  CHECK(alpha3_from_numeric(140) == "CAF");
  CHECK(country_from_text("Central African Republic") == "CAF");
  CHECK(country_from_text("Panamá") == "PAN");
  CHECK_FALSE(country_from_text("Atlantis"));
  CHECK_FALSE(is_alpha3("XXX"));
}

TEST_CASE("the P-code table behind its byte-order mark resolves codes and names", "[adapters][geo]") {
  const auto& t = table();
  CHECK(t.size() == 928);
  auto* sour = t.by_code("LB63");
  REQUIRE(sour);
  CHECK(sour->name == "Sour");
  CHECK(sour->parent == "LB6");
  CHECK(t.country_of("LB63") == "LBN");
  auto a = t.resolve("CAF", 2, "", "Alindao region", std::nullopt, std::nullopt, "CF61");
  CHECK(a.pcode == "CF612");
  CHECK(a.resolution == hub::schema::GeoResolution::name_match);
  auto b = t.resolve("LBN", 1, "", "Mount_Lebanon");
  CHECK(b.pcode == "LB3");
  auto e = t.resolve("LBN", 2, "LB63", "");
  CHECK(e.resolution == hub::schema::GeoResolution::exact);
  CHECK(e.name == "Sour");
  auto u = t.resolve("LBN", 2, "", "Nowhere");
  CHECK(u.pcode.empty());
  CHECK(u.resolution == hub::schema::GeoResolution::unresolved);
  CHECK(u.name == "Nowhere");
}

TEST_CASE("a table with centroids resolves a point to the nearest area", "[adapters][geo]") {
  hub::test::temp_dir dir("geo");
  hub::test::write_file(dir / "t.csv",
                        "Location,Admin Level,P-Code,Name,Parent P-Code,Latitude,Longitude\n"
                        "SSD,1,SS01,Central Equatoria,SSD,4.85,31.6\n"
                        "SSD,1,SS02,Eastern Equatoria,SSD,4.4,33.6\n");
  auto t = pcode_table::load(dir / "t.csv");
  REQUIRE(t.is_ok());
  auto a = t->resolve("SSD", 1, "", "", 4.9, 31.5);
  CHECK(a.pcode == "SS01");
  CHECK(a.resolution == hub::schema::GeoResolution::point_in_area);
}

TEST_CASE("a P-code table without its columns is refused with the file and line", "[adapters][geo]") {
  hub::test::temp_dir dir("geo");
  hub::test::write_file(dir / "bad.csv", "a,b\n1,2\n");
  auto t = pcode_table::load(dir / "bad.csv");
  REQUIRE_FALSE(t.is_ok());
  CHECK_THAT(t.error().message(), Catch::Contains("bad.csv:1:") && Catch::Contains("P-Code"));
}
