#include <catch2/catch.hpp>

#include "adapters/common/csv.h"
#include "tests/adapters_common/import_helpers.h"
#include "tests/support/temp_dir.h"

using namespace hub::adapters;

TEST_CASE("a quoted cell spanning lines is one field and rows keep their first line", "[adapters][csv]") {
  auto r = csv_reader::open(hub::test::fixture("hxl/libhxl/input-multiline.csv"));
  REQUIRE(r.is_ok());
  auto header = r.value()->next();
  REQUIRE(header);
  CHECK(header->at(0) == "#description");
  auto row = r.value()->next();
  REQUIRE(row);
  CHECK(row->line == 2);
  CHECK(row->end_line == 4);
  CHECK(row->at(0) == "Line 1\nLine 2\nLine 3");
  CHECK_FALSE(r.value()->next());
  CHECK(r.value()->error().is_ok());
}

TEST_CASE("a byte-order mark and CRLF endings do not leak into fields", "[adapters][csv]") {
  hub::test::temp_dir dir("csv");
  hub::test::write_file(dir / "bom.csv", "\xEF\xBB\xBF" "a,b\r\n1,\"x,y\"\r\n");
  auto r = csv_reader::open(dir / "bom.csv");
  REQUIRE(r.is_ok());
  auto h = r.value()->next();
  REQUIRE(h);
  CHECK(h->at(0) == "a");
  auto row = r.value()->next();
  REQUIRE(row);
  CHECK(row->at(1) == "x,y");
  CHECK(row->line == 2);
}

TEST_CASE("a Latin-1 file is refused with its line by default and converted on request", "[adapters][csv]") {
  auto file = hub::test::fixture("hxl/libhxl/input-valid-latin1.csv");
  SECTION("refused") {
    auto r = csv_reader::open(file);
    REQUIRE(r.is_ok());
    while (r.value()->next()) {
    }
    REQUIRE_FALSE(r.value()->error().is_ok());
    CHECK_THAT(r.value()->error().message(), Catch::Contains(":1: not UTF-8") && Catch::Contains("--encoding latin1"));
  }
  SECTION("converted") {
    auto r = csv_reader::open(file, {',', encoding_policy::convert_latin1});
    REQUIRE(r.is_ok());
    auto first = r.value()->next();
    REQUIRE(first);
    CHECK(first->at(0) == "Qu\xC3\xA9?");
    CHECK(r.value()->converted_latin1());
    CHECK(r.value()->first_converted_line() == 1);
  }
}

TEST_CASE("a missing file is reported as not found with its path", "[adapters][csv]") {
  auto r = csv_reader::open("/nonexistent/file.csv");
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.error().code() == hub::errc::not_found);
  CHECK_THAT(r.error().message(), Catch::Contains("/nonexistent/file.csv"));
}
