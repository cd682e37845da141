#include <catch2/catch.hpp>

#include "adapters/common/hxl.h"
#include "tests/adapters_common/import_helpers.h"

using namespace hub::adapters;

TEST_CASE("hashtags are read case-insensitively with attributes in any order", "[adapters][hxl]") {
  auto a = parse_hashtag(" #Adm1 +Code ");
  REQUIRE(a);
  CHECK(a->tag == "adm1");
  CHECK(a->attributes == std::vector<std::string>{"code"});
  auto b = parse_hashtag("#org+type+name");
  auto c = parse_hashtag("#org+name+type");
  REQUIRE(b);
  REQUIRE(c);
  CHECK(b->attributes == c->attributes);
  CHECK_FALSE(parse_hashtag("org+name"));
  CHECK_FALSE(parse_hashtag("#"));
}

TEST_CASE("legacy underscore hashtags are read as their modern form", "[adapters][hxl]") {
  auto a = parse_hashtag("#adm1_id");
  REQUIRE(a);
  CHECK(a->tag == "adm1");
  CHECK(a->attributes == std::vector<std::string>{"code"});
  CHECK(a->legacy);
  auto d = parse_hashtag("#period_date");
  REQUIRE(d);
  CHECK(d->tag == "date");
  auto x = parse_hashtag("#x_gem");
  REQUIRE(x);
  CHECK(x->tag == "x_gem");
}

TEST_CASE("the hashtag row is found below any number of title rows", "[adapters][hxl]") {
  auto r = csv_reader::open(hub::test::fixture("hxl/libhxl/input-multiple-headers.csv"));
  REQUIRE(r.is_ok());
  auto h = hxl_columns::read_header(*r.value());
  REQUIRE(h.is_ok());
  CHECK(h->header_line() == 3);
  CHECK(h->find("org") == std::size_t{0});
  CHECK(h->find("adm1") == std::size_t{2});
  CHECK_FALSE(h->find("sector"));
}

TEST_CASE("a sheet without hashtags is refused with a message saying what is missing", "[adapters][hxl]") {
  for (const char* f : {"hxl/libhxl/input-untagged.csv", "hxl/libhxl/input-invalid.csv"}) {
    CAPTURE(f);
    auto r = csv_reader::open(hub::test::fixture(f));
    REQUIRE(r.is_ok());
    auto h = hxl_columns::read_header(*r.value());
    REQUIRE_FALSE(h.is_ok());
    CHECK_THAT(h.error().message(), Catch::Contains("no hashtag row"));
  }
}

TEST_CASE("cells that lack their '#' and repeated hashtags are read and noted", "[adapters][hxl]") {
  auto r = csv_reader::open(hub::test::fixture("hxl/libhxl/input-fuzzy.csv"));
  REQUIRE(r.is_ok());
  auto h = hxl_columns::read_header(*r.value());
  REQUIRE(h.is_ok());
  CHECK(h->find("country") == std::size_t{6});
  std::string notes;
  for (const auto& n : h->notes()) notes += n.text + "\n";
  CHECK_THAT(notes, Catch::Contains("lacks its '#'") && Catch::Contains("repeats column 5"));
}
