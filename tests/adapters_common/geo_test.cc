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

TEST_CASE("a table with centroids resolves a point to the nearest area and says so", "[adapters][geo]") {
  hub::test::temp_dir dir("geo");
  hub::test::write_file(dir / "t.csv",
                        "Location,Admin Level,P-Code,Name,Parent P-Code,Latitude,Longitude\n"
                        "SSD,1,SS01,Central Equatoria,SSD,4.85,31.6\n"
                        "SSD,1,SS02,Eastern Equatoria,SSD,4.4,33.6\n");
  auto t = pcode_table::load(dir / "t.csv");
  REQUIRE(t.is_ok());
  auto a = t->resolve("SSD", 1, "", "", 4.9, 31.5);
  CHECK(a.pcode == "SS01");
  // Nearest centroid is not a point-in-polygon test: the resolution says which it was.
  CHECK(a.resolution == hub::schema::GeoResolution::nearest_centroid);
  // Too far from every centroid: unresolved.
  CHECK(t->resolve("SSD", 1, "", "", 9.5, 28.0).resolution == hub::schema::GeoResolution::unresolved);
}

TEST_CASE("centroids added to a table without coordinates resolve points within the parent area",
          "[adapters][geo]") {
  hub::test::temp_dir dir("geo");
  hub::test::write_file(dir / "t.csv",
                        "Location,Admin Level,P-Code,Name,Parent P-Code\n"
                        "CAF,1,CF32,Ouham,CAF\nCAF,1,CF31,Ouham Pende,CAF\n"
                        "CAF,2,CF327,Kabo,CF32\nCAF,2,CF311,Bozoum,CF31\n");
  auto t = pcode_table::load(dir / "t.csv");
  REQUIRE(t.is_ok());
  CHECK_FALSE(t->has_coordinates());
  hub::test::write_file(dir / "c.csv", "\xEF\xBB\xBFP-Code,Latitude,Longitude\nCF327,7.79,18.65\nCF311,8.20,18.70\nXX99,1,1\n");
  auto n = t->add_centroids(dir / "c.csv");
  REQUIRE(n.is_ok());
  CHECK(n.value() == 2);  // XX99 is not in the table
  CHECK(t->has_coordinates());
  // Closer to the Bozoum centre, but the record says Ouham: Kabo is the child of CF32.
  CHECK(t->by_point("CAF", 2, 8.22, 18.71)->pcode == "CF311");
  CHECK(t->by_point("CAF", 2, 8.22, 18.71, 75, "CF32")->pcode == "CF327");
  auto a = t->resolve("CAF", 2, "", "", 8.22, 18.71, "CF32");
  CHECK(a.pcode == "CF327");
  CHECK(a.name == "Kabo");
  CHECK(a.resolution == hub::schema::GeoResolution::nearest_centroid);

  hub::test::write_file(dir / "bad.csv", "P-Code,Latitude,Longitude\nCF327,north,18.65\n");
  auto bad = t->add_centroids(dir / "bad.csv");
  REQUIRE_FALSE(bad.is_ok());
  CHECK_THAT(bad.error().message(), Catch::Contains("bad.csv:2:"));
}

TEST_CASE("the shipped centroid table is found and every row names a P-code of the shipped table",
          "[adapters][geo]") {
  auto file = hub::adapters::default_centroid_file();
  REQUIRE(file.has_value());
  auto pcodes = hub::adapters::default_pcode_file();
  REQUIRE(pcodes.has_value());
  auto t = pcode_table::load(*pcodes);
  REQUIRE(t.is_ok());
  auto n = t->add_centroids(*file);
  REQUIRE(n.is_ok());
  CHECK(n.value() == 110);  // 22 admin-1 and 88 admin-2 areas of CAF and BGD
}

TEST_CASE("a P-code table without its columns is refused with the file and line", "[adapters][geo]") {
  hub::test::temp_dir dir("geo");
  hub::test::write_file(dir / "bad.csv", "a,b\n1,2\n");
  auto t = pcode_table::load(dir / "bad.csv");
  REQUIRE_FALSE(t.is_ok());
  CHECK_THAT(t.error().message(), Catch::Contains("bad.csv:1:") && Catch::Contains("P-Code"));
}
